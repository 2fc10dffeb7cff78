"""Progress says what the gate is doing: phases in order, the row total when the file states it (Parquet), and in
a CI log one line per phase instead of a bar redrawn in place."""

from __future__ import annotations

import re

import pandas as pd
import yaml
from builders import ProgressRecorder, make_release, run, write_yaml

from governance.data import DataSource
from governance.manifest import load_manifest
from governance.progress import DECIDING, DOCUMENTS, INTERVALS, LOADING, SCORING, TIMING, Phases


def _parquet_release(release_dir, tmp_path):
    manifest = make_release(release_dir, tmp_path)
    pd.read_csv(manifest.parent / "eval.csv").to_parquet(manifest.parent / "eval.parquet")
    m = yaml.safe_load(manifest.read_text())
    m["data"]["path"] = "eval.parquet"
    m.pop("provenance", None)  # the provenance names eval.csv
    return write_yaml(manifest, m)


def test_a_ci_log_gets_one_line_per_phase_with_the_row_total(release_dir, tmp_path, capsys):
    manifest = _parquet_release(release_dir, tmp_path)
    code, out, err = run(capsys, "check", manifest, "--out", tmp_path / "out")
    assert code in (0, 1) and SCORING not in err  # stderr is for warnings and the one-line error of bad input
    phases = [m.group(1) for m in re.finditer(r"^\[ *[\d.]+s\] (.+)$", out, re.M)]
    names = [p.split(" (")[0] if not p.startswith(DOCUMENTS) else DOCUMENTS for p in phases]
    assert names == [LOADING, SCORING, TIMING, INTERVALS, DECIDING, DOCUMENTS]
    rows = len(pd.read_parquet(manifest.parent / "eval.parquet"))
    assert f"{SCORING} ({rows:,} rows)" in phases and f"{TIMING} ({rows:,} rows scored)" in phases


def test_quiet_and_json_print_no_progress(release_dir, tmp_path, capsys):
    for flag in ("--quiet", "--json"):
        code, out, err = run(capsys, "check", _parquet_release(release_dir, tmp_path), "--out", tmp_path / flag,
                             flag)
        assert code in (0, 1) and SCORING not in out + err


def test_the_row_total_comes_from_the_parquet_footer_and_is_unknown_for_csv(release_dir, tmp_path):
    manifest = _parquet_release(release_dir, tmp_path)
    m = load_manifest(manifest).manifest
    parquet = DataSource(manifest.parent / "eval.parquet", m.data, manifest)
    assert parquet.total_rows == len(pd.read_parquet(manifest.parent / "eval.parquet"))
    assert DataSource(manifest.parent / "eval.csv", m.data, manifest).total_rows is None


def test_the_terminal_bar_shows_the_phase_and_the_total():
    from rich.console import Console
    from rich.progress import Progress

    from governance.cli import _Bar

    with Progress(console=Console(force_terminal=True, width=100), transient=True) as progress:
        bar = _Bar(progress)
        assert isinstance(bar, Phases)
        bar.phase(SCORING, 500)
        bar(200)
        shown = [t for t in progress.tasks if t.visible]
        assert [(t.description, t.total, t.completed) for t in shown] == [(SCORING, 500, 200)]
        bar.phase(TIMING)
        assert [(t.description, t.total) for t in progress.tasks if t.visible] == [(TIMING, None)]


def test_the_dask_engine_says_when_it_waits_for_workers_and_counts_rows_a_partition_at_a_time(release_dir,
                                                                                                tmp_path):
    """With --engine dask the wait for the workers is a phase of its own, before scoring, and the rows scored
    climb to the total one partition at a time (the local engine ticks once per chunk)."""
    import pyarrow.parquet as pq
    import pytest

    distributed = pytest.importorskip("distributed")
    from governance.evidence.collect import collect
    from governance.evidence.distributed import DaskEngine
    from governance.progress import WORKERS

    manifest = _parquet_release(release_dir, tmp_path)
    data = pq.read_table(manifest.parent / "eval.parquet")
    pq.write_table(data, manifest.parent / "eval.parquet", row_group_size=400)  # 4 partitions, the last short
    sink = ProgressRecorder()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        collect(load_manifest(manifest), engine=DaskEngine(scheduler=cluster.scheduler_address), progress=sink)
    assert sink.phases[:3] == [WORKERS, SCORING, TIMING]
    assert len(sink.rows) == 4 and sink.rows == sorted(sink.rows) and sink.rows[-1] == data.num_rows
