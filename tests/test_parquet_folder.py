"""``data.path`` naming a folder of Parquet files (a dataset): read as one stream in sorted relative-path order by
both engines, the same evidence as the same rows in one file, bad folders refused in one line, and the folder's
digest as documented in docs/dask.md."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from builders import PROVENANCE_RULE, gate, provenance_for, run, same_evidence, write_yaml

from governance.data import DataSource
from governance.dataset import (
    COLUMN_MISSING,
    EMPTY,
    NOT_PARQUET,
    SCHEMA_DIFFERS,
    UNREADABLE,
    folder_sha256,
    list_files,
)
from governance.evidence.collect import collect
from governance.hashing import _DIGESTS, IS_FOLDER, OUTSIDE, digests_reused, file_ref
from governance.manifest import DataSpec, load_manifest

ROWS, PER_FILE, ROW_GROUP = 1500, 500, 250
#: three files of two row groups each; the hive-style folder sorts last, and is a path only, never a column
PARTS = ("part-0.parquet", "part-1.parquet", "year=2024/part-2.parquet")
#: what pyarrow.dataset ignores, and so does the gate: Spark's marker, a checksum file, a hidden folder
IGNORED = ("_SUCCESS", ".part-0.parquet.crc", ".hidden/notes.txt", "_tmp/part-9.parquet")


DOCS = Path(__file__).resolve().parent.parent / "docs" / "dask.md"


def recipe_sha256(folder: Path) -> str:
    """The folder digest by the recipe docs/dask.md gives users: its Python block, run as written."""
    block = re.search(r"```python\n(.*?def folder_sha256.*?)```", DOCS.read_text(), re.S)
    assert block is not None, "docs/dask.md lost the folder digest recipe"
    scope: dict = {}
    exec(block.group(1), scope)  # our own documentation's code
    return scope["folder_sha256"](str(folder))


def _release(release_dir: Path, d: Path, data: str, *, resamples: int = 0) -> Path:
    if not d.exists():
        shutil.copytree(release_dir, d)
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    manifest["data"]["path"] = data
    manifest["evaluation"] = {"bootstrap": {"resamples": resamples, "seed": 7}, "latency": None, "robustness": None,
                              "broken_examples": 5}
    return write_yaml(d / "release.yaml", manifest)


def _folder(table: pa.Table, folder: Path) -> Path:
    for i, name in enumerate(PARTS):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.slice(i * PER_FILE, PER_FILE), folder / name, row_group_size=ROW_GROUP)
    for name in IGNORED:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"not parquet")
    return folder


@pytest.fixture(scope="module")
def table(release_dir) -> pa.Table:
    return pa.Table.from_pandas(pd.read_csv(release_dir / "eval.csv"), preserve_index=False)


@pytest.fixture(scope="module")
def folder_release(release_dir, table, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("folder") / "rel"
    shutil.copytree(release_dir, d)
    _folder(table, d / "evalset")
    return _release(release_dir, d, "evalset", resamples=200)


@pytest.fixture(scope="module")
def folder_evidence(folder_release) -> dict:
    return collect(load_manifest(folder_release)).model_dump(mode="json")


def _without_volatile(ev: dict) -> dict:
    ev = json.loads(json.dumps(ev))
    ev.pop("created_at")
    ev["efficiency"].pop("hardware", None)
    return ev




def test_the_folder_is_listed_in_sorted_order_without_ignored_files(folder_release):
    files = list_files(folder_release.parent / "evalset")
    assert [f.relative for f in files] == list(PARTS)


def test_a_folder_gives_the_evidence_of_the_same_rows_in_one_file(release_dir, table, folder_release,
                                                                 folder_evidence, tmp_path):
    pq.write_table(table, tmp_path / "eval.parquet", row_group_size=400)
    one = collect(load_manifest(_release(release_dir, tmp_path / "one", "../eval.parquet", resamples=200)))
    one_file, folder_evidence = one.model_dump(mode="json"), json.loads(json.dumps(folder_evidence))
    assert folder_evidence["data"]["rows"] == ROWS
    assert len(folder_evidence["agreement"]["broken_examples"]) > 0
    assert folder_evidence["comparisons"]["overall"]["accuracy"]["difference_ci"] is not None
    assert "year" not in folder_evidence["data"]["features"]  # a hive folder name is not a column
    folder_ref, file_ref = folder_evidence["inputs"].pop("data"), one_file["inputs"].pop("data")
    assert folder_ref["path"] == "evalset" and file_ref["path"] == "../eval.parquet"
    assert folder_ref["bytes"] == sum((folder_release.parent / "evalset" / p).stat().st_size for p in PARTS)
    expected = _without_volatile(one_file)
    got = _without_volatile(folder_evidence)
    for ev, ref in ((expected, file_ref), (got, folder_ref)):  # the manifests differ in data.path only
        assert ev["inputs"].pop("manifest")["path"] == "release.yaml"
        assert ev["data"].pop("file") == ref
    assert got == expected  # the same rows in the same order and chunks: bit-identical


def test_the_digest_is_the_documented_recipe_and_provenance_can_declare_it(release_dir, table, tmp_path):
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    _folder(table, d / "evalset")
    digest = recipe_sha256(d / "evalset")
    provenance = provenance_for(d)
    provenance["datasets"]["eval"].update(path="evalset", sha256=digest)
    manifest = _release(release_dir, d, "evalset")
    write_yaml(d / "provenance.yaml", provenance)
    write_yaml(manifest, {**yaml.safe_load(manifest.read_text()), "provenance": "provenance.yaml"})
    findings, evidence = gate(manifest, PROVENANCE_RULE)
    assert evidence.inputs["data"].sha256 == digest
    assert evidence.provenance is not None and evidence.provenance.files["eval"].sha256 == digest
    assert findings[0].status.value == "pass", findings[0].message
    (d / "evalset" / "part-1.parquet").write_bytes((d / "evalset" / "part-0.parquet").read_bytes())  # a file changed
    assert recipe_sha256(d / "evalset") != digest
    findings, _ = gate(manifest, PROVENANCE_RULE)
    assert findings[0].status.value == "fail"


def test_the_dask_engine_over_a_folder_equals_the_local_engine(folder_release, folder_evidence):
    distributed = pytest.importorskip("distributed")
    from governance.evidence.distributed import DaskEngine, partitions

    parts = partitions(folder_release.parent / "evalset")
    assert [(Path(p.path).relative_to(folder_release.parent / "evalset").as_posix(), p.row_groups, p.offset, p.rows)
            for p in parts] == [(name, (g,), i * PER_FILE + g * ROW_GROUP, ROW_GROUP)
                                for i, name in enumerate(PARTS) for g in (0, 1)]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        engine = DaskEngine(scheduler=cluster.scheduler_address)
        dask_evidence = collect(load_manifest(folder_release), engine=engine).model_dump(mode="json")
    assert engine.partitions == 6
    same_evidence(folder_evidence, dask_evidence)
    assert dask_evidence["agreement"]["broken_examples"] == folder_evidence["agreement"]["broken_examples"]
    for key in ("baseline_ci", "candidate_ci", "difference_ci"):
        assert dask_evidence["comparisons"]["overall"]["accuracy"][key] == \
            folder_evidence["comparisons"]["overall"]["accuracy"][key]


def _bad(release_dir: Path, tmp_path: Path, capsys, make) -> tuple[str, Path]:
    """A folder release broken by ``make(folder)``: the check exits 2 with one line, no traceback."""
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    table = pa.Table.from_pandas(pd.read_csv(d / "eval.csv"), preserve_index=False)
    folder = d / "evalset"
    folder.mkdir()
    make(folder, table)
    manifest = _release(release_dir, d, "evalset")
    code, out, err = run(capsys, "check", manifest, "--out", tmp_path / "out", "--quiet")
    assert code == 2, out + err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0], folder


def test_an_empty_folder_is_refused(release_dir, tmp_path, capsys):
    line, folder = _bad(release_dir, tmp_path, capsys, lambda f, t: (f / "_SUCCESS").write_text(""))
    assert "release.yaml: data.path: " in line and EMPTY.format(path=folder) in line


def test_a_file_with_another_schema_is_refused_naming_file_and_column(release_dir, tmp_path, capsys):
    def make(f: Path, t: pa.Table) -> None:
        pq.write_table(t.slice(0, 750), f / "a.parquet")
        pq.write_table(t.slice(750).set_column(0, "x0", pa.array(map(str, t.column("x0").to_pylist()[750:]))),
                       f / "b.parquet")

    line, folder = _bad(release_dir, tmp_path, capsys, make)
    assert str(folder / "b.parquet") in line and "data.path" in line
    assert SCHEMA_DIFFERS.format(column="x0", found="string", expected="double", first="a.parquet") in line


def test_a_file_lacking_a_column_is_refused(release_dir, tmp_path, capsys):
    def make(f: Path, t: pa.Table) -> None:
        pq.write_table(t.slice(0, 750), f / "a.parquet")
        pq.write_table(t.slice(750).drop_columns(["x3"]), f / "b.parquet")

    line, folder = _bad(release_dir, tmp_path, capsys, make)
    assert str(folder / "b.parquet") in line and COLUMN_MISSING.format(column="x3", first="a.parquet") in line


def test_a_symlink_out_of_the_release_folder_is_refused(release_dir, tmp_path, capsys):
    outside = tmp_path / "elsewhere.parquet"

    def make(f: Path, t: pa.Table) -> None:
        pq.write_table(t.slice(0, 750), f / "a.parquet")
        pq.write_table(t.slice(750), outside)
        (f / "b.parquet").symlink_to(outside)

    line, folder = _bad(release_dir, tmp_path, capsys, make)
    assert "data.path" in line
    assert OUTSIDE.format(path=folder / "b.parquet", target=outside.resolve(),
                          root=folder.parent.resolve()) in line


def test_a_corrupt_parquet_file_is_refused_naming_it(release_dir, tmp_path, capsys):
    def make(f: Path, t: pa.Table) -> None:
        pq.write_table(t.slice(0, 750), f / "a.parquet")
        (f / "b.parquet").write_bytes(b"PAR1 this is not a parquet file PAR1")

    line, folder = _bad(release_dir, tmp_path, capsys, make)
    assert str(folder / "b.parquet") in line and "data.path" in line
    assert UNREADABLE.split("{")[0] in line


def test_a_file_that_is_not_parquet_is_refused_naming_it(release_dir, tmp_path, capsys):
    def make(f: Path, t: pa.Table) -> None:
        pq.write_table(t, f / "a.parquet")
        (f / "notes.txt").write_text("hello")

    line, folder = _bad(release_dir, tmp_path, capsys, make)
    assert str(folder / "notes.txt") in line and NOT_PARQUET in line


def test_a_production_folder_is_refused(release_dir, table, tmp_path, capsys):
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    _folder(table, d / "evalset")
    manifest = _release(release_dir, d, "evalset")
    data = yaml.safe_load(manifest.read_text())
    write_yaml(manifest, {**data, "production": {"path": "evalset"}})
    code, _, err = run(capsys, "check", manifest, "--out", tmp_path / "out", "--quiet")
    assert code == 2 and "Traceback" not in err
    assert "production.path" in err and IS_FOLDER.format(path=d / "evalset") in err


def test_each_file_is_hashed_once_per_check_and_verify_sees_a_changed_folder(release_dir, table, tmp_path, capsys):
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    folder = _folder(table, d / "evalset")
    with digests_reused():
        first = folder_sha256(folder)
        assert file_ref(folder, d).sha256 == first  # the provenance hash and the evidence's: the same digests
        held = _DIGESTS.get()
        assert held is not None and len(held) == len(PARTS)  # one sha256 per file, whoever asked
    manifest = _release(release_dir, d, "evalset")
    code, out, err = run(capsys, "check", manifest, "--out", tmp_path / "out", "--quiet")
    assert code in (0, 1), err
    assert run(capsys, "verify", tmp_path / "out")[0] == 0
    (folder / "notes.txt").write_text("not parquet")  # the folder no longer reads as a data folder
    code, out, err = run(capsys, "verify", tmp_path / "out")
    assert code == 1 and f"data ({folder})" in out + err
    (folder / "notes.txt").unlink()
    (folder / PARTS[1]).write_bytes((folder / PARTS[0]).read_bytes())
    code, out, err = run(capsys, "verify", tmp_path / "out")
    assert code == 1 and f"data ({folder}): changed since it was evaluated" in out + err


def test_streaming_a_folder_holds_one_chunk_not_the_files(tmp_path):
    """One file open at a time with ``pre_buffer`` off: peak arrow memory is the same for 2 files as for 16."""
    rng = np.random.default_rng(3)
    n = 32_000
    table = pa.table({**{f"x{i}": rng.normal(size=n) for i in range(6)}, "label": rng.integers(0, 2, n)})
    peaks, offsets = {}, {}
    for files in (2, 16):
        folder = tmp_path / f"f{files}"
        folder.mkdir()
        per = n // files
        for i in range(files):
            pq.write_table(table.slice(i * per, per), folder / f"part-{i:02d}.parquet", row_group_size=1000)
        source = DataSource(folder, DataSpec(path=folder.name, target="label", chunk_rows=1000), tmp_path / "r.yaml")
        assert source.total_rows == n
        pool = pa.default_memory_pool()
        start, peak, seen = pool.bytes_allocated(), 0, []
        for chunk in source.chunks():
            peak = max(peak, pool.bytes_allocated() - start)
            seen.append((chunk.offset, len(chunk)))
            del chunk
        peaks[files], offsets[files] = peak, seen
    assert offsets[2] == offsets[16] == [(k * 1000, 1000) for k in range(n // 1000)]  # continuous global offsets
    assert peaks[16] <= 1.25 * peaks[2]
    assert peaks[16] < table.nbytes / 4  # a few chunks' worth, never the folder


def test_two_threads_of_a_check_hash_a_file_once(tmp_path, monkeypatch):
    """The Dask engine's start thread hashes the models while the client hashes its inputs: a file asked for by
    both at once is read once, the second thread waiting for the first's digest (a model can be gigabytes)."""
    import contextvars
    import hashlib
    import threading
    import time

    import governance.hashing as hashing

    path = tmp_path / "model.bin"
    path.write_bytes(b"weights" * 100_000)
    reads, started = [], threading.Event()
    real = hashing._sha256

    def slow(p, block):
        reads.append(p)
        started.set()
        time.sleep(0.3)  # the other thread asks while this one is still reading
        return real(p, block)

    monkeypatch.setattr(hashing, "_sha256", slow)
    with digests_reused():
        seen = {}
        other = threading.Thread(target=contextvars.copy_context().run,
                                 args=(lambda: seen.setdefault("thread", hashing.sha256_file(path)),))
        other.start()
        started.wait(5)
        mine = hashing.sha256_file(path)
        other.join()
    assert len(reads) == 1
    assert mine == seen["thread"] == hashlib.sha256(path.read_bytes()).hexdigest()
    hashing.sha256_file(path)  # outside a check nothing is kept: read again
    assert len(reads) == 2
