"""The Dask engine on a real in-process cluster (inproc transport: no socket is opened, nothing leaves the process):
evidence equal to the local engine's for 1, 2 and 4 workers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from builders import run, same_evidence, write_yaml

from governance.errors import InputError
from governance.evidence.collect import collect
from governance.gate import DASK_ONLY, CheckOptions, _engine
from governance.manifest import load_manifest

distributed = pytest.importorskip("distributed")

from governance.evidence.distributed import (  # noqa: E402 (after the skip: needs the extra)
    DASK_MISSING,
    HASH_MISMATCH,
    NEEDS_PARQUET,
    NO_WORKERS,
    ONE_CLUSTER,
    PREDICTIONS_LOCAL,
    DaskEngine,
    partitions,
)


def _parquet_release(release_dir: Path, tmp_path: Path, row_group: int = 300) -> Path:
    """The conftest release with its 1,500 rows as Parquet in row groups of ``row_group`` (chunks of 400 rows, so
    partitions and chunks do not line up), intervals and ROC AUC on."""
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    table = pa.Table.from_pandas(pd.read_csv(d / "eval.csv"), preserve_index=False)
    pq.write_table(table, d / "eval.parquet", row_group_size=row_group)
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    manifest["data"]["path"] = "eval.parquet"
    # always: the check below compares with library collection, which computes them (no policy to consult)
    manifest["evaluation"] = {"bootstrap": {"resamples": 200, "seed": 7, "score_intervals": "always"},
                              "latency": None, "robustness": None,
                              "broken_examples": 5}
    return write_yaml(d / "release.yaml", manifest)




@pytest.fixture(scope="module")
def parquet_release(release_dir, tmp_path_factory) -> Path:
    return _parquet_release(release_dir, tmp_path_factory.mktemp("dask"))


@pytest.fixture(scope="module")
def local_evidence(parquet_release):
    return collect(load_manifest(parquet_release)).model_dump(mode="json")


def test_evidence_equals_the_local_engine_for_1_2_and_4_workers(parquet_release, local_evidence):
    runs = {}
    for workers in (1, 2, 4):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as cluster:
            engine = DaskEngine(scheduler=cluster.scheduler_address)
            runs[workers] = collect(load_manifest(parquet_release), engine=engine).model_dump(mode="json")
        assert engine.partitions == 5
    for ev in runs.values():
        same_evidence(local_evidence, ev)  # floats summed over rows to 1e-12 (the order of additions differs)
        ev.pop("created_at")
        ev["efficiency"].pop("hardware")
    assert runs[1] == runs[2] == runs[4]  # bit-identical whatever the number of workers: the tree is the partitions'
    dask_evidence = runs[2]
    assert dask_evidence["data"]["rows"] == 1500
    # row-indexed and count-only evidence is bit-identical to the local engine's: broken-flip sample, intervals
    assert dask_evidence["agreement"]["broken_examples"] == local_evidence["agreement"]["broken_examples"]
    assert len(dask_evidence["agreement"]["broken_examples"]) > 0
    for key in ("baseline_ci", "candidate_ci", "difference_ci"):
        assert dask_evidence["comparisons"]["overall"]["accuracy"][key] == \
            local_evidence["comparisons"]["overall"]["accuracy"][key]
    assert dask_evidence["comparisons"]["overall"]["accuracy"]["difference_ci"] is not None


def test_partitions_are_row_groups_with_global_offsets(parquet_release):
    parts = partitions(parquet_release.parent / "eval.parquet")
    assert [(p.row_groups, p.offset, p.rows) for p in parts] == [((i,), 300 * i, 300) for i in range(5)]


def test_a_worker_refuses_a_model_file_that_is_not_the_one_hashed(parquet_release):
    """The workers hash the model file themselves: a copy that differs from the client's never scores a row."""
    from governance.evidence.distributed import ModelPlugin

    plugin = ModelPlugin(str(parquet_release), {"baseline": "0" * 64}, False, "cpu")
    failed = plugin.models()
    assert not isinstance(failed, tuple)
    assert failed.field == "baseline"
    assert failed.message.startswith(HASH_MISMATCH.split("{")[0])


def test_csv_data_is_refused_naming_the_fix(release_dir, tmp_path):
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, pytest.raises(InputError) as info:
        collect(load_manifest(d / "release.yaml"), engine=DaskEngine(scheduler=cluster.scheduler_address))
    assert info.value.field == "data.path"
    assert info.value.message == NEEDS_PARQUET.format(name="eval.csv")


