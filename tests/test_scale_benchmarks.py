"""The scale benchmarks (benchmarks/scale_memory.py, scale_stages.py, scale_workers.py) run end to end at a tiny
size and print the table they promise: real releases in tmp_path, real ``governance check`` processes. The
figures themselves are measured at full size (docs/scale.md, "Benchmarks"); here only that the tables exist."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
ROWS = 3000


def _module(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """benchmarks/NAME.py imported from its file, its release cache moved into ``tmp_path``."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "cache_root", lambda: tmp_path / "cache")
    return module


def _table(out: str) -> tuple[str, list[str]]:
    """The Markdown table's header line and its data rows."""
    lines = [line for line in out.splitlines() if line.startswith("|")]
    assert len(lines) >= 3 and set(lines[1]) <= set("|-: "), out
    return lines[0], lines[2:]


def test_memory_table_prints_rows_wall_peak_and_target(tmp_path, monkeypatch, capsys):
    runs = _module("scale_memory", tmp_path, monkeypatch).memory_table([ROWS], resamples=1, no_auc_row=False)
    out = capsys.readouterr().out
    header, rows = _table(out)
    assert header == "| rows | wall s | peak RSS MB | MB per million rows |"
    assert len(rows) == 1 and rows[0].startswith(f"| {ROWS:,} |")
    assert runs[0]["peak_rss_mb"] > 50  # a whole gate process (numpy, pyarrow, the renderers): never a few MB
    assert "Target: 20,000,000 rows peak under 1,536 MB (1.5 GB): not measured here" in out


def test_stages_table_splits_per_row_and_per_check_costs(tmp_path, monkeypatch, capsys):
    figures = _module("scale_stages", tmp_path, monkeypatch).stages_table(ROWS, resamples=1, with_on=False)
    out = capsys.readouterr().out
    header, rows = _table(out)
    assert header == "| stage | seconds | % of inference |"
    stages = [row.split("|")[1].strip() for row in rows]
    assert stages.index("*per row*") < stages.index("reading (DataSource.chunks)") < stages.index("*per check*")
    assert stages.index("*per check*") < stages.index("PDF (audit report)")
    assert "check, robustness and latency off: CPU (user + sys)" in stages
    assert figures["inference_s"] > 0 and figures["check_off_cpu_s"] > figures["inference_cpu_s"]
    assert "Total overhead (check CPU / inference CPU - 1), robustness and latency off:" in out
    # the plain scoring script really scored (a fresh interpreter: more CPU than the in-process inference alone)
    assert "scoring script: CPU (user + sys)" in stages and figures["scoring_script_cpu_s"] > figures["inference_cpu_s"]
    assert "Overhead over the plain scoring script (check CPU / script CPU - 1)" in out


def test_workers_table_reads_the_scoring_phase_and_one_torch_thread(tmp_path, monkeypatch, capsys):
    runs = _module("scale_workers", tmp_path, monkeypatch).workers_table(ROWS, resamples=1, workers=(1,), repeats=2)
    out = capsys.readouterr().out
    assert "median of 2 interleaved runs" in out
    each = re.search(r"Scoring seconds of each run: 1 worker: ([0-9.]+), ([0-9.]+)\n", out)
    assert each is not None  # both rounds ran, and the table's figure is their median (the mean of two)
    assert runs[0]["scoring_s"] == pytest.approx((float(each[1]) + float(each[2])) / 2, abs=0.06)
    header, rows = _table(out)
    assert header == ("| workers | start-up wait s | scoring s | scoring rows/s | scoring vs 1 | "
                      "start-up + scoring vs 1 | check s | check rows/s | check vs 1 |")
    assert len(rows) == 1 and rows[0].startswith("| 1 |") and "1.00x" in rows[0]
    assert 0 < runs[0]["scoring_s"] < runs[0]["wall_s"]
    assert 0 <= runs[0]["startup_s"] < runs[0]["wall_s"] - runs[0]["scoring_s"]
    assert "torch threads per worker: 1)" in out  # single-threaded workers really are single-threaded


def test_phase_seconds_is_the_gap_to_the_next_phase_line():
    module_path = BENCHMARKS / "scale_workers.py"
    spec = importlib.util.spec_from_file_location("bench_phase_lines", module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    log = ("[   0.0s] loading the models and hashing the inputs\n[   3.1s] starting the Dask workers (each loads "
           "both models)\n[   4.2s] scoring rows (3,000 rows)\n[  10.7s] timing the models\n"
           "[  11.0s] bootstrap intervals\nPASS: the candidate may ship\n")
    assert module.phase_seconds(log) == pytest.approx(6.5)
    assert module.phase_seconds(log, module.STARTUP) == pytest.approx(1.1)
    assert module.phase_seconds("PASS\n") is None


def test_workers_release_keys_its_cache_by_width_and_row_groups(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    module = _module("scale_workers", tmp_path, monkeypatch)
    default = module.workers_release(ROWS, resamples=1, hidden=8)
    split = module.workers_release(ROWS, resamples=1, hidden=8, row_groups=2)
    assert default.name == f"workers-{ROWS}-16x8" and split.name == f"workers-{ROWS}-16x8-2rg"
    assert pq.ParquetFile(default / "eval.parquet").metadata.num_row_groups == module.ROW_GROUPS
    assert pq.ParquetFile(split / "eval.parquet").metadata.num_row_groups == 2  # the partitions the engine gets
    assert pq.ParquetFile(split / "eval.parquet").metadata.num_rows == ROWS
