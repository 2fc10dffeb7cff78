"""Peak memory of a whole ``governance check`` against the rows of the evaluation data (issue 10: memory bound by
the chunk, not by the rows).

    PYTHONPATH=. python benchmarks/scale_memory.py                        # 1M, 5M and 20M rows
    PYTHONPATH=. python benchmarks/scale_memory.py --rows 100000 200000   # a quick look

A binary predictions release, as the issue measured it: both models' scores precomputed in Parquet (one column,
P(positive), every score distinct: the worst case for exact ROC AUC tables), Parquet evaluation data of four
float features, a label and one sensitive column of three values, default evaluation settings (1,000 resamples,
ROC AUC on). The files are written streaming (pyarrow ``ParquetWriter``, row groups of 1M rows), so 20M rows
never sit in this process's memory, into a cache folder under the temporary directory keyed by the row count
(``pruning-governance-bench/memory-ROWS``), reused when present. Each check is its own process; its peak RSS
and CPU time come from ``os.wait4`` (that child's own rusage, not the maximum over every child so far). One more
run at the largest size has ``roc_auc: false``. The last line is the target: 20M rows peak under 1.5 GB.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is not a package
from gate_run import cache_root, measured

ROWS = (1_000_000, 5_000_000, 20_000_000)
#: rows per generated block and per Parquet row group
BLOCK = 1_000_000
FEATURES = ("f0", "f1", "f2", "f3")
GROUPS = ("a", "b", "c")
#: the target (issue 10): 20M rows peak under 1.5 GB
TARGET_ROWS, TARGET_MB = 20_000_000, 1536
POLICY = {
    "name": "scale-memory",
    "rules": [
        {"id": "PERF-001", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.01, "severity": "block"},
        {"id": "FAIR-001", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["group"], "max_drop": 0.03,
         "severity": "block"},
    ],
}


def memory_release(rows: int, resamples: int = 1000) -> Path:
    """The predictions release of ``rows`` rows (written once, then reused); its folder."""
    folder = cache_root() / f"memory-{rows}"
    if not (folder / "release.yaml").is_file():  # written last: a folder without it is an interrupted run
        _write_release(folder, rows)
    for auc in (True, False):  # the manifests are cheap: rewritten for the resamples asked
        (folder / _manifest_name(auc, resamples)).write_text(yaml.safe_dump(_manifest(auc, resamples)))
    return folder


def _manifest_name(roc_auc: bool, resamples: int) -> str:
    return f"release-{resamples}{'' if roc_auc else '-no-auc'}.yaml"


def _manifest(roc_auc: bool, resamples: int) -> dict:
    return {
        "name": "scale-memory", "version": "1", "task": "binary_classification", "positive_label": 1,
        "baseline": {"path": "baseline.parquet", "format": "predictions", "columns": ["p"]},
        "candidate": {"path": "candidate.parquet", "format": "predictions", "columns": ["p"]},
        "data": {"path": "eval.parquet", "target": "label", "sensitive": ["group"]},
        "evaluation": {"roc_auc": roc_auc, "bootstrap": {"resamples": resamples}},
        "policy": "policy.yaml",
    }


def _write_release(folder: Path, rows: int) -> None:
    """Data and both score files streamed block by block (row groups of ``BLOCK`` rows), so memory stays one block."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    data_schema = pa.schema([*(pa.field(f, pa.float64()) for f in FEATURES), pa.field("label", pa.int64()),
                             pa.field("group", pa.string())])
    score_schema = pa.schema([pa.field("p", pa.float64())])
    writers = {"eval": pq.ParquetWriter(partial / "eval.parquet", data_schema),
               "baseline": pq.ParquetWriter(partial / "baseline.parquet", score_schema),
               "candidate": pq.ParquetWriter(partial / "candidate.parquet", score_schema)}
    try:
        for block, start in enumerate(range(0, rows, BLOCK)):
            n = min(BLOCK, rows - start)
            rng = np.random.default_rng([rows, block])
            y = (rng.random(n) < 0.4).astype(np.int64)
            columns = {f: rng.normal(size=n) + (0.5 * y if i == 0 else 0.0) for i, f in enumerate(FEATURES)}
            columns["label"] = y
            columns["group"] = np.array(GROUPS)[rng.choice(len(GROUPS), size=n, p=[0.6, 0.3, 0.1])]
            base = 1.0 / (1.0 + np.exp(-(1.6 * (2 * y - 1) + 1.3 * rng.normal(size=n))))
            cand = np.clip(base + rng.normal(0.0, 0.03, size=n), 0.0, 1.0)
            writers["eval"].write_table(pa.table(columns, schema=data_schema), row_group_size=BLOCK)
            writers["baseline"].write_table(pa.table({"p": base}), row_group_size=BLOCK)
            writers["candidate"].write_table(pa.table({"p": cand}), row_group_size=BLOCK)
    finally:
        for w in writers.values():
            w.close()
    (partial / "policy.yaml").write_text(yaml.safe_dump(POLICY))
    (partial / "release.yaml").write_text(yaml.safe_dump(_manifest(True, 1000)))
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def memory_run(rows: int, roc_auc: bool = True, resamples: int = 1000) -> dict[str, float]:
    """One ``governance check`` of the ``rows``-row release in its own process: wall s, CPU s, peak RSS MB."""
    folder = memory_release(rows, resamples)
    with tempfile.TemporaryDirectory(prefix="scale-memory-") as tmp:
        argv = [sys.executable, "-m", "governance", "check", str(folder / _manifest_name(roc_auc, resamples)),
                "--out", str(Path(tmp) / "out"), "--quiet"]
        return {"rows": rows, "roc_auc": roc_auc, **measured(argv, Path(tmp) / "check.log")}


def memory_table(rows: list[int], resamples: int = 1000, no_auc_row: bool = True) -> list[dict[str, float]]:
    """Print the table: one check per row count, plus one with ``roc_auc: false`` at the largest; the target last."""
    runs = [memory_run(n, True, resamples) for n in rows]
    if no_auc_row:
        runs.append(memory_run(max(rows), False, resamples))
    print(f"### Peak memory of `governance check`: binary predictions release (Parquet), one sensitive column of "
          f"{len(GROUPS)} values, {resamples} resamples\n")
    print("| rows | wall s | peak RSS MB | MB per million rows |")
    print("|---:|---:|---:|---:|")
    for r in runs:
        label = f"{int(r['rows']):,}" + ("" if r["roc_auc"] else " (`roc_auc: false`)")
        print(f"| {label} | {r['wall_s']:.1f} | {r['peak_rss_mb']:.0f} | "
              f"{r['peak_rss_mb'] / (r['rows'] / 1e6):.0f} |")
    at_target = [r for r in runs if r["rows"] == TARGET_ROWS and r["roc_auc"]]
    if at_target:
        peak = at_target[0]["peak_rss_mb"]
        print(f"\nTarget: {TARGET_ROWS:,} rows peak under {TARGET_MB:,} MB (1.5 GB): {peak:,.0f} MB, "
              f"{'met' if peak < TARGET_MB else 'not met'}")
    else:
        print(f"\nTarget: {TARGET_ROWS:,} rows peak under {TARGET_MB:,} MB (1.5 GB): not measured here "
              f"(largest run: {max(rows):,} rows)")
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=list(ROWS))
    ap.add_argument("--resamples", type=int, default=1000)
    args = ap.parse_args()
    memory_table(args.rows, args.resamples)


if __name__ == "__main__":
    main()