def test_without_the_extra_the_option_is_exit_2_with_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # what Python does when a package is not installed
    with pytest.raises(InputError) as info:
        _engine(CheckOptions(engine="dask"))
    assert info.value.message == DASK_MISSING
    assert "pip install 'pruning-governance[dask]'" in str(info.value)


def test_scheduler_without_the_dask_engine_is_exit_2(parquet_release, tmp_path, capsys):
    code, _, err = run(capsys, "check", str(parquet_release), "--out", str(tmp_path / "out"),
                       "--scheduler", "tcp://127.0.0.1:1")
    assert code == 2
    assert DASK_ONLY in err


def test_cli_check_on_a_cluster_writes_the_local_evidence(parquet_release, local_evidence, tmp_path, capsys):
    """``governance check --engine dask --scheduler ADDR`` end to end: exit code and evidence.json as locally."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        code, out, _ = run(capsys, "check", str(parquet_release), "--out", str(tmp_path / "out"), "--quiet",
                           "--engine", "dask", "--scheduler", cluster.scheduler_address)
    assert code == 0, out
    same_evidence(local_evidence, json.loads((tmp_path / "out" / "evidence.json").read_text()))


def test_the_local_engine_never_imports_dask():
    """dask is an extra: the gate's modules import without it being loaded."""
    code = ("import sys\n"
            "import governance.cli, governance.gate, governance.evidence.collect\n"
            "assert 'distributed' not in sys.modules and 'dask' not in sys.modules, 'dask imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({"scheduler": "tcp://127.0.0.1:8786", "workers": 2}, "--scheduler", ONE_CLUSTER),
    ({"workers": 0}, "--workers", NO_WORKERS),
])
def test_cluster_options_that_cannot_work_are_bad_input(kwargs, field, message):
    with pytest.raises(InputError) as info:
        DaskEngine(**kwargs)
    assert (info.value.field, info.value.message) == (field, message)


def test_a_scheduler_that_does_not_answer_is_bad_input(parquet_release, tmp_path, capsys, monkeypatch):
    """An unreachable --scheduler is the user's address, not a bug: exit 2 naming the option (not exit 3)."""
    import governance.evidence.distributed as engine

    monkeypatch.setattr(engine, "CONNECT_TIMEOUT_S", 1)  # nothing listens on port 1: fail fast
    code, _, err = run(capsys, "check", str(parquet_release), "--out", str(tmp_path / "out"), "--quiet",
                       "--engine", "dask", "--scheduler", "tcp://127.0.0.1:1")
    assert code == 2, err
    assert "--scheduler" in err and "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in err
    assert not (tmp_path / "out").exists()


def _workers_alive(before: set[int], seconds: float = 10.0) -> list[list[str]]:
    """The command lines of this process's live child processes not in ``before``, waited for up to ``seconds``
    (a closed cluster's workers take a moment to exit); Python's multiprocessing resource tracker, which lives as
    long as this interpreter once any process was spawned, is not a worker."""
    import time

    import psutil

    deadline = time.monotonic() + seconds
    while True:
        alive = []
        for p in psutil.Process().children(recursive=True):
            try:
                if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE and \
                        "multiprocessing.resource_tracker" not in " ".join(cmd := p.cmdline()):
                    alive.append(cmd)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


def _children() -> set[int]:
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_a_check_that_fails_after_the_cluster_started_closes_it(parquet_release, tmp_path, monkeypatch):
    """The engine starts its local cluster before the client loads the models (so the start overlaps the client's
    own); a model file the client cannot load, found once the workers are up, is exit 2 as before, and no worker
    process outlives the check."""
    import governance.models as models

    d = tmp_path / "rel"
    shutil.copytree(parquet_release.parent, d)
    (d / "pruned.skops").write_bytes(b"not a skops file")
    before = _children()
    engine = DaskEngine(workers=1)
    load, up = models.load_model, []

    def load_when_the_cluster_is_up(*args, **kwargs):
        engine._ready.result()  # the workers run and hold the models: the client's load fails after that
        up.append(_workers_alive(before, 0))
        return load(*args, **kwargs)

    monkeypatch.setattr(models, "load_model", load_when_the_cluster_is_up)
    with pytest.raises(InputError) as info:
        collect(load_manifest(d / "release.yaml"), engine=engine)
    assert info.value.field == "candidate.path"
    assert up and up[0]  # there was a worker process to close
    assert _workers_alive(before) == []
    assert engine._pool is None and engine._ready is None  # closed: a later check starts afresh


