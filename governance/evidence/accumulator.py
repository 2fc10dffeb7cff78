"""Mergeable sufficient statistics for a baseline/candidate evaluation.

Every row lands in a *cell*: one combination of sensitive values (the finest slice). The joint counts of
(cell, true, baseline pred, candidate pred) are kept *sparse*: only the combinations that occur, as sorted int64
keys with their counts, so 1,000 classes cost what their non-zero combinations cost, not K**3 per cell. Per cell we
also keep the sums of -log p(true) per model and true class, calibration bin sums, and, for ROC AUC, exact
(score -> positives, negatives) tables. Every slice is a union of cells (optionally restricted to one true class),
so every per-slice metric, and every bootstrap resample, is computed from merged counts, never from a second pass
over rows: :func:`slice_metrics` turns a (resamples x combinations) weight matrix into many slices' metrics with one
sparse indicator product (scipy.sparse). ``merge`` is associative, which lets the same code fold chunks on one
machine or partitions of a distributed engine.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import metrics as M
from .replicates import REPLICATE_BUDGET, ScoreReplicates

Table = tuple[np.ndarray, np.ndarray, np.ndarray]
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_MAX_KEY = 2**62  # combined keys (cell, true, base, cand) must stay below this to fit int64 arithmetic
TOO_MANY_KEYS = "{cells} cells x {k}**3 class combinations do not fit a 64-bit key"
#: distinct (score, table) entries the exact ROC AUC tables may hold, over all tables (about 24 bytes each: ~100 MB);
#: past it every table is binned on ``metrics.AUC_GRID`` (``evaluation.roc_auc_exact_budget``)
AUC_EXACT_BUDGET = 4_000_000
#: binned counts are kept dense (int32 positives and negatives per slot, 8 bytes) while cells x 2 models x AUC classes
#: x AUC_GRID_BINS slots fit this (at most 256 MiB) and fewer than 2**31 rows are folded; sparse (sorted keys) past it
AUC_DENSE_SLOTS = 1 << 25
_BIN_BATCH = 1 << 22  # (row, class) scores quantised at once when binned: bounds the fold's temporaries (~32 MB each)
_BIN_LOCAL = 1 << 17  # slots one block of classes counts into (1 MiB: the bincount's random writes stay in cache)
#: evidence.warnings when ROC AUC is binned (template: bins, budget, baseline, candidate)
AUC_BINNED_WARNING = ("ROC AUC is binned on a grid of {bins:,} scores: the exact score tables passed "
                      "evaluation.roc_auc_exact_budget ({budget:,} entries); the reported overall ROC AUC is within "
                      "{baseline} (baseline) and {candidate} (candidate) of the exact value (models.*.roc_auc_binned)")


@dataclass(frozen=True)
class SliceRef:
    """A slice: the union of ``cells`` (global cell ids), restricted to rows of ``true_class`` if given."""

    cells: list[int]
    true_class: int | None = None


def row_priority(rows: np.ndarray, seed: int) -> np.ndarray:
    """A pseudo-random key per global row index (splitmix64): keeping the smallest keys is a uniform sample
    that does not depend on chunking or merge order."""
    with np.errstate(over="ignore"):
        z = rows.astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))




def ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(lo[i], hi[i])`` for every i, without a Python loop."""
    lengths = np.maximum(hi - lo, 0)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) - np.repeat(starts - lo, lengths)


#: the exact slice AUCs sum products of counts in int64: below this many (doubled) pairs over a batch of slices
EXACT_PAIRS = 2**62


