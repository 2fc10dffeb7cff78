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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .. import metrics as M
from .replicates import REPLICATE_BUDGET, ScoreReplicates

Table = tuple[np.ndarray, np.ndarray, np.ndarray]
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_MAX_KEY = 2**62  # combined keys (cell, true, base, cand) must stay below this to fit int64 arithmetic
TOO_MANY_KEYS = "{cells} cells x {k}**3 class combinations do not fit a 64-bit key"


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


def intern_cells(index: dict[tuple[str, ...], int], known: list[tuple[str, ...]],
                 keys: Sequence[tuple[str, ...]]) -> np.ndarray:
    """The cell id of each key, adding unseen keys to ``known`` (and ``index``, key -> position in it)."""
    ids = np.empty(len(keys), dtype=np.int64)
    for i, key in enumerate(keys):
        cid = index.get(key)
        if cid is None:
            cid = index[key] = len(known)
            known.append(key)
        ids[i] = cid
    return ids


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
    keys = [tuple(values[int(code)] for (_, values), code in zip(columns, row)) for row in parts]
    return keys, inverse.reshape(-1)


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
                 positive: int | None) -> None:
        self.slices, self.k, self.positive = len(members), k, positive
        lengths = np.array([len(m) for m in members], dtype=np.int64)
        combo = np.concatenate([np.asarray(m, dtype=np.int64) for m in [np.zeros(0, np.int64), *members]])
        owner = np.repeat(np.arange(self.slices, dtype=np.int64), lengths)
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


class Accumulator:
    def __init__(self, n_classes: int, positive: int | None, *, roc_auc: bool = True, bins: int = 15,
                 examples: int = 20, seed: int = 0, replicates: int = 0,
                 replicate_budget: int = REPLICATE_BUDGET) -> None:
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
        # scores[model][class][cell] -> compact tables not yet merged (merged once, when read)
        self.scores: list[dict[int, list[list[Table]]]] = [{c: [] for c in self.auc_classes} for _ in range(2)]
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
        segments: list[np.ndarray] = []
        if self.auc_classes:  # rows grouped by cell, for the per-cell score tables
            order = np.argsort(cells, kind="stable")
            segments = np.split(order, np.flatnonzero(np.diff(cells[order])) + 1)
        neg_logs = []
        for m, proba in enumerate((proba_base, proba_cand)):
            nl = M.clipped_neg_log(proba[idx, y])
            neg_logs.append(nl)
            self.neg_log[:, m, :] += np.bincount(cells * k + y, weights=nl, minlength=n_cells * k).reshape(n_cells, k)
            self._calibrate(m, cells, y, proba, preds[m])
            for c in self.auc_classes:
                tables = self.scores[m][c]
                score, is_pos = proba[:, c], y == c
                for seg in segments:
                    tables[int(cells[seg[0]])].append(M.compact_scores(score[seg], is_pos[seg]))
        if self.boot is not None:  # the rows are consecutive: the chunk's first global index names them all
            first = int(rows[0]) if rows is not None else self.rows
            self.boot.update(first, np.asarray(cells, dtype=np.int64), y, (neg_logs[0], neg_logs[1]),
                             (proba_base, proba_cand))
        if rows is not None and self.examples:
            broken = (preds[0] == y) & (preds[1] != y)
            self._keep_examples(rows[broken])
        self.max_abs_diff = max(self.max_abs_diff, float(np.max(np.abs(proba_base - proba_cand))))
        self.rows += len(y)

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
                          examples=self.examples, seed=self.seed)
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
            out._keep_examples(src.broken_rows)
            out.rows += src.rows
            out.max_abs_diff = max(out.max_abs_diff, src.max_abs_diff)
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
        mems = [self.members(ref) for ref in refs.values()]
        values = SliceIndex(t, b if model == 0 else c, mems, self.k, self.positive).metrics(counts[None])
        out: dict[str, dict[str, float | None]] = {}
        for s, (name, idx) in enumerate(zip(refs, mems)):
            one: dict[str, float | None] = {"count": int(counts[idx].sum())}
            for key in M._CONFUSION_KEYS:
                v = values[key][0, s]
                one[key] = None if np.isnan(v) else float(v)
            out[name] = one
        return out

    def metrics_many(self, refs: Mapping[str, SliceRef], model: int) -> dict[str, dict[str, float | int | None]]:
        """:meth:`metrics` of every slice in ``refs`` (name -> slice), the label metrics computed in one batch."""
        labels = self.label_metrics(refs, model)
        return {name: self._with_scores(labels[name], ref.cells, model, ref.true_class) for name, ref in refs.items()}

    def metrics(self, cells: Sequence[int], model: int, true_class: int | None = None) -> dict[str, float | int | None]:
        """Every metric of ``model`` on the union of ``cells`` (restricted to one true class if given)."""
        return self.metrics_many({"": SliceRef(list(cells), true_class)}, model)[""]

    def _with_scores(self, labels: dict[str, float | None], cells: Sequence[int], model: int,
                     true_class: int | None) -> dict[str, float | int | None]:
        """The label metrics plus the score-based ones (log loss, ROC AUC), which need per-cell sums and tables."""
        cells = list(cells)
        out: dict[str, float | int | None] = dict(labels)
        n = int(out.get("count") or 0)
        out["count"] = n
        neg_log = self.neg_log[cells, model]
        total = neg_log[:, true_class].sum() if true_class is not None else neg_log.sum()
        out["log_loss"] = M.log_loss_from_sum(float(total), n)
        if not self.roc_auc or true_class is not None:
            out["roc_auc"] = None  # one true class: AUC is undefined
        else:
            tables = [M.merge_score_counts(*(t for i in cells for t in self._compacted(model, c, i)))
                      for c in self.auc_classes]
            out["roc_auc"] = (M.auc_from_score_counts(*tables[0]) if self.positive is not None
                              else M.macro_ovr_auc(tables))
        return out

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
