"""The Poisson bootstrap's cost: partition-invariant weighted sums, rows x replicates x columns -> seconds.

    python benchmarks/poisson.py                       # 1,000,000 rows, 1000 replicates
    python benchmarks/poisson.py --rows 100000 --replicates 200

Prints one Markdown table. "MAE-like" is one float column (absolute errors) summed per replicate, the core of a
regression interval; the other rows add columns, cells (slices; a sparse product), the weights alone, and the
whole log loss + ROC AUC replicate state that classification evidence folds (binary, 6 cells, 65,536-row chunks).
The issue's target: 1M rows x 1000 replicates of MAE under 3 s here.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from governance.evidence import poisson as P
from governance.evidence.accumulator import Accumulator


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--chunk", type=int, default=65536)
    args = ap.parse_args()
    n, r = args.rows, args.replicates
    rng = np.random.default_rng(0)
    err = np.abs(rng.normal(size=n))
    three = np.column_stack([np.ones(n), err, np.abs(rng.normal(size=n))])
    cells = rng.integers(0, 20, size=n)

    def chunked(values: np.ndarray, codes: np.ndarray | None, n_cells: int) -> None:
        for s in range(0, n, args.chunk):
            part = slice(s, s + args.chunk)
            P.replicate_sums(s, values[part], None if codes is None else codes[part], n_cells, r, seed=1)

    def score_state() -> None:
        y = rng.integers(0, 2, size=n)
        pb = np.clip(np.where(y == 1, 0.7, 0.3) + rng.normal(0, 0.25, n), 0, 1)
        pc = np.clip(pb + rng.normal(0, 0.1, n), 0, 1)
        acc = Accumulator(2, 1, replicates=r, seed=1)
        ids = acc.cell_ids([(str(i),) for i in range(6)])
        six = ids[cells % 6]
        for s in range(0, n, args.chunk):
            part = slice(s, s + args.chunk)
            acc.update(six[part], y[part], np.column_stack([1 - pb[part], pb[part]]),
                       np.column_stack([1 - pc[part], pc[part]]), rows=np.arange(s, min(n, s + args.chunk)))

    cases = [
        ("MAE-like: 1 column, 1 cell, one call", 1, lambda: P.replicate_sums(0, err, None, 1, r, seed=1)),
        (f"1 column, 1 cell, {args.chunk:,}-row chunks", 1, lambda: chunked(err[:, None], None, 1)),
        ("3 columns (count, 2 models), 1 cell", 3, lambda: chunked(three, None, 1)),
        ("3 columns, 20 cells (sparse)", 3, lambda: chunked(three, cells, 20)),
        ("weights alone (uint8, replicates x rows)", 0, lambda: P.weights(0, n, r, seed=1)),
        ("log loss + ROC AUC state (binary, 6 cells)", 3, score_state),
    ]
    print(f"Poisson bootstrap, {n:,} rows x {r:,} replicates\n")
    print("| what | rows | replicates | columns | seconds |")
    print("|---|---:|---:|---:|---:|")
    for name, columns, fn in cases:
        print(f"| {name} | {n:,} | {r:,} | {columns} | {_time(fn):.2f} |")


if __name__ == "__main__":
    main()
