"""Evidence at scale (issue 10): one function per table, each printing one Markdown table.

    PYTHONPATH=. python benchmarks/scale.py                           # every table, at the issue's sizes
    PYTHONPATH=. python benchmarks/scale.py --table classes --rows 100000

``classes``: K in {2, 10, 100, 1000} classes on the same rows (default 1,000,000) and 3 groups, with the default
1000 resamples. Synthetic, seeded: labels uniform over K, the baseline right 80% of the time (else a uniform
class), the candidate agreeing with it 95% of the time. Each K runs in its own process so its peak RSS is its
own. Columns: fold (both models' probabilities into the accumulator, chunks of 8,192 rows, the probabilities
generated per chunk and not timed), point (every metric of overall, group and class slices, both models),
bootstrap (1000 resamples of every slice and class slice), the occurring joint combinations, and peak RSS. The
last lines state the ratios the issue targets: K=100 / K=2 total time (<= 4x) and K=1000 peak RSS (< 2 GB).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from governance.evidence.accumulator import Accumulator, SliceRef
from governance.evidence.bootstrap import resample_metrics

CLASSES = (2, 10, 100, 1000)
GROUPS = 3
CHUNK = 8192


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _smoothed(pred: np.ndarray, k: int, conf: np.ndarray) -> np.ndarray:
    """Probabilities whose top class is ``pred`` with confidence ``conf``, the rest spread evenly."""
    p = np.repeat(((1 - conf) / (k - 1))[:, None], k, axis=1)
    p[np.arange(len(pred)), pred] = conf
    return p


def classes_run(k: int, rows: int, resamples: int, seed: int = 0) -> dict[str, float]:
    """Fold, point metrics and bootstrap for one K: seconds per stage, combinations, peak RSS (MB)."""
    rng = np.random.default_rng(seed)
    acc = Accumulator(k, 1 if k == 2 else None, roc_auc=False)
    ids = acc.cell_ids([(f"g{i}",) for i in range(GROUPS)])
    fold = 0.0
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        y = rng.integers(0, k, n)
        base = np.where(rng.random(n) < 0.8, y, rng.integers(0, k, n))
        cand = np.where(rng.random(n) < 0.95, base, rng.integers(0, k, n))
        pb, pc = _smoothed(base, k, rng.uniform(0.5, 1.0, n)), _smoothed(cand, k, rng.uniform(0.5, 1.0, n))
        cells = ids[rng.integers(0, GROUPS, n)]
        t = time.perf_counter()
        acc.update(cells, y, pb, pc, rows=start + np.arange(n))
        fold += time.perf_counter() - t
    everything = list(range(GROUPS))
    slices = {"overall": SliceRef(everything), **{f"g{i}": SliceRef([i]) for i in range(GROUPS)},
              **{f"class {j}": SliceRef(everything, j) for j in range(k)}}
    t = time.perf_counter()
    for model in (0, 1):  # as collect does: one batch per dimension
        acc.metrics_many({"overall": slices["overall"]}, model)
        acc.metrics_many({name: ref for name, ref in slices.items() if name.startswith("g")}, model)
        acc.metrics_many({name: ref for name, ref in slices.items() if name.startswith("class")}, model)
    point = time.perf_counter() - t
    t = time.perf_counter()
    resample_metrics(acc, slices, resamples, seed=0)
    boot = time.perf_counter() - t
    return {"k": k, "fold_s": fold, "point_s": point, "bootstrap_s": boot,
            "combinations": len(acc.combinations()[0]), "peak_rss_mb": _peak_rss_mb()}


def classes_table(rows: int, resamples: int, ks: tuple[int, ...] = CLASSES) -> list[dict[str, float]]:
    """One process per K (so peak RSS is per K); prints the table and the two target ratios."""
    results = []
    for k in ks:
        out = subprocess.run([sys.executable, __file__, "--one-k", str(k), "--rows", str(rows),
                              "--resamples", str(resamples)], check=True, capture_output=True, text=True,
                             env=None, cwd=Path(__file__).resolve().parent.parent)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"### Classes: {rows:,} rows, {GROUPS} groups, {resamples} resamples\n")
    print("| K | fold s | point metrics s | bootstrap s | total s | combinations | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        total = r["fold_s"] + r["point_s"] + r["bootstrap_s"]
        print(f"| {r['k']} | {r['fold_s']:.2f} | {r['point_s']:.2f} | {r['bootstrap_s']:.2f} | {total:.2f} | "
              f"{r['combinations']:,} | {r['peak_rss_mb']:.0f} |")
    by_k = {r["k"]: r for r in results}
    if 2 in by_k and 100 in by_k:
        def total(r: dict[str, float]) -> float:
            return r["fold_s"] + r["point_s"] + r["bootstrap_s"]
        print(f"\nK=100 / K=2 total time: {total(by_k[100]) / total(by_k[2]):.1f}x (target <= 4x)")
    if 1000 in by_k:
        print(f"K=1000 peak RSS: {by_k[1000]['peak_rss_mb']:.0f} MB (target < 2048 MB)")
    return results


TABLES = {"classes": lambda a: classes_table(a.rows, a.resamples)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", choices=sorted(TABLES), action="append", help="which table(s); default: all")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--one-k", type=int, help=argparse.SUPPRESS)  # internal: one K in its own process
    args = ap.parse_args()
    if args.one_k is not None:
        print(json.dumps(classes_run(args.one_k, args.rows, args.resamples)))
        return
    for name in args.table or sorted(TABLES):
        TABLES[name](args)


if __name__ == "__main__":
    main()
