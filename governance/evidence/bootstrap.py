"""Paired bootstrap intervals from merged cell counts.

A row-level bootstrap of a metric that depends only on counts draws n rows with replacement; the counts
per (cell x true x baseline pred x candidate pred) of such a draw are exactly a multinomial draw over the
merged cells. Drawing that multinomial is exact, mergeable (it needs only the merged counts) and thousands of
times cheaper than resampling rows. Baseline and candidate come from the same draw, so the difference's
interval is paired. Slices are read from the same global draw, so their sizes vary as in a row bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import metrics as M
from .accumulator import Accumulator

#: metrics that are functions of the counts alone (ROC AUC and log loss need the scores: point estimates only)
COUNT_METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "selection_rate",
                 "false_positive_rate", "false_negative_rate")
METHOD = ("paired percentile bootstrap: multinomial resampling of the (cell x true label x baseline prediction x "
          "candidate prediction) counts, equal in distribution to resampling rows; roc_auc and log_loss carry "
          "point estimates only")
_BLOCK_ELEMENTS = 20_000_000  # bounds memory: resamples are drawn in blocks of at most this many counts


@dataclass(frozen=True)
class SliceRef:
    cells: list[int]
    true_class: int | None = None


def resample_metrics(acc: Accumulator, slices: dict[str, SliceRef], resamples: int, seed: int
                     ) -> dict[str, dict[str, np.ndarray]]:
    """slice name -> "<role>:<metric>" -> (resamples,) values (NaN where undefined in a resample)."""
    k = acc.k
    order = sorted(range(len(acc.keys)), key=lambda i: acc.keys[i])  # draw order independent of arrival order
    position = {cell: pos for pos, cell in enumerate(order)}
    flat = acc.counts[order].reshape(-1).astype(np.float64)
    n = int(flat.sum())
    out: dict[str, dict[str, list[np.ndarray]]] = {name: {} for name in slices}
    if n == 0 or resamples == 0:
        return {}
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_ELEMENTS // max(flat.size, 1))
    done = 0
    while done < resamples:
        size = min(block, resamples - done)
        draws = rng.multinomial(n, flat / n, size=size).reshape(size, len(order), k, k, k)
        for name, ref in slices.items():
            sub = draws[:, [position[c] for c in ref.cells]].sum(axis=1)  # (size, K, K, K)
            if ref.true_class is not None:
                only = np.zeros_like(sub)
                only[:, ref.true_class] = sub[:, ref.true_class]
                sub = only
            for role, cms in (("baseline", sub.sum(axis=3)), ("candidate", sub.sum(axis=2))):
                for metric, values in M.confusion_metrics_batch(cms, acc.positive).items():
                    if metric in COUNT_METRICS:
                        out[name].setdefault(f"{role}:{metric}", []).append(values)
        done += size
    return {name: {key: np.concatenate(parts) for key, parts in d.items()} for name, d in out.items()}


def interval(values: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """Percentile interval ignoring resamples where the metric is undefined; None if it never is defined."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    alpha = 1.0 - confidence
    lo, hi = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
