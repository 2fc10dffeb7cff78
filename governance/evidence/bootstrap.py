"""Paired bootstrap intervals from merged (sparse) joint counts.

A row-level bootstrap of a metric that depends only on counts draws n rows with replacement; the counts per
(cell x true x baseline pred x candidate pred) of such a draw are exactly a multinomial draw over the merged
combinations. Only combinations that occur can be drawn, so the multinomial runs over those alone: exact,
mergeable (it needs only the merged counts) and thousands of times cheaper than resampling rows. Baseline and
candidate come from the same draw, so the difference's interval is paired. Slices are read from the same global
draw, so their sizes vary as in a row bootstrap.

Vectorised: each block of resamples is one (resamples x combinations) matrix, and every slice's (and class
slice's) confusion sums come from one sparse product with :class:`~.accumulator.SliceIndex`, so class slices cost
no extra pass. The draws are the *same* random stream as the former dense (cell x K x K x K) multinomial under the
same seed (numpy draws nothing for a zero-probability category; the combinations keep the dense order, and a
zero-probability category stands in for the dense last one), so intervals are identical to it, not just equal in
distribution: tests/test_sparse_counts.py checks this against a copy of the dense path.
"""

from __future__ import annotations

import numpy as np

from .accumulator import Accumulator, SliceIndex, SliceRef
from .schema_base import Comparison, Interval

__all__ = ["COUNT_METHOD", "COUNT_METRICS", "METHOD", "SliceRef", "interval", "resample_metrics"]

#: metrics that are functions of the counts alone (ROC AUC and log loss need the scores: replicates.py)
COUNT_METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "selection_rate",
                 "false_positive_rate", "false_negative_rate")
COUNT_METHOD = ("paired percentile bootstrap: multinomial resampling of the (cell x true label x baseline prediction "
                "x candidate prediction) counts, equal in distribution to resampling rows")
METHOD = (f"{COUNT_METHOD}; log_loss and roc_auc: a partition-invariant Poisson bootstrap of the rows "
          "(comparisons.methods says which metric used which)")
_BLOCK_ELEMENTS = 10_000_000  # bounds memory: a block of resamples holds at most about this many numbers
_MAX_BLOCK = 100  # resamples per block


def resample_metrics(acc: Accumulator, slices: dict[str, SliceRef], resamples: int, seed: int
                     ) -> dict[str, dict[str, np.ndarray]]:
    """slice name -> "<role>:<metric>" -> (resamples,) values (NaN where undefined in a resample)."""
    keys, counts = acc.combinations()
    n = int(counts.sum())
    if n == 0 or resamples == 0:
        return {}
    k, span = acc.k, acc.k ** 3
    cell, true, base, cand = acc.decoded()
    rank = np.empty(len(acc.keys), dtype=np.int64)  # draw order independent of arrival order: cells by key
    rank[sorted(range(len(acc.keys)), key=lambda i: acc.keys[i])] = np.arange(len(acc.keys))
    dense_key = rank[cell] * span + keys % span  # the combination's index in the dense (cell, t, b, c) layout
    order = np.argsort(dense_key, kind="stable")
    column = np.empty(len(order), dtype=np.int64)
    column[order] = np.arange(len(order))
    p = counts[order] / n
    if dense_key[order[-1]] != len(acc.keys) * span - 1:  # the dense last category took the remainder: so does this
        p = np.append(p, 0.0)
    mems = [column[acc.members(ref)] for ref in slices.values()]
    index = [SliceIndex(true[order], pred[order], mems, k, acc.positive) for pred in (base, cand)]
    blocks: dict[str, list[np.ndarray]] = {}  # "<role>:<metric>" -> (block, slices) per block
    rng = np.random.default_rng(seed)
    width = len(p) + 6 * max(ix.entries for ix in index)
    block = max(1, min(_MAX_BLOCK, _BLOCK_ELEMENTS // width))
    done = 0
    while done < resamples:
        size = min(block, resamples - done)
        draws = np.ascontiguousarray(rng.multinomial(n, p, size=size)[:, :len(order)].T, dtype=np.float64)
        for role, ix in zip(("baseline", "candidate"), index):
            for metric, values in ix.metrics(draws, transposed=True).items():
                if metric in COUNT_METRICS:
                    blocks.setdefault(f"{role}:{metric}", []).append(values)
        done += size
    table = {key: np.ascontiguousarray(np.concatenate(parts).T) for key, parts in blocks.items()}  # (slices, R)
    return {name: {key: values[s] for key, values in table.items()} for s, name in enumerate(slices)}


def interval(values: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """Percentile interval ignoring resamples where the metric is undefined; None if it never is defined."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    alpha = 1.0 - confidence
    lo, hi = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def compared(b: float | None, c: float | None, draws: dict[str, np.ndarray], metric: str,
             confidence: float) -> Comparison:
    """One metric's paired comparison: the point values, and the percentile intervals of baseline, candidate and
    candidate - baseline from ``draws`` (``baseline:<metric>``/``candidate:<metric>`` per replicate), when given."""
    cis: dict[str, Interval | None] = {}
    if f"baseline:{metric}" in draws:
        vb, vc = draws[f"baseline:{metric}"], draws[f"candidate:{metric}"]
        for label, values in (("baseline_ci", vb), ("candidate_ci", vc), ("difference_ci", vc - vb)):
            ci = interval(values, confidence)
            cis[label] = Interval(ci_low=ci[0], ci_high=ci[1]) if ci else None
    return Comparison(baseline=b, candidate=c, difference=None if b is None or c is None else c - b, **cis)