def by_cell_then_score(cells: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """An order of the rows by (cell, score): numpy's vectorised quicksort of the scores, then a stable radix sort
    of the cells (16-bit ids), five times ``np.lexsort``. Rows equal in both come in any order (callers merge
    them)."""
    if len(cells) == 0 or int(cells.max()) >= 2**15 or int(cells.min()) < 0:
        return np.lexsort((scores, cells))
    order = np.argsort(scores)
    return order[np.argsort(cells[order].astype(np.int16), kind="stable")]


def compact_by_cell(cells: np.ndarray, scores: np.ndarray, is_pos: np.ndarray) -> tuple[np.ndarray, list[Table]]:
    """The chunk's distinct cells (ascending) and, for each, :func:`metrics.compact_scores` of its rows, from one
    sort by (cell, score) instead of one ``np.unique`` per cell (20,000 cells: 20,000 calls per chunk, model and
    class). The tables are equal, array for array."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    if np.isnan(s).any():
        raise ValueError("scores contain NaN; ROC AUC is undefined")
    cells = np.asarray(cells, dtype=np.int64).ravel()
    if len(cells) == 0:
        return np.zeros(0, dtype=np.int64), []
    order = by_cell_then_score(cells, s)
    c, s, y = cells[order], s[order], np.asarray(is_pos, dtype=bool).ravel()[order]
    first = np.ones(len(c), dtype=bool)
    first[1:] = (c[1:] != c[:-1]) | (s[1:] != s[:-1])
    entry = np.cumsum(first) - 1
    pos = np.bincount(entry[y], minlength=int(entry[-1]) + 1).astype(np.int64)
    neg = np.bincount(entry[~y], minlength=int(entry[-1]) + 1).astype(np.int64)
    score, owner = s[first], c[first]
    bounds = np.concatenate([[0], np.flatnonzero(owner[1:] != owner[:-1]) + 1, [len(owner)]])
    tables = [(score[a:b], pos[a:b], neg[a:b]) for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]
    return owner[bounds[:-1]], tables


def intern_cells(index: dict[tuple[str, ...], int], known: list[tuple[str, ...]],
                 keys: Sequence[tuple[str, ...]]) -> np.ndarray:
    """The cell id of each key, adding unseen keys to ``known`` (and ``index``, key -> position in it)."""
    found = [index.get(key) for key in keys]  # one dict lookup per distinct key; new keys in order of appearance
    for i in [i for i, cid in enumerate(found) if cid is None]:
        key = keys[i]
        cid = index.get(key)  # a key repeated among the new ones
        if cid is None:
            cid = index[key] = len(known)
            known.append(key)
        found[i] = cid
    return np.array(found, dtype=np.int64).reshape(len(keys))


def distinct_cells(columns: Sequence[tuple[np.ndarray, list[str]]],
                   rows: int) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """The distinct cells (tuples of sensitive values) of a chunk and each row's position among them, from the
    dictionary-encoded sensitive columns (codes, values); no columns: one cell, ``()``, for every row."""
    if not columns:
        return [()], np.zeros(rows, dtype=np.int64)
    sizes = [max(len(values), 1) for _, values in columns]
    if float(np.prod(sizes, dtype=np.float64)) < 2**62:  # one integer per combination: a fast unique
        combined = np.zeros(rows, dtype=np.int64)
        for (codes, _), size in zip(columns, sizes):
            combined = combined * size + codes
        uniq, inverse = np.unique(combined, return_inverse=True)
        digits = []
        for size in reversed(sizes):
            digits.append(uniq % size)
            uniq = uniq // size
        parts = np.stack(digits[::-1], axis=1)
    else:
        parts, inverse = np.unique(np.stack([c for c, _ in columns], axis=1), axis=0, return_inverse=True)
    named = [np.asarray(values, dtype=object)[parts[:, j]].tolist() for j, (_, values) in enumerate(columns)]
    return list(zip(*named)), inverse.reshape(-1)


def slice_cells(keys: Sequence[tuple[str, ...]], dims: dict[str, list[int]]) -> dict[str, dict[str, list[int]]]:
    """dimension -> slice value -> its cells (an intersection's value joins the columns' values with ' & ')."""
    out: dict[str, dict[str, list[int]]] = {}
    for name, cols in dims.items():
        groups: dict[str, list[int]] = {}
        for cid, key in enumerate(keys):
            groups.setdefault(" & ".join(key[i] for i in cols), []).append(cid)
        out[name] = dict(sorted(groups.items()))
    return out


class SliceIndex:
    """Sparse indicators that turn weights per combination into each slice's per-class confusion sums.

    For every slice s and class j that occurs in it (as a true or a predicted label) there is one *entry*; one sparse
    (combinations x 3 entries) matrix gives, for a whole block of resamples at once, the rows truly of j (T), predicted
    as j (P) and both (G) per entry. Every label metric is a function of those sums, so slices and class slices cost
    one product, not one pass each, and no dense K x K matrix is ever formed.
    """

    def __init__(self, true: np.ndarray, pred: np.ndarray, members: Sequence[np.ndarray], k: int,
                 positive: int | None, *, flat: tuple[np.ndarray, np.ndarray, int] | None = None) -> None:
        """``members``: each slice's combination indices; or ``flat``: their concatenation, each index's slice and
        the number of slices (what :meth:`Accumulator.members_many` gives, without a list of thousands of arrays)."""
        if flat is not None:
            combo, owner, self.slices = flat
        else:
            self.slices = len(members)
            lengths = np.array([len(m) for m in members], dtype=np.int64)
            combo = np.concatenate([np.asarray(m, dtype=np.int64) for m in [np.zeros(0, np.int64), *members]])
            owner = np.repeat(np.arange(self.slices, dtype=np.int64), lengths)
        self.k, self.positive = k, positive
        t, p = true[combo], pred[combo]
        entries, inverse = np.unique(np.concatenate([owner * k + t, owner * k + p]), return_inverse=True)
        inverse = inverse.reshape(-1)
        e, m = len(entries), len(combo)
        et, ep, diag = inverse[:m], inverse[m:], t == p
        rows = np.concatenate([combo, combo, combo[diag]])
        cols = np.concatenate([et, e + ep, 2 * e + et[diag]])
        width = int(true.shape[0])
        self.entries = e
        # stored transposed (3E x C, CSR) so that a (C x B) block of weights is one sparse-dense product
        self._indicator = sp.csr_matrix((np.ones(len(rows)), (cols, rows)), shape=(3 * e, width))
        self.entry_slice, self.entry_class = entries // k, entries % k
        self._starts = np.searchsorted(self.entry_slice, np.arange(self.slices))
        self._filled = np.flatnonzero(np.bincount(self.entry_slice, minlength=self.slices) > 0)
        if positive is not None:
            at_pos = np.flatnonzero(self.entry_class == positive)
            self._pos_entry, self._pos_slice = at_pos, self.entry_slice[at_pos]

    def _per_slice(self, x: np.ndarray) -> np.ndarray:
        """(B, E) per entry -> (B, S) summed per slice."""
        out = np.zeros((x.shape[0], self.slices))
        if len(self._filled):
            out[:, self._filled] = np.add.reduceat(x, self._starts[self._filled], axis=1)
        return out

    def metrics(self, weights: np.ndarray, *, transposed: bool = False) -> dict[str, np.ndarray]:
        """``weights`` (B, combinations), or (combinations, B) if ``transposed``, -> metric -> (B, S): what
        :func:`metrics.confusion_metrics_batch` gives on each slice's confusion matrix (NaN = undefined), with the
        same formulas."""
        columns = np.ascontiguousarray(weights if transposed else weights.T, dtype=np.float64)  # (C, B)
        b, e = columns.shape[1], self.entries
        sums = np.asarray(self._indicator @ columns).T  # (B, 3E)
        tr, pr, gd = sums[:, :e], sums[:, e:2 * e], sums[:, 2 * e:]
        n = self._per_slice(tr)
        empty = n == 0
        out: dict[str, np.ndarray] = {}
        out["accuracy"] = np.where(empty, np.nan, self._per_slice(gd) / np.where(empty, 1.0, n))
        has_true = tr > 0
        recall = M._div0(gd, tr)
        n_true = self._per_slice(has_true.astype(np.float64))
        out["balanced_accuracy"] = np.where(n_true == 0, np.nan,
                                            self._per_slice(recall * has_true) / np.maximum(n_true, 1))
        if self.positive is None:
            present = (tr + pr) > 0
            m = np.maximum(self._per_slice(present.astype(np.float64)), 1)
            for key, values in (("precision", M._div0(gd, pr)), ("recall", recall),
                                ("f1", M._div0(2.0 * gd, tr + pr))):
                out[key] = np.where(empty, np.nan, self._per_slice(values * present) / m)
            nan = np.full((b, self.slices), np.nan)
            for key in ("selection_rate", "true_positive_rate", "false_negative_rate", "false_positive_rate"):
                out[key] = nan
            return out
        tp, true_pos, pred_pos = (np.zeros((b, self.slices)) for _ in range(3))
        for dest, src in ((tp, gd), (true_pos, tr), (pred_pos, pr)):
            dest[:, self._pos_slice] = src[:, self._pos_entry]
        fn, fp = true_pos - tp, pred_pos - tp
        tn = n - tp - fn - fp
        rates = {
            "precision": M._div0(tp, tp + fp),
            "recall": M._div0(tp, tp + fn),
            "f1": M._div0(2.0 * tp, 2 * tp + fp + fn),
            "selection_rate": M._div0(tp + fp, n),
            "true_positive_rate": M._div0(tp, tp + fn),
            "false_negative_rate": M._div0(fn, tp + fn),
            "false_positive_rate": M._div0(fp, fp + tn),
        }
        for key, values in rates.items():
            out[key] = np.where(empty, np.nan, values)
        return out


@dataclass(frozen=True)
class _Ranked:
    """One (model, class)'s tables of every cell end to end (cell ``i``'s ``sizes[i]`` entries at ``starts[i]``) and
    each entry's rank among the ``distinct`` scores of all cells."""

    score: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    sizes: np.ndarray
    rank: np.ndarray
    distinct: int

    @property
    def starts(self) -> np.ndarray:
        return np.cumsum(self.sizes) - self.sizes