def test_the_models_are_timed_after_the_local_cluster_has_closed(parquet_release, tmp_path, monkeypatch):
    """Latency on: the cluster closes in the background after scoring, but the client waits for it before it times
    the models, so no worker process runs while latency is measured."""
    import governance.evidence.collect as collecting

    d = tmp_path / "rel"
    shutil.copytree(parquet_release.parent, d)
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    manifest["evaluation"]["latency"] = {"batch_sizes": [1], "repeats": 3, "warmup": 1}
    write_yaml(d / "release.yaml", manifest)
    before = _children()
    alive_when_timed = []
    measure = collecting.measure_efficiency

    def timed(*args, **kwargs):
        alive_when_timed.extend(_workers_alive(before, 0))
        return measure(*args, **kwargs)

    monkeypatch.setattr(collecting, "measure_efficiency", timed)
    evidence = collect(load_manifest(d / "release.yaml"), engine=DaskEngine(workers=2))
    assert evidence.data.rows == 1500 and evidence.efficiency.speedup
    assert alive_when_timed == []


def test_one_engine_gates_two_releases_in_turn(parquet_release, local_evidence):
    """start, fold and close leave nothing behind: the same engine object folds a second check like the first."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        engine = DaskEngine(scheduler=cluster.scheduler_address)
        first, second = (collect(load_manifest(parquet_release), engine=engine).model_dump(mode="json")
                         for _ in range(2))
        plugins = cluster.scheduler.worker_plugins
    for ev in (first, second):
        same_evidence(local_evidence, ev)
    assert not [name for name in plugins if name.startswith("pruning-governance-models-")]  # both unregistered


def test_precomputed_predictions_are_refused_before_any_model_loads(parquet_release, tmp_path):
    d = tmp_path / "rel"
    shutil.copytree(parquet_release.parent, d)
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    manifest["candidate"] = {"path": "eval.parquet", "format": "predictions"}
    write_yaml(d / "release.yaml", manifest)
    with pytest.raises(InputError) as info:
        collect(load_manifest(d / "release.yaml"), engine=DaskEngine(workers=1))
    assert (info.value.field, info.value.message) == ("candidate.format", PREDICTIONS_LOCAL)


def test_a_local_cluster_keeps_one_thread_per_worker_without_the_malloc_trim_setting():
    """The check's own local cluster starts its workers without distributed's MALLOC_TRIM_THRESHOLD_ (it makes
    every activation buffer fresh kernel pages) but with its one-thread settings, which the throughput relies on."""
    import os

    import dask

    from governance.evidence.distributed import LOCAL_UNSET

    def environment() -> dict[str, str | None]:
        return {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")}

    with DaskEngine(workers=1)._client() as client:
        seen = list(client.run(environment).values())
    assert LOCAL_UNSET == ("MALLOC_TRIM_THRESHOLD_",)
    assert seen == [{"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}]
    assert dask.config.get("distributed.nanny.pre-spawn-environ")["MALLOC_TRIM_THRESHOLD_"]  # set back after


def test_a_partition_that_raises_is_reported_before_the_other_partitions_finish(parquet_release, monkeypatch):
    """A task that raises (a bug or a dead worker, not bad data) ends the check at once, not after every other
    partition has been scored; here the first partition raises and the other four take 5 s each (20 s in all)."""
    import time

    import governance.evidence.distributed as engine

    fold = engine._fold_partition

    def first_raises(plugin_name, part, *args):
        if part.offset == 0:
            raise RuntimeError("boom on the first partition")
        time.sleep(5)
        return fold(plugin_name, part, *args)

    monkeypatch.setattr(engine, "_fold_partition", first_raises)
    ticks: list[int] = []
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        start = time.monotonic()
        with pytest.raises(RuntimeError, match="boom on the first partition"):
            collect(load_manifest(parquet_release), engine=DaskEngine(scheduler=cluster.scheduler_address),
                    progress=ticks.append)
        assert time.monotonic() - start < 10
    assert ticks == []


def test_a_local_cluster_says_nothing_when_a_dask_dashboard_already_holds_port_8787():
    """The scheduler always serves HTTP; on its default port a running Dask dashboard made distributed warn on
    stderr ('Port 8787 is already in use'). The check's own cluster takes a random local port instead."""
    import socket
    import warnings

    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8787))
        holder.listen()
    except OSError:  # another process holds it already: the same situation
        pass
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with DaskEngine(workers=1)._client() as client:
                assert client.submit(sum, [1, 2], pure=False).result() == 3
        assert not [w for w in seen if "already in use" in str(w.message)]
    finally:
        holder.close()
