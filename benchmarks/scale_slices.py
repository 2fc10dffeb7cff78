"""Many slices (issue 10, item 2): one sensitive column of 2 ... 20,000 values, and 1 ... 6 columns of 4 values.

    PYTHONPATH=. python benchmarks/scale_slices.py                  # 20,000 rows (tests/test_many_slices.py's size)
    PYTHONPATH=. python benchmarks/scale_slices.py --rows 100000

Each case is a predictions release (no model to score: the slicing and the documents are what is measured) with the
bootstrap, latency and robustness off, and one ``slice_metric_drop`` rule over every sensitive column (``by: ["*"]``,
``min_slice_size: 3``), built as tests/test_many_slices.py builds its releases: binary labels, the baseline right with
p = 0.8 on every row and the candidate equal to it. Several columns form each column and (by default) their full
intersection. Each ``governance check`` runs in its own process: check seconds is its wall time, collection seconds
the time until its "deciding" phase line (reading, slicing, every per-slice metric); then the audit PDF's pages, the
audit HTML's size and evidence.json's size, and check time / the 2-value case's. The last line states the target:
20,000 values and 6 columns in under 2x the 2-value case, with an audit PDF under 25 pages.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pypdf
import yaml

CARDINALITIES = (2, 20, 200, 2_000, 20_000)
COLUMNS = (1, 2, 3, 4, 5, 6)
TARGET_RATIO = 2.0
MAX_PAGES = 25
RULE = {"id": "SLICES", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["*"], "max_drop": 0.3,
        "min_slice_size": 3, "severity": "block"}
EVALUATION = {"bootstrap": {"resamples": 0}, "latency": None, "robustness": None}
_PHASE = re.compile(r"\[\s*([0-9.]+)s\]\s+deciding")


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def release(folder: Path, sensitive: dict[str, np.ndarray], rows: int) -> Path:
    """A predictions release over ``sensitive`` (column -> values per row); returns its manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=rows)
    right = np.where(y == 1, 0.8, 0.2) + rng.uniform(-0.05, 0.05, size=rows)
    pd.DataFrame({"f0": rng.normal(size=rows), **sensitive, "label": y}).to_csv(folder / "eval.csv", index=False)
    for role in ("baseline", "candidate"):
        pd.DataFrame({"p1": right}).to_parquet(folder / f"{role}.parquet")
    _write(folder / "policy.yaml", {"name": "many slices", "rules": [RULE]})
    return _write(folder / "release.yaml", {
        "name": "many-slices", "version": "1", "classes": [0, 1],
        "baseline": {"path": "baseline.parquet", "format": "predictions"},
        "candidate": {"path": "candidate.parquet", "format": "predictions"},
        "data": {"path": "eval.csv", "target": "label", "sensitive": list(sensitive), "chunk_rows": 8192},
        "policy": "policy.yaml", "evaluation": EVALUATION})


def one_column(values: int, rows: int, seed: int = 2) -> dict[str, np.ndarray]:
    names = np.array([f"z{i:05d}" for i in range(values)])
    return {"zip": names[np.random.default_rng(seed).integers(0, values, size=rows)]}


def four_valued(columns: int, rows: int, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"s{i}": rng.choice(["a", "b", "c", "d"], size=rows) for i in range(columns)}


def check(manifest: Path) -> dict[str, float]:
    """One ``governance check`` in its own process: wall and collection seconds, PDF pages, sizes."""
    out = manifest.parent / "out"
    shutil.rmtree(out, ignore_errors=True)  # a fresh folder each time: nothing of an earlier run is replaced
    governance = Path(sys.executable).with_name("governance")
    command = [str(governance), "check", str(manifest), "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"governance check {manifest} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    phase = _PHASE.search(done.stdout + done.stderr)
    return {"check": wall, "collection": float(phase.group(1)) if phase else float("nan"),
            "pages": len(pypdf.PdfReader(out / "audit_report.pdf").pages),
            "html_kb": (out / "audit_report.html").stat().st_size / 1e3,
            "evidence_mb": (out / "evidence.json").stat().st_size / 1e6}


def slices_table(rows: int, repeats: int = 1) -> None:
    """Print the table (the 2-value case first: the others are divided by it); each case's check runs ``repeats``
    times and the fastest counts (on a shared machine the others measure the neighbours)."""
    cases = [(f"1 column, {v:,} values", one_column(v, rows)) for v in CARDINALITIES]
    cases += [(f"{c} column{'s' if c > 1 else ''} of 4 values", four_valued(c, rows)) for c in COLUMNS]
    results = []
    with tempfile.TemporaryDirectory(prefix="pg-slices-") as tmp:
        for i, (name, sensitive) in enumerate(cases):
            manifest = release(Path(tmp) / f"case{i}", sensitive, rows)
            results.append((name, min((check(manifest) for _ in range(max(repeats, 1))), key=lambda r: r["check"])))
    base = results[0][1]["check"]
    print(f"Many slices: predictions releases of {rows:,} rows, bootstrap off, one slice_metric_drop rule on every "
          f"sensitive column (each column and the full intersection)\n")
    print("| sensitive columns | check s | collection s | PDF pages | HTML kB | evidence.json MB | vs 2 values |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results:
        print(f"| {name} | {r['check']:.1f} | {r['collection']:.1f} | {r['pages']:.0f} | {r['html_kb']:.0f} | "
              f"{r['evidence_mb']:.1f} | {r['check'] / base:.2f}x |")
    by_name = dict(results)
    wide, six = by_name[f"1 column, {CARDINALITIES[-1]:,} values"], by_name[f"{COLUMNS[-1]} columns of 4 values"]
    met = all(r["check"] < TARGET_RATIO * base and r["pages"] < MAX_PAGES for r in (wide, six))
    print(f"\nTarget: 20,000 values and 6 columns under {TARGET_RATIO:g}x the 2-value case, PDF under {MAX_PAGES} "
          f"pages: {wide['check'] / base:.2f}x ({wide['pages']:.0f} pages) and {six['check'] / base:.2f}x "
          f"({six['pages']:.0f} pages): {'met' if met else 'NOT met'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=1, help="checks per case, the fastest counts")
    args = ap.parse_args()
    slices_table(args.rows, args.repeats)


if __name__ == "__main__":
    main()
