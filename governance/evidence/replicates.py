"""Bootstrap state for the score metrics (log loss, ROC AUC): Poisson-weighted sums per cell, mergeable.

Log loss and ROC AUC are not functions of the (cell x true x prediction) counts, so the multinomial bootstrap of
``bootstrap.py`` cannot give them intervals. Here every row carries the partition-invariant Poisson weights of
:mod:`.poisson` (a function of its global row index, the replicate and the seed), and the accumulator folds, per
replicate:

- log loss: the weighted row count and the weighted sums of -log p(true) of both models, per cell and per true
  class (a slice is a union of cells, a class slice one class), so each replicate's log loss is a ratio of sums;
- ROC AUC: Poisson-weighted histograms of each model's score for the positive class (multiclass: each class, one
  versus rest) on a fixed grid of ``AUC_BINS`` equal bins of [0, 1], split by positives and negatives, per cell.
  A replicate's binned AUC (ties within a bin count half) is centred on the exact point estimate: the replicate
  value is ``exact + (binned_replicate - binned_full)``, so binning moves the interval's spread, not its centre.

Everything is a sum, so ``merge`` is associative and the result does not depend on chunking or partitioning (to
float64 rounding). Memory is replicates x cells x (3 | classes x 4 x bins) numbers; each metric's state is kept
per cell only while it fits ``REPLICATE_BUDGET`` numbers, then overall only (slices' intervals are then missing
and the evidence says why), and not at all if even that does not fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np

from .poisson import Feed, accumulate

if TYPE_CHECKING:
    from .accumulator import SliceRef

__all__ = ["AUC_BINS", "AUC_METHOD", "LOG_LOSS_METHOD", "REPLICATE_BUDGET", "ScoreReplicates"]

AUC_BINS = 256
#: the most float64 numbers one metric's replicate state may hold (128 MiB)
REPLICATE_BUDGET = 1 << 24
LOG_LOSS_METHOD = ("Poisson bootstrap (poisson.METHOD): each replicate's log loss is the ratio of weighted sums of "
                   "-log p(true) and weighted row counts; paired percentile intervals")
AUC_METHOD = (f"Poisson bootstrap (poisson.METHOD) on weighted score histograms ({AUC_BINS} equal bins of [0, 1]; "
              "multiclass: macro one-vs-rest): replicate = exact AUC + (binned replicate AUC - binned AUC of all "
              "rows); paired percentile intervals")
#: why a slice's interval is missing (templates: metric, need, cells, budget)
SLICES_OVER_BUDGET = ("{metric}: per-slice replicate state ({need:,} numbers for {cells:,} cells) is over the budget "
                      "of {budget:,} numbers: only the overall interval (and class slices for log loss) is computed")
ALL_OVER_BUDGET = "{metric}: replicate state ({need:,} numbers) is over the budget of {budget:,} numbers: no interval"
NOT_A_UNION = "{metric}: a class restricted to some cells is not a slice the replicate state keeps"

Scope = Literal["cell", "overall", "off"]
_ORDER: dict[Scope, int] = {"cell": 0, "overall": 1, "off": 2}


class ScoreReplicates:
    """Per-replicate sums for log loss and ROC AUC of a baseline/candidate pair (see the module docstring)."""

    def __init__(self, k: int, auc_classes: list[int], replicates: int, seed: int, *, bins: int = AUC_BINS,
                 budget: int = REPLICATE_BUDGET) -> None:
        self.k, self.auc_classes, self.replicates, self.seed = k, list(auc_classes), replicates, seed
        self.bins, self.budget = bins, budget
        self.width = len(self.auc_classes) * 4 * bins  # [auc class, model, (negatives, positives), bin]
        r = replicates
        self.log_scope: Scope = "cell" if k * 3 * r <= budget else "off"
        self.auc_scope: Scope = "cell" if self.auc_classes and self.width * r <= budget else "off"
        self.log_class = np.zeros((k if self.log_scope != "off" else 0, 3, r))  # [class, (n, base, cand), rep]
        self.log_cell = np.zeros((0, 3, r))  # [cell, (n, base, cand), replicate]
        self.auc = np.zeros((0, self.width, r))  # [cell or 0, slot, replicate]
        self.auc_full = np.zeros((0, self.width))  # [cell or 0, slot]: unweighted, the same scope as ``auc``
        self.cells = 0
        self.notes: dict[str, str] = {}  # metric -> why some or all of its intervals are missing
        if self.log_scope == "off":
            self.notes["log_loss"] = ALL_OVER_BUDGET.format(metric="log_loss", need=k * 3 * r, budget=budget)
        if self.auc_classes and self.auc_scope == "off":
            self.notes["roc_auc"] = ALL_OVER_BUDGET.format(metric="roc_auc", need=self.width * r, budget=budget)

    # -- building ---------------------------------------------------------------------------------
    def grow(self, cells: int) -> None:
        """Make room for ``cells`` cells; a metric whose per-cell state would pass the budget keeps overall only."""
        if cells <= self.cells:
            return
        self.cells = cells
        r = self.replicates
        if self.log_scope == "cell" and (cells + self.k) * 3 * r > self.budget:
            self.log_scope, self.log_cell = "overall", np.zeros((0, 3, r))
            self.notes["log_loss"] = SLICES_OVER_BUDGET.format(metric="log_loss", need=(cells + self.k) * 3 * r,
                                                               cells=cells, budget=self.budget)
        if self.log_scope == "cell":
            self.log_cell = _room(self.log_cell, cells, self.budget // (3 * r) - self.k)
        if self.auc_scope == "cell" and cells * self.width * r > self.budget:
            self.auc_scope, self.auc = "overall", self.auc.sum(axis=0, keepdims=True)
            self.auc_full = self.auc_full.sum(axis=0, keepdims=True)
            self.notes["roc_auc"] = SLICES_OVER_BUDGET.format(metric="roc_auc", need=cells * self.width * r,
                                                              cells=cells, budget=self.budget)
        if self.auc_scope == "cell":
            self.auc = _room(self.auc, cells, self.budget // (self.width * r))
            self.auc_full = _room(self.auc_full, cells, len(self.auc))
        elif self.auc_scope == "overall" and len(self.auc) == 0:
            self.auc, self.auc_full = np.zeros((1, self.width, r)), np.zeros((1, self.width))

    def update(self, first_row: int, cells: np.ndarray, y: np.ndarray, neg_log: tuple[np.ndarray, np.ndarray],
               probas: tuple[np.ndarray, np.ndarray]) -> None:
        """Fold consecutive global rows ``first_row ..``: cell ids, class indices, -log p(true) and (rows, K)
        probabilities per model. All feeds share one draw of the weights."""
        n, r = len(y), self.replicates
        feeds: list[Feed] = []
        if self.log_scope != "off":
            vals = np.column_stack([np.ones(n), neg_log[0], neg_log[1]])
            three = np.arange(3)[None, :]
            feeds.append(Feed(y[:, None] * 3 + three, vals, self.log_class.reshape(-1, r)))
            if self.log_scope == "cell":
                feeds.append(Feed(cells[:, None] * 3 + three, vals, self.log_cell.reshape(-1, r)))
        if self.auc_scope != "off":
            slots = np.empty((n, 2 * len(self.auc_classes)), dtype=np.int64)
            for a, cls in enumerate(self.auc_classes):
                pos = (y == cls).astype(np.int64)
                for m, proba in enumerate(probas):
                    binid = np.minimum((proba[:, cls] * self.bins).astype(np.int64), self.bins - 1)
                    slots[:, 2 * a + m] = ((a * 2 + m) * 2 + pos) * self.bins + np.maximum(binid, 0)
            codes = (cells if self.auc_scope == "cell" else np.zeros_like(cells))[:, None] * self.width + slots
            used = self.cells if self.auc_scope == "cell" else 1
            self.auc_full[:used] += np.bincount(codes.ravel(), minlength=used * self.width).reshape(used, self.width)
            feeds.append(Feed(codes, np.ones(slots.shape), self.auc.reshape(-1, r)))
        if feeds:
            accumulate(first_row, feeds, r, self.seed)

    def merge(self, ids: list[np.ndarray], sources: list[ScoreReplicates], cells: int) -> ScoreReplicates:
        """A new state holding ``sources`` (their cells renumbered by ``ids``) over ``cells`` cells."""
        out = ScoreReplicates(self.k, self.auc_classes, self.replicates, self.seed, bins=self.bins, budget=self.budget)
        out.log_scope = max((s.log_scope for s in sources), key=_ORDER.__getitem__)
        out.auc_scope = max((s.auc_scope for s in sources), key=_ORDER.__getitem__)
        if out.log_scope == "off":
            out.log_class = np.zeros((0, 3, self.replicates))
        for s in sources:
            out.notes.update(s.notes)
        out.grow(cells)  # may narrow the scopes further for the union of the cells
        for idx, src in zip(ids, sources):
            if out.log_scope != "off":
                out.log_class += src.log_class
            used = len(idx)  # the source's arrays may have spare (zero) rows past its cells
            if out.log_scope == "cell":
                out.log_cell[idx] += src.log_cell[:used]
            if out.auc_scope == "cell":
                out.auc[idx] += src.auc[:used]
                out.auc_full[idx] += src.auc_full[:used]
            elif out.auc_scope == "overall":
                out.auc[0] += src.auc.sum(axis=0)
                out.auc_full[0] += src.auc_full.sum(axis=0)
        return out

    # -- reading ----------------------------------------------------------------------------------
    def draws(self, slices: Mapping[str, SliceRef], auc_points: Mapping[str, tuple[float | None, float | None]]
              ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, str]]:
        """slice name -> "<role>:<metric>" -> (replicates,) values (NaN where undefined in a replicate), and
        metric -> why some of its intervals are missing. ``auc_points``: each slice's exact (baseline, candidate)
        ROC AUC, on which the binned replicates are centred."""
        out: dict[str, dict[str, np.ndarray]] = {}
        missing = dict(self.notes)
        for name, ref in slices.items():
            one: dict[str, np.ndarray] = {}
            every = len(set(ref.cells)) == self.cells
            log = self._log(ref, every)
            if log is None and self.log_scope != "off" and ref.true_class is not None:
                missing.setdefault("log_loss", NOT_A_UNION.format(metric="log_loss"))
            if log is not None:
                with np.errstate(invalid="ignore", divide="ignore"):
                    for m, role in enumerate(("baseline", "candidate")):
                        one[f"{role}:log_loss"] = np.where(log[0] > 0, log[m + 1] / log[0], np.nan)
            if ref.true_class is None and (auc := self._auc(ref, every)) is not None:
                reps, full = auc
                for m, role in enumerate(("baseline", "candidate")):
                    point = auc_points.get(name, (None, None))[m]
                    if point is not None and np.isfinite(full[m]):
                        one[f"{role}:roc_auc"] = point + (reps[m] - full[m])
            if one:
                out[name] = one
        return out, missing

    def _log(self, ref: SliceRef, every: bool) -> np.ndarray | None:
        """(3, replicates): weighted count and -log p sums of both models over the slice, or None if not kept."""
        if self.log_scope == "off":
            return None
        if ref.true_class is not None:
            return self.log_class[ref.true_class] if every else None
        if every:
            return self.log_class.sum(axis=0)
        return self.log_cell[list(ref.cells)].sum(axis=0) if self.log_scope == "cell" else None

    def _auc(self, ref: SliceRef, every: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """Binned AUC per model: (2, replicates) and (2,) of all rows unweighted, or None if not kept."""
        if self.auc_scope == "off" or (self.auc_scope == "overall" and not every):
            return None
        cells = list(ref.cells)
        if self.auc_scope == "overall":
            hist, full = self.auc[0], self.auc_full[0]
        else:
            hist, full = self.auc[cells].sum(axis=0), self.auc_full[cells].sum(axis=0)
        shape = (len(self.auc_classes), 2, 2, self.bins)
        return _binned_auc(hist.reshape(*shape, -1)), _binned_auc(full.reshape(*shape, 1))[:, 0]


def _room(a: np.ndarray, rows: int, most: int) -> np.ndarray:
    """``a`` with at least ``rows`` rows (new ones zero), growing by doubling up to ``most`` so that cells arriving
    one chunk at a time cost amortised copies; rows past the cells in use stay zero."""
    if len(a) >= rows:
        return a
    grown = np.zeros((max(rows, min(2 * len(a), most)), *a.shape[1:]))
    grown[:len(a)] = a
    return grown


def _binned_auc(hist: np.ndarray) -> np.ndarray:
    """(classes, models, (neg, pos), bins, R) -> (models, R): P(score+ > score-) + 0.5 P(same bin), averaged
    over classes (macro one-vs-rest; NaN if any class lacks positives or negatives)."""
    neg, pos = hist[:, :, 0], hist[:, :, 1]
    below = np.cumsum(neg, axis=2) - neg
    num = (pos * (below + 0.5 * neg)).sum(axis=2)
    n_pos, n_neg = pos.sum(axis=2), neg.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = np.where((n_pos > 0) & (n_neg > 0), num / (n_pos * n_neg), np.nan)
    return auc.mean(axis=0)