class Accumulator:
    def __init__(self, n_classes: int, positive: int | None, *, roc_auc: bool = True, bins: int = 15,
                 examples: int = 20, seed: int = 0, replicates: int = 0,
                 replicate_budget: int = REPLICATE_BUDGET, auc_budget: int = AUC_EXACT_BUDGET) -> None:
        self.k = n_classes
        self.positive = positive  # binary: index of the positive class; multiclass: None
        self.roc_auc = roc_auc  # exact AUC keeps a table of distinct scores per cell; off bounds memory
        self.auc_classes = ([positive] if positive is not None else list(range(n_classes))) if roc_auc else []
        self.bins, self.examples, self.seed = bins, examples, seed
        self.edges = np.linspace(0.0, 1.0, bins + 1)
        self.keys: list[tuple[str, ...]] = []
        self._index: dict[tuple[str, ...], int] = {}
        # joint counts: sorted distinct keys ((cell * K + true) * K + base) * K + cand and their counts, plus
        # folded chunks not yet merged in (merged when read, or when they outgrow the merged part)
        self._combo_keys = np.zeros(0, dtype=np.int64)
        self._combo_counts = np.zeros(0, dtype=np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_size = 0
        self._decoded: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self.neg_log = np.zeros((0, 2, self.k), dtype=np.float64)  # [cell, model, true class]
        self.cal = np.zeros((0, 2, 3, bins), dtype=np.float64)  # [cell, model, (count, score sum, hit sum), bin]
        self.brier = np.zeros((0, 2), dtype=np.float64)
        # scores[model][class][cell] -> compact tables not yet merged (merged once, when read), while exact
        self.scores: list[dict[int, list[list[Table]]]] = [{c: [] for c in self.auc_classes} for _ in range(2)]
        # exact until the tables' distinct entries pass auc_budget, then binned (metrics.AUC_GRID) for good
        self.auc_budget, self.auc_binned = auc_budget, False
        self._auc_entries = 0  # entries in the exact tables (an upper bound of the distinct ones until compacted)
        self._auc_settled = 0  # distinct entries at the last compaction
        # (model, class) -> every cell's exact table end to end, with each entry's rank among the distinct scores
        # (:meth:`_ranked`; (model, -1 - class index): the binned tables, :meth:`_binned_ranked`): built once per
        # read of unchanged tables, for every batch of slices
        self._ranked_cache: dict[tuple[int, int], _Ranked] = {}
        # binned: sorted distinct keys ((cell * 2 + model) * len(auc_classes) + class index) * AUC_GRID_BINS + bin,
        # positives and negatives per key, plus folded parts not yet merged in (as for the joint counts)
        self._bin_keys = np.zeros(0, dtype=np.int64)
        self._bin_pos = np.zeros(0, dtype=np.int64)
        self._bin_neg = np.zeros(0, dtype=np.int64)
        self._bin_pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._bin_pending_size = 0
        # or, while it fits AUC_DENSE_SLOTS, dense counts [key, (positives, negatives)]: adding costs no sort; the
        # sorted arrays above are then its cache (as of _bin_version == _bin_cached)
        self._bin_dense: np.ndarray | None = None
        self._bin_version, self._bin_cached = 0, 0
        self.broken_rows = np.zeros(0, dtype=np.int64)  # a bounded uniform sample of broken flips
        self.rows = 0
        self.max_abs_diff = 0.0
        # Poisson-bootstrap replicate sums for log loss and ROC AUC (replicates.py), keyed by global row index
        self.replicates = replicates
        self.boot = (ScoreReplicates(self.k, self.auc_classes, replicates, seed, budget=replicate_budget)
                     if replicates else None)

    # -- building ---------------------------------------------------------------------------------
    def cell_ids(self, keys: Sequence[tuple[str, ...]]) -> np.ndarray:
        """Global cell ids for ``keys`` (new keys get new cells)."""
        ids = intern_cells(self._index, self.keys, keys)
        if len(self.keys) * self.k ** 3 >= _MAX_KEY:
            raise ValueError(TOO_MANY_KEYS.format(cells=len(self.keys), k=self.k))
        self._grow()
        return ids

    def cells_for(self, columns: Sequence[tuple[np.ndarray, list[str]]], rows: int) -> np.ndarray:
        """Each row's global cell id from its dictionary-encoded sensitive columns (codes, values)."""
        keys, inverse = distinct_cells(columns, rows)
        return self.cell_ids(keys)[inverse]

    def _grow(self) -> None:
        if self.boot is not None:
            self.boot.grow(len(self.keys))
        extra = len(self.keys) - self.neg_log.shape[0]
        if extra <= 0:
            return

        def pad(a: np.ndarray) -> np.ndarray:
            return np.concatenate([a, np.zeros((extra, *a.shape[1:]), a.dtype)])

        self.neg_log, self.cal, self.brier = map(pad, (self.neg_log, self.cal, self.brier))
        self._ranked_cache.clear()
        for per_model in self.scores:
            for tables in per_model.values():
                tables.extend([] for _ in range(extra))

    def _fold(self, keys: np.ndarray, counts: np.ndarray) -> None:
        """Add counts for combination keys (any order, repeats allowed); merged lazily, in bulk."""
        self._pending.append((keys, counts))
        self._pending_size += len(keys)
        self._decoded = None
        if self._pending_size > max(len(self._combo_keys), 1 << 20):
            self.combinations()

    def cell_rows(self) -> np.ndarray:
        """Rows per cell (``keys`` order), int64: what post-stratification and slice shares weigh."""
        cells, _, _, _ = self.decoded()
        _, counts = self.combinations()
        return np.bincount(cells, weights=counts, minlength=len(self.keys)).astype(np.int64)

    def combinations(self) -> tuple[np.ndarray, np.ndarray]:
        """The joint counts: sorted distinct keys ((cell * K + true) * K + base) * K + cand, and their counts."""
        if self._pending:
            keys = np.concatenate([self._combo_keys, *(k for k, _ in self._pending)])
            counts = np.concatenate([self._combo_counts, *(c for _, c in self._pending)])
            self._combo_keys, inverse = np.unique(keys, return_inverse=True)
            self._combo_counts = np.bincount(inverse.reshape(-1), weights=counts,
                                             minlength=len(self._combo_keys)).astype(np.int64)
            self._pending, self._pending_size = [], 0
        return self._combo_keys, self._combo_counts

    def decoded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(cell, true, baseline pred, candidate pred) of each combination, in :meth:`combinations` order."""
        keys, _ = self.combinations()
        if self._decoded is None:
            k = self.k
            self._decoded = (keys // k**3, (keys // k**2) % k, (keys // k) % k, keys % k)
        return self._decoded

    def update(self, cells: np.ndarray, y: np.ndarray, proba_base: np.ndarray, proba_cand: np.ndarray,
               rows: np.ndarray | None = None) -> None:
        """Fold one chunk: ``cells`` global cell ids, ``y`` class indices, probabilities (rows, K) per model,
        ``rows`` the rows' global indices (for the sample of broken flips)."""
        if len(y) == 0:
            return
        n_cells, k = len(self.keys), self.k
        preds = [np.argmax(p, axis=1) for p in (proba_base, proba_cand)]
        flat = ((np.asarray(cells, dtype=np.int64) * k + y) * k + preds[0]) * k + preds[1]
        self._fold(*np.unique(flat, return_counts=True))
        idx = np.arange(len(y))
        neg_logs = []
        for m, proba in enumerate((proba_base, proba_cand)):
            nl = M.clipped_neg_log(proba[idx, y])
            neg_logs.append(nl)
            self.neg_log[:, m, :] += np.bincount(cells * k + y, weights=nl, minlength=n_cells * k).reshape(n_cells, k)
            self._calibrate(m, cells, y, proba, preds[m])
        self._fold_scores(np.asarray(cells, dtype=np.int64), y, (proba_base, proba_cand))
        if self.boot is not None:  # the rows are consecutive: the chunk's first global index names them all
            first = int(rows[0]) if rows is not None else self.rows
            self.boot.update(first, np.asarray(cells, dtype=np.int64), y, (neg_logs[0], neg_logs[1]),
                             (proba_base, proba_cand))
        if rows is not None and self.examples:
            broken = (preds[0] == y) & (preds[1] != y)
            self._keep_examples(rows[broken])
        self.max_abs_diff = max(self.max_abs_diff, float(np.max(np.abs(proba_base - proba_cand))))
        self.rows += len(y)

    # -- ROC AUC score tables: exact up to auc_budget entries, then binned ---------------------------
    def _fold_scores(self, cells: np.ndarray, y: np.ndarray, probas: tuple[np.ndarray, np.ndarray]) -> None:
        """Fold a chunk's scores: exact (score -> positives, negatives) tables per model, class and cell while
        their entries fit the budget; past it the rest of the chunk, and every later one, is binned."""
        todo = [(m, i) for m in range(2) for i in range(len(self.auc_classes))]
        if not todo:
            return
        self._ranked_cache.clear()  # exact or binned, the tables change
        if not self.auc_binned:
            for done, (m, i) in enumerate(todo, start=1):
                c = self.auc_classes[i]
                tables = self.scores[m][c]
                ids, parts = compact_by_cell(cells, probas[m][:, c], y == c)  # one sort, not one per cell
                for cid, table in zip(ids.tolist(), parts):
                    tables[cid].append(table)
                    self._auc_entries += len(table[0])
                if self._auc_entries > max(self.auc_budget, self._auc_settled + self.auc_budget // 4) \
                        and self._settle_scores():
                    todo = todo[done:]
                    break
            else:
                return
        self._fold_binned(cells, y, probas, todo)

    def _settle_scores(self) -> bool:
        """Compact every exact table and count its distinct entries; past the budget, bin them all (True).
        Run once the tables may have passed the budget (amortised: at most every budget / 4 new entries) and
        before any read, so the tables end exact iff the merged data has at most ``auc_budget`` entries."""
        if self.auc_binned:
            return True
        if self._auc_entries == self._auc_settled:  # nothing added since the last compaction
            return False
        total = 0
        for per_model in self.scores:
            for per_cell in per_model.values():
                for tables in per_cell:
                    if len(tables) > 1:
                        tables[:] = [M.merge_score_counts(*tables)]
                    total += len(tables[0][0]) if tables else 0
        self._auc_entries = self._auc_settled = total
        if total <= self.auc_budget:
            return False
        self._to_binned()
        return True

    def _to_binned(self) -> None:
        """Bin every exact table onto the grid (per-score, so binned later or sooner gives the same counts)."""
        n = len(self.auc_classes)
        if len(self.keys) * self._bin_span() <= AUC_DENSE_SLOTS and self.rows < 2**31 - 1:
            self._bin_dense = np.zeros((len(self.keys) * self._bin_span(), 2), dtype=np.int32)
        for m, per_model in enumerate(self.scores):
            for i, c in enumerate(self.auc_classes):
                for cell, tables in enumerate(per_model[c]):
                    for table in tables:
                        if len(table[0]):  # distinct scores can share a bin: merged per bin, so keys are distinct
                            b, p, q = M.bin_score_table(*table)
                            self._bin_add(((cell * 2 + m) * n + i) * M.AUC_GRID_BINS + b.astype(np.int64), p, q)
                per_model[c] = [[] for _ in per_model[c]]
        self.auc_binned = True
        self._auc_entries = self._auc_settled = 0

    def _fold_binned(self, cells: np.ndarray, y: np.ndarray, probas: tuple[np.ndarray, np.ndarray],
                     todo: list[tuple[int, int]]) -> None:
        """Quantise the scores of the (model, class index) pairs in ``todo`` and count them per (cell, class, bin)
        with one bincount per block of classes (rows x classes at most ``_BIN_BATCH``, and few enough classes that
        the block's chunk cells x classes x bins slots stay within ``_BIN_LOCAL``), positives apart."""
        bins, n = M.AUC_GRID_BINS, len(self.auc_classes)
        self._dense_guard(self.rows + len(y))
        local, inverse = np.unique(cells, return_inverse=True)  # the chunk's cells
        inverse = inverse.reshape(-1)
        classes = np.asarray(self.auc_classes, dtype=np.int64)
        where = np.full(self.k, -1, dtype=np.int64)  # true class -> its column in the block (-1: not in it)
        for m in range(2):
            idx = np.asarray([i for mm, i in todo if mm == m], dtype=np.int64)
            per = max(1, min(_BIN_BATCH // max(len(y), 1), _BIN_LOCAL // (len(local) * bins)))
            for a in range(0, len(idx), per):
                block = idx[a:a + per]
                width = len(block)
                cols = classes[block]
                contiguous = cols[-1] - cols[0] + 1 == width  # a view, not a copy, of the block's scores
                slot = M.score_grid(probas[m][:, cols[0]:cols[-1] + 1] if contiguous else probas[m][:, cols])
                if width > 1:  # in place, no (rows x classes) temporary
                    slot += (np.arange(width) * bins)[None, :]
                if len(local) > 1:
                    slot += (inverse * (width * bins))[:, None]
                where[classes[block]] = np.arange(width)
                hit = np.flatnonzero(where[y] >= 0)
                positives = slot[hit, where[y[hit]]]
                where[classes[block]] = -1
                size = len(local) * width * bins
                dense = self._bin_dense
                if dense is not None:  # each chunk cell's block of counts is one contiguous run of the dense store
                    total = np.bincount(slot.ravel(), minlength=size).reshape(len(local), width * bins)
                    pos = np.bincount(positives, minlength=size).reshape(len(local), width * bins)
                    for j, cell in enumerate(local.tolist()):
                        lo = ((cell * 2 + m) * n + int(block[0])) * bins  # block: consecutive class indices
                        dense[lo:lo + width * bins, 0] += pos[j].astype(np.int32)
                        dense[lo:lo + width * bins, 1] += (total[j] - pos[j]).astype(np.int32)
                    self._bin_version += 1
                    continue
                if size <= 4 * _BIN_BATCH:  # a dense count over the block's slots
                    total = np.bincount(slot.ravel(), minlength=size)
                    pos = np.bincount(positives, minlength=size)
                    nz = np.flatnonzero(total)
                    total, pos = total[nz], pos[nz]
                else:  # many cells in one chunk: count the distinct slots instead
                    nz, total = np.unique(slot.ravel(), return_counts=True)
                    pos = np.bincount(np.searchsorted(nz, positives), minlength=len(nz))
                cell, rest = np.divmod(nz, width * bins)
                col, b = np.divmod(rest, bins)
                self._bin_add(((local[cell] * 2 + m) * n + block[col]) * bins + b, pos, total - pos)

    def _bin_span(self) -> int:
        """Keys per cell in the binned counts: 2 models x AUC classes x bins."""
        return 2 * len(self.auc_classes) * M.AUC_GRID_BINS

    def _dense_guard(self, rows: int) -> None:
        """Keep the dense binned counts only while they fit: room for every cell within AUC_DENSE_SLOTS, and int32
        counts (each at most the rows folded) below 2**31; else turn them into the sparse form for good."""
        if self._bin_dense is None:
            return
        need = len(self.keys) * self._bin_span()
        if need > AUC_DENSE_SLOTS or rows >= 2**31 - 1:
            self._binned()
            self._bin_dense = None
        elif need > len(self._bin_dense):
            self._bin_dense = np.concatenate([self._bin_dense, np.zeros((need - len(self._bin_dense), 2), np.int32)])

    def _bin_add(self, keys: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> None:
        """Add binned counts (distinct keys in one call); dense: in place, sparse: merged lazily, in bulk."""
        self._dense_guard(self.rows)
        self._ranked_cache.clear()
        if self._bin_dense is not None:
            self._bin_dense[keys] += np.stack([pos, neg], axis=1).astype(np.int32)
            self._bin_version += 1
            return
        self._bin_pending.append((np.asarray(keys, np.int64), np.asarray(pos, np.int64), np.asarray(neg, np.int64)))
        self._bin_pending_size += len(keys)
        if self._bin_pending_size > max(len(self._bin_keys), 1 << 20):
            self._binned()

    def _binned(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The binned counts: sorted distinct keys (see ``__init__``), positives and negatives per key."""
        if self._bin_dense is not None:
            if self._bin_cached != self._bin_version:
                dense = self._bin_dense
                self._bin_keys = np.flatnonzero(dense[:, 0] | dense[:, 1])
                self._bin_pos, self._bin_neg = (dense[self._bin_keys, j].astype(np.int64) for j in (0, 1))
                self._bin_cached = self._bin_version
            return self._bin_keys, self._bin_pos, self._bin_neg
        if self._bin_pending:
            parts = [(self._bin_keys, self._bin_pos, self._bin_neg), *self._bin_pending]
            keys = np.concatenate([k for k, _, _ in parts])
            # the parts are sorted runs (the grid is monotone, a chunk's counts come out in key order): a stable
            # sort (timsort) merges them in about n log(runs); sums per key stay exact in int64
            order = np.argsort(keys, kind="stable")
            keys = keys[order]
            starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]])) if len(keys) else order
            self._bin_pos, self._bin_neg = (np.add.reduceat(np.concatenate([part[j] for part in parts])[order], starts)
                                            if len(keys) else np.zeros(0, np.int64) for j in (1, 2))
            self._bin_keys = keys[starts]
            self._bin_pending, self._bin_pending_size = [], 0
        return self._bin_keys, self._bin_pos, self._bin_neg

    def __getstate__(self) -> dict:
        """Pickled (the Dask engine's partitions) with sparse binned counts: what occurs, not every slot."""
        state = self.__dict__.copy()
        state["_ranked_cache"] = {}  # rebuilt where read: not worth its bytes on the wire
        if self._bin_dense is not None:
            keys, pos, neg = self._binned()
            state.update(_bin_dense=None, _bin_keys=keys, _bin_pos=pos, _bin_neg=neg)
        return state

    def auc_entries(self) -> int:
        """Distinct entries the ROC AUC tables hold: (score, table) while exact, (bin, table) once binned, at most
        tables x ``metrics.AUC_GRID_BINS`` then (tables: 2 models x AUC classes x cells)."""
        self._settle_scores()
        return len(self._binned()[0]) if self.auc_binned else self._auc_settled

    def _auc_tables(self, cells: Sequence[int], model: int) -> list[Table]:
        """One (score -> positives, negatives) table per AUC class over ``cells``: exact, or (bin -> ...) once
        binned; either way the AUC functions of ``metrics`` read it."""
        if not self._settle_scores():
            return [M.merge_score_counts(*(t for i in cells for t in self._compacted(model, c, i)))
                    for c in self.auc_classes]
        bins, n = M.AUC_GRID_BINS, len(self.auc_classes)
        if self._bin_dense is not None:  # dense: add the cells' runs (no sort)
            runs = self._bin_dense.reshape(-1, 2, n * bins, 2)
            summed = np.zeros((n * bins, 2), dtype=np.int64)
            for cell in cells:
                summed += runs[cell, model]
            local = np.flatnonzero(summed[:, 0] | summed[:, 1])
            p, q = summed[local, 0], summed[local, 1]
            bounds = np.searchsorted(local, np.arange(n + 1) * bins)
            return [((local[a:b] % bins).astype(np.float64), p[a:b], q[a:b]) for a, b in itertools.pairwise(bounds)]
        keys, pos, neg = self._binned()
        lo = (np.asarray(list(cells), dtype=np.int64) * 2 + model) * n * bins
        idx = ranges(np.searchsorted(keys, lo), np.searchsorted(keys, lo + n * bins))
        local, p, q = keys[idx] % (n * bins), pos[idx], neg[idx]
        if len(cells) > 1:  # several cells: sum their counts per (class, bin)
            local, inverse = np.unique(local, return_inverse=True)
            p, q = (np.bincount(inverse.reshape(-1), weights=w, minlength=len(local)).astype(np.int64) for w in (p, q))
        bounds = np.searchsorted(local, np.arange(n + 1) * bins)
        return [((local[a:b] % bins).astype(np.float64), p[a:b], q[a:b]) for a, b in itertools.pairwise(bounds)]

    def _tables_auc(self, tables: list[Table]) -> float | None:
        """The ROC AUC of one slice's tables: binary, the positive class's; multiclass, macro one-vs-rest."""
        return M.auc_from_score_counts(*tables[0]) if self.positive is not None else M.macro_ovr_auc(tables)

    def _tables_bound(self, tables: list[Table]) -> float | None:
        """The bound on |binned - exact| of :meth:`_tables_auc` (multiclass: the mean of the classes' bounds)."""
        return M.auc_error_bound(*tables[0]) if self.positive is not None else M.macro_auc_error_bound(tables)

    def roc_auc_binning(self, cells: Sequence[int], model: int) -> dict[str, Any] | None:
        """How the ROC AUC of ``model`` over ``cells`` is approximated: None while exact (or off); once binned
        the grid, the budget, the entries kept and the bound on |reported - exact| (``metrics.auc_error_bound``;
        multiclass: the mean of the classes' bounds)."""
        if not self.auc_classes or not self._settle_scores():
            return None
        return {"bins": M.AUC_GRID_BINS, "grid": M.AUC_GRID, "budget": self.auc_budget,
                "entries": self.auc_entries(), "error_bound": self._tables_bound(self._auc_tables(cells, model))}

    def auc_error_bounds(self, refs: Sequence[SliceRef], model: int) -> list[float | None]:
        """Each slice's bound on |binned ROC AUC - exact ROC AUC| (:meth:`roc_auc_binning`'s ``error_bound``), so a
        rule can tell whether binning could move a slice across its limit; None where the AUC is undefined (a
        class slice, one label only). Empty while the tables are exact."""
        if not self.auc_classes or not self._settle_scores():
            return []
        return self._slice_values(refs, model, bounds=True)

    def _calibrate(self, m: int, cells: np.ndarray, y: np.ndarray, proba: np.ndarray, pred: np.ndarray) -> None:
        """Binary: positive-class probability vs being positive; multiclass: top-label confidence vs correct."""
        n_cells, b = len(self.keys), self.bins
        if self.positive is not None:
            score, hit = proba[:, self.positive], (y == self.positive)
            brier = (score - hit) ** 2
        else:
            score, hit = proba[np.arange(len(y)), pred], (pred == y)
            # sum_j (p_j - [j == y])^2 = sum_j p_j^2 - 2 p_y + 1: one pass over the (rows, K) scores, no one-hot copy
            brier = np.einsum("ij,ij->i", proba, proba) - 2.0 * proba[np.arange(len(y)), y] + 1.0
        binid = np.searchsorted(self.edges[1:-1], score)  # the binning of sklearn's calibration_curve
        key = cells * b + binid
        size = n_cells * b
        for j, w in enumerate((None, score, hit.astype(np.float64))):
            self.cal[:, m, j, :] += np.bincount(key, weights=w, minlength=size).reshape(n_cells, b)
        self.brier[:, m] += np.bincount(cells, weights=brier, minlength=n_cells)

    def _keep_examples(self, candidates: np.ndarray) -> None:
        pool = np.union1d(self.broken_rows, candidates)
        if len(pool) > self.examples:
            pool = pool[np.argsort(row_priority(pool, self.seed), kind="stable")[: self.examples]]
        self.broken_rows = np.sort(pool)

    def merge(self, other: Accumulator) -> Accumulator:
        """A new accumulator holding both (associative; cells are matched by their key, not their id)."""
        out = Accumulator(self.k, self.positive, roc_auc=self.roc_auc and other.roc_auc, bins=self.bins,
                          examples=self.examples, seed=self.seed, auc_budget=self.auc_budget)
        span = self.k ** 3
        all_ids = []
        for src in (self, other):
            ids = out.cell_ids(src.keys)
            all_ids.append(ids)
            keys, counts = src.combinations()
            if len(keys):
                out._fold(ids[keys // span] * span + keys % span, counts.copy())
            for name in ("neg_log", "cal", "brier"):
                np.add.at(getattr(out, name), ids, getattr(src, name))
            for m in range(2):
                for c in out.auc_classes:
                    for cid, tables in zip(ids, src.scores[m][c]):
                        out.scores[m][c][cid].extend(tables)
                        out._auc_entries += sum(len(t[0]) for t in tables)
            out._keep_examples(src.broken_rows)
            out.rows += src.rows
            out.max_abs_diff = max(out.max_abs_diff, src.max_abs_diff)
        if out.auc_classes:  # binned parts bin the whole (binning commutes with merging); else settle as a fold does
            if self.auc_binned or other.auc_binned:
                out._to_binned()
                span = out._bin_span()
                for src, ids in zip((self, other), all_ids):
                    if src.auc_binned:
                        keys, pos, neg = src._binned()
                        out._bin_add(ids[keys // span] * span + keys % span, pos.copy(), neg.copy())
            elif out._auc_entries > out.auc_budget:
                out._settle_scores()
        out.replicates = self.replicates
        if self.boot is not None and other.boot is not None:
            out.boot = self.boot.merge(all_ids, [self.boot, other.boot], len(out.keys))
        return out

    # -- reading ----------------------------------------------------------------------------------
    def members(self, ref: SliceRef) -> np.ndarray:
        """Indices (in :meth:`combinations` order) of the combinations in slice ``ref``: one key range per cell."""
        keys, _ = self.combinations()
        k = self.k
        cells = np.asarray(ref.cells, dtype=np.int64)
        if ref.true_class is None:
            lo, span = cells * k**3, k**3
        else:
            lo, span = (cells * k + ref.true_class) * k**2, k**2
        return ranges(np.searchsorted(keys, lo), np.searchsorted(keys, lo + span))

    def _slice(self, cells: Sequence[int], true_class: int | None) -> tuple[np.ndarray, ...]:
        """(counts, true, baseline pred, candidate pred) of the combinations in the slice."""
        idx = self.members(SliceRef(list(cells), true_class))
        _, t, b, c = self.decoded()
        return self.combinations()[1][idx], t[idx], b[idx], c[idx]

    def confusion(self, cells: Sequence[int], model: int, true_class: int | None = None) -> np.ndarray:
        """(K, K) counts [true, predicted] of ``model`` (0 baseline, 1 candidate) over ``cells``."""
        w, t, b, c = self._slice(cells, true_class)
        pred = b if model == 0 else c
        return np.bincount(t * self.k + pred, weights=w, minlength=self.k**2).astype(np.int64).reshape(self.k, self.k)

    def class_counts(self, cells: Sequence[int], model: int) -> dict[str, list[int]]:
        """Per class over ``cells``: rows truly of it, rows ``model`` predicts as it, rows both; the one-vs-rest
        counts multiclass fairness needs, read from the merged counts (no second pass)."""
        w, t, b, c = self._slice(cells, None)
        pred = b if model == 0 else c

        def tally(labels: np.ndarray, weights: np.ndarray) -> list[int]:
            return np.bincount(labels, weights=weights, minlength=self.k).astype(np.int64).tolist()

        return {"true": tally(t, w), "predicted": tally(pred, w), "correct": tally(t[t == pred], w[t == pred])}

    def label_metrics(self, refs: Mapping[str, SliceRef], model: int) -> dict[str, dict[str, float | None]]:
        """The label metrics (:func:`metrics.confusion_metrics`'s keys) of many slices at once: one sparse product
        over the occurring combinations, however many slices and class slices there are."""
        _, t, b, c = self.decoded()
        counts = self.combinations()[1]
        combo, owner = self.members_many(list(refs.values()))
        values = SliceIndex(t, b if model == 0 else c, [], self.k, self.positive,
                            flat=(combo, owner, len(refs))).metrics(counts[None])
        sizes = np.bincount(owner, weights=counts[combo], minlength=len(refs)).astype(np.int64).tolist()
        columns = {key: [None if v != v else v for v in values[key][0].tolist()] for key in M._CONFUSION_KEYS}
        return {name: {"count": sizes[s], **{key: columns[key][s] for key in M._CONFUSION_KEYS}}
                for s, name in enumerate(refs)}

    def metrics_many(self, refs: Mapping[str, SliceRef], model: int) -> dict[str, dict[str, float | int | None]]:
        """:meth:`metrics` of every slice in ``refs`` (name -> slice): the label metrics in one batch, log loss and
        ROC AUC vectorised over the slices (:meth:`log_losses`, :meth:`aucs`); equal to the one-slice
        :meth:`metrics` of each slice alone, number for number (tests/test_many_slices_fast.py)."""
        labels = self.label_metrics(refs, model)
        slices = list(refs.values())
        losses, aucs = self.log_losses(slices, model), self.aucs(slices, model)
        out: dict[str, dict[str, float | int | None]] = {}
        for s, name in enumerate(refs):
            one: dict[str, float | int | None] = dict(labels[name])
            one["log_loss"], one["roc_auc"] = losses[s], aucs[s]
            out[name] = one
        return out

    def metrics(self, cells: Sequence[int], model: int, true_class: int | None = None) -> dict[str, float | int | None]:
        """Every metric of ``model`` on the union of ``cells`` (restricted to one true class if given)."""
        return self.metrics_many({"": SliceRef(list(cells), true_class)}, model)[""]

    def _compacted(self, model: int, cls: int, cell: int) -> list[Table]:
        """The cell's score tables, merged into one on first read (sorting once, not once per chunk)."""
        tables = self.scores[model][cls][cell]
        if len(tables) > 1:
            tables[:] = [M.merge_score_counts(*tables)]
        return tables

    def calibration(self, cells: Sequence[int], model: int, curve: bool = False) -> dict:
        """ECE, Brier score and (optionally) the reliability-curve counts over ``cells``."""
        cal = self.cal[list(cells), model].sum(axis=0)  # (3, bins)
        count, score_sum, hit_sum = cal
        n = int(count.sum())
        out: dict = {"count": n, "ece": None, "brier": None}
        if n == 0:
            return out
        filled = count > 0
        conf = np.divide(score_sum, count, out=np.zeros_like(score_sum), where=filled)
        acc = np.divide(hit_sum, count, out=np.zeros_like(hit_sum), where=filled)
        out["ece"] = float(np.sum(count[filled] / n * np.abs(acc[filled] - conf[filled])))
        out["brier"] = float(self.brier[list(cells), model].sum() / n)
        if curve:
            out["reliability"] = {
                "bin_edges": [float(e) for e in self.edges], "count": [int(c) for c in count],
                "mean_confidence": [float(c) if f else None for c, f in zip(conf, filled)],
                "accuracy": [float(a) if f else None for a, f in zip(acc, filled)],
            }
        return out

    def agreement(self, cells: Sequence[int] | None = None,
                  true_class: int | None = None) -> dict[str, float | int | None]:
        w, t, b, c = self._slice(range(len(self.keys)) if cells is None else cells, true_class)
        n = int(w.sum())
        same = int(w[b == c].sum())
        both_right = int(w[(t == b) & (b == c)].sum())
        return {
            "count": n,
            "same_prediction": same / n if n else None,
            "fixed": int(w[t == c].sum()) - both_right,
            "broken": int(w[t == b].sum()) - both_right,
        }

    # -- many slices at once (the evidence of thousands of slices: no Python step per slice) -------------
    def members_many(self, refs: Sequence[SliceRef]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`members` of every slice, concatenated in ``refs`` order, and each index's slice (its position in
        ``refs``): one search over the sorted keys for all the slices' cells."""
        keys, _ = self.combinations()
        k = self.k
        lengths = np.fromiter((len(r.cells) for r in refs), dtype=np.int64, count=len(refs))
        cells = np.fromiter(itertools.chain.from_iterable(r.cells for r in refs), dtype=np.int64,
                            count=int(lengths.sum()))
        owner = np.repeat(np.arange(len(refs), dtype=np.int64), lengths)
        true = np.fromiter((-1 if r.true_class is None else r.true_class for r in refs), dtype=np.int64,
                           count=len(refs))[owner]
        whole = true < 0
        lo = np.where(whole, cells * k**3, (cells * k + np.maximum(true, 0)) * k**2)
        hi = lo + np.where(whole, k**3, k**2)
        start, stop = np.searchsorted(keys, lo), np.searchsorted(keys, hi)
        return ranges(start, stop), np.repeat(owner, np.maximum(stop - start, 0))

    def _cell_groups(self, refs: Sequence[SliceRef]) -> list[tuple[np.ndarray, np.ndarray]]:
        """The slices grouped by how many cells they have: (slice positions, their cells as a (slices, n) matrix)
        per size n, so a per-cell array gathered as (slices, n, ...) and reduced over axis 1 sums each slice's cells
        in the order, and with the pairwise summation, numpy uses for one slice's ``a[cells].sum()``."""
        lengths = np.fromiter((len(r.cells) for r in refs), dtype=np.int64, count=len(refs))
        groups = []
        for n in np.unique(lengths).tolist():
            at = np.flatnonzero(lengths == n)
            groups.append((at, np.array([refs[s].cells for s in at.tolist()], dtype=np.int64).reshape(len(at), n)))
        return groups

    def log_losses(self, refs: Sequence[SliceRef], model: int) -> list[float | None]:
        """Each slice's log loss (its cells' summed -log p over its rows, to the last bit) from the per-cell sums."""
        totals, rows = np.zeros(len(refs)), np.zeros(len(refs), dtype=np.int64)
        counts = self.cell_rows()
        per_class = self._cell_class_rows()
        for at, cells in self._cell_groups(refs):
            true = [refs[s].true_class for s in at.tolist()]
            whole = np.array([t is None for t in true])
            if whole.any():
                rows_w = at[whole]
                totals[rows_w] = self.neg_log[cells[whole], model].reshape(len(rows_w), -1).sum(axis=1)
                rows[rows_w] = counts[cells[whole]].sum(axis=1)
            for t in {t for t in true if t is not None}:
                pick = np.array([x == t for x in true])
                totals[at[pick]] = self.neg_log[cells[pick], model, t].sum(axis=1)
                rows[at[pick]] = per_class[cells[pick], t].sum(axis=1)
        return [M.log_loss_from_sum(v, n) for v, n in zip(totals.tolist(), rows.tolist())]

    def _cell_class_rows(self) -> np.ndarray:
        """Rows per (cell, true class), int64."""
        cells, true, _, _ = self.decoded()
        _, counts = self.combinations()
        k = self.k
        return np.bincount(cells * k + true, weights=counts, minlength=len(self.keys) * k).astype(np.int64).reshape(
            len(self.keys), k)

    def aucs(self, refs: Sequence[SliceRef], model: int) -> list[float | None]:
        """Each slice's ROC AUC (:meth:`_tables_auc` of its merged tables, to the bit), all slices at once per class
        (:meth:`_slice_aucs`), from the exact tables or, once binned, the binned ones."""
        return self._slice_values(refs, model, bounds=False)

    def _slice_values(self, refs: Sequence[SliceRef], model: int, *, bounds: bool) -> list[float | None]:
        """The slices' ROC AUCs, or (``bounds``, binned tables only) their bounds on |binned - exact|; binary: the
        positive class's, multiclass: the mean over the classes (None if one is undefined), as
        :meth:`_tables_auc` and :meth:`_tables_bound` combine them."""
        out: list[float | None] = [None] * len(refs)
        wanted = [s for s, r in enumerate(refs) if r.true_class is None]
        if not self.roc_auc or not self.auc_classes or not wanted:
            return out
        binned = self._settle_scores()
        chosen = [refs[s] for s in wanted]
        per_class = []
        for i, c in enumerate(self.auc_classes):
            ranked = self._binned_ranked(model, i) if binned else self._ranked(model, c)
            per_class.append(self._slice_aucs(chosen, ranked, bounds=bounds))
        for j, s in enumerate(wanted):
            found = [values[j] for values in per_class]
            if self.positive is not None:
                out[s] = found[0]
            else:
                known = [a for a in found if a is not None]
                out[s] = None if not known or len(known) < len(found) else float(np.mean(known))
        return out

    def _ranked(self, model: int, cls: int) -> _Ranked:
        """Class ``cls``'s exact tables of every cell end to end, and each entry's rank among the distinct scores
        of all of them (one sort), cached until a fold."""
        found = self._ranked_cache.get((model, cls))
        if found is not None:
            return found
        tables = [self._compacted(model, cls, i) for i in range(len(self.keys))]
        sizes = np.fromiter((len(t[0][0]) if t else 0 for t in tables), dtype=np.int64, count=len(tables))
        parts = [t[0] for t in tables if t]
        score = np.concatenate([np.zeros(0), *(t[0] for t in parts)]).astype(np.float64)
        pos = np.concatenate([np.zeros(0, np.int64), *(t[1] for t in parts)]).astype(np.int64)
        neg = np.concatenate([np.zeros(0, np.int64), *(t[2] for t in parts)]).astype(np.int64)
        order = np.argsort(score)
        new = np.ones(len(score), dtype=bool)
        new[1:] = score[order[1:]] != score[order[:-1]]
        rank = np.empty(len(score), dtype=np.int64)
        rank[order] = np.cumsum(new) - 1
        found = self._ranked_cache[(model, cls)] = _Ranked(score, pos, neg, sizes, rank, int(new.sum()))
        return found

    def _binned_ranked(self, model: int, i: int) -> _Ranked:
        """:meth:`_ranked` of the binned tables of AUC class index ``i``: each cell's occupied bins in order, the
        bin index as score and rank (the AUC reads only the order), cached until the next fold or add."""
        found = self._ranked_cache.get((model, -1 - i))
        if found is not None:
            return found
        bins, n = M.AUC_GRID_BINS, len(self.auc_classes)
        keys, pos, neg = self._binned()  # sorted by ((cell * 2 + model) * n + class index) * bins + bin
        table = keys // bins
        mine = table % (2 * n) == model * n + i
        cell, b = table[mine] // (2 * n), keys[mine] % bins
        sizes = np.bincount(cell, minlength=len(self.keys)).astype(np.int64)
        found = self._ranked_cache[(model, -1 - i)] = _Ranked(b.astype(np.float64), pos[mine].astype(np.int64),
                                                              neg[mine].astype(np.int64), sizes, b.astype(np.int64),
                                                              bins)
        return found

    def _slice_aucs(self, refs: Sequence[SliceRef], r: _Ranked, *, bounds: bool = False) -> list[float | None]:
        """One class's ROC AUC in each slice from the per-cell tables ``r`` (exact or binned): every slice's entries
        sorted at once by (slice, score), ties merged, and the doubled Mann-Whitney U summed per slice in int64, as
        :func:`metrics.auc_from_score_counts` does for one table; or (``bounds``) each slice's
        :func:`metrics.auc_error_bound` (half the share of positive-negative pairs that share a score: a binned
        table's bound)."""
        lengths = np.fromiter((len(ref.cells) for ref in refs), dtype=np.int64, count=len(refs))
        cells = np.fromiter(itertools.chain.from_iterable(ref.cells for ref in refs), dtype=np.int64,
                            count=int(lengths.sum()))
        starts = r.starts
        idx = ranges(starts[cells], starts[cells] + r.sizes[cells])
        owner = np.repeat(np.repeat(np.arange(len(refs), dtype=np.int64), lengths), r.sizes[cells])
        s = r.score[idx]
        if len(lengths) and int(lengths.max()) > 1:  # slices of several cells: sort by (slice, score), merge ties
            if len(refs) * max(r.distinct, 1) < 2**62:  # one int64 key (slice, score rank): a stable sort
                order = np.argsort(owner * r.distinct + r.rank[idx], kind="stable")
            else:  # pragma: no cover - over 2**62 (slice, score) pairs
                order = np.lexsort((s, owner))
            idx, owner, s = idx[order], owner[order], s[order]
            first = np.ones(len(idx), dtype=bool)
            first[1:] = (owner[1:] != owner[:-1]) | (s[1:] != s[:-1])
            heads = np.flatnonzero(first)  # each merged (slice, score) row's first entry
            p = np.add.reduceat(r.pos[idx], heads) if len(idx) else np.zeros(0, np.int64)
            q = np.add.reduceat(r.neg[idx], heads) if len(idx) else np.zeros(0, np.int64)
        else:  # one cell per slice: its table is sorted by score and its scores distinct already
            heads = np.arange(len(idx))
            p, q = r.pos[idx], r.neg[idx]
        at = owner[heads]
        ends = np.searchsorted(at, np.arange(len(refs) + 1))  # slice j's merged rows: ends[j] .. ends[j + 1]
        cq = np.cumsum(q)  # negatives up to each entry, counted from the start of all slices
        # the negatives before each slice's first entry (and, last, in all of them)
        before = np.where(ends > 0, cq[np.maximum(ends - 1, 0)], 0) if len(cq) else np.zeros_like(ends)
        n_neg = np.diff(before)
        n_pos = np.zeros(len(refs), dtype=np.int64)
        filled = np.flatnonzero(ends[1:] > ends[:-1])
        first_rows = ends[filled]
        if len(filled):
            n_pos[filled] = np.add.reduceat(p, first_rows)
        exact = 2 * int(p.sum()) * int(before[-1]) < EXACT_PAIRS  # every partial sum below fits in int64
        if bounds:  # pairs sharing a score (or a bin): at most P N, exact in int64 where the U is
            tied = np.zeros(len(refs), dtype=np.int64 if exact else np.float64)
            if len(filled):
                tied[filled] = np.add.reduceat(p * q if exact else p.astype(np.float64) * q, first_rows)
            return [float(t) / 2.0 / a / b if a and b else None
                    for t, a, b in zip(tied.tolist(), n_pos.tolist(), n_neg.tolist())]
        doubled = np.zeros(len(refs), dtype=np.int64)
        if len(filled) and exact:
            # the doubled Mann-Whitney U, sum of p (2 below + q) with below = cq - q - before[slice] (the negatives
            # scored lower in the same slice), summed per slice as sum p (2 cq - q) - 2 before[slice] n_pos
            doubled[filled] = np.add.reduceat(p * (2 * cq - q), first_rows) - 2 * before[filled] * n_pos[filled]
        out: list[float | None] = []
        for j, (u, a, b) in enumerate(zip(doubled.tolist(), n_pos.tolist(), n_neg.tolist())):
            if a == 0 or b == 0:
                out.append(None)
            elif exact:
                out.append(u / (2 * a * b))
            else:  # too many pairs for int64: the float formula, on this slice's merged table
                lo, hi = ends[j], ends[j + 1]
                out.append(M.auc_from_score_counts(s[heads][lo:hi], p[lo:hi], q[lo:hi]))
        return out

    def calibrations(self, refs: Sequence[SliceRef], model: int) -> list[dict]:
        """:meth:`calibration` (without the curve) of every slice, to the last bit, from the per-cell bin sums."""
        n_slices, b = len(refs), self.bins
        cal = np.zeros((n_slices, 3, b))
        brier = np.zeros(n_slices)
        for at, cells in self._cell_groups(refs):
            cal[at] = self.cal[cells, model].sum(axis=1)
            brier[at] = self.brier[cells, model].sum(axis=1)
        count, score_sum, hit_sum = cal[:, 0], cal[:, 1], cal[:, 2]
        n = count.sum(axis=1).astype(np.int64)
        filled = count > 0
        conf = np.divide(score_sum, count, out=np.zeros_like(score_sum), where=filled)
        acc = np.divide(hit_sum, count, out=np.zeros_like(hit_sum), where=filled)
        terms = np.divide(count, np.maximum(n, 1)[:, None]) * np.abs(acc - conf)
        # numpy sums only the filled bins of one slice: move them to the front and sum each row over its filled
        # count, so the pairwise summation adds the same numbers in the same order
        front = np.take_along_axis(terms, np.argsort(~filled, axis=1, kind="stable"), axis=1)
        width = filled.sum(axis=1)
        ece = np.zeros(n_slices)
        for m in np.unique(width).tolist():
            rows = np.flatnonzero(width == m)
            ece[rows] = front[rows, :m].sum(axis=1)
        return [{"count": rows, "ece": e if rows else None, "brier": br if rows else None}
                for rows, e, br in zip(n.tolist(), ece.tolist(), (brier / np.maximum(n, 1)).tolist())]

    def agreements(self, refs: Sequence[SliceRef]) -> list[dict[str, float | int | None]]:
        """:meth:`agreement` of every slice, from one bincount over the slices' combinations."""
        combo, owner = self.members_many(refs)
        _, t, b, c = self.decoded()
        w = self.combinations()[1][combo].astype(np.float64)
        t, b, c = t[combo], b[combo], c[combo]
        size = len(refs)

        def tally(mask: np.ndarray | None) -> list[int]:
            weights = w if mask is None else w * mask
            return np.bincount(owner, weights=weights, minlength=size).astype(np.int64).tolist()

        n, same, both = tally(None), tally(b == c), tally((t == b) & (b == c))
        right_c, right_b = tally(t == c), tally(t == b)
        return [{"count": n[s], "same_prediction": same[s] / n[s] if n[s] else None,
                 "fixed": right_c[s] - both[s], "broken": right_b[s] - both[s]} for s in range(size)]

    def class_counts_many(self, refs: Sequence[SliceRef], model: int) -> list[dict[str, list[int]]]:
        """:meth:`class_counts` of every slice, from bincounts over (slice, class)."""
        combo, owner = self.members_many(refs)
        _, t, b, c = self.decoded()
        w = self.combinations()[1][combo].astype(np.float64)
        t, pred = t[combo], (b if model == 0 else c)[combo]
        k, size = self.k, len(refs)

        def tally(labels: np.ndarray, weights: np.ndarray) -> list[list[int]]:
            return np.bincount(owner * k + labels, weights=weights, minlength=size * k).astype(
                np.int64).reshape(size, k).tolist()

        true, predicted, correct = tally(t, w), tally(pred, w), tally(t, w * (t == pred))
        return [{"true": true[s], "predicted": predicted[s], "correct": correct[s]} for s in range(size)]
