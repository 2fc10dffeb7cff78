"""The dense accumulator and bootstrap as they were before sparse joint counts: the test oracle only.

Copied from governance/evidence/accumulator.py and bootstrap.py (commit ea73b7b); kept in tests so the sparse path
can be checked against it to 1e-12, draw for draw. Not used by the product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from governance import metrics as M

Table = tuple[np.ndarray, np.ndarray, np.ndarray]
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def row_priority(rows: np.ndarray, seed: int) -> np.ndarray:
    """A pseudo-random key per global row index (splitmix64): keeping the smallest keys is a uniform sample
    that does not depend on chunking or merge order."""
    with np.errstate(over="ignore"):
        z = rows.astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


class DenseAccumulator:
    def __init__(self, n_classes: int, positive: int | None, *, roc_auc: bool = True, bins: int = 15,
                 examples: int = 20, seed: int = 0) -> None:
        self.k = n_classes
        self.positive = positive  # binary: index of the positive class; multiclass: None
        self.roc_auc = roc_auc  # exact AUC keeps a table of distinct scores per cell; off bounds memory
        self.auc_classes = ([positive] if positive is not None else list(range(n_classes))) if roc_auc else []
        self.bins, self.examples, self.seed = bins, examples, seed
        self.edges = np.linspace(0.0, 1.0, bins + 1)
        self.keys: list[tuple[str, ...]] = []
        self._index: dict[tuple[str, ...], int] = {}
        self.counts = np.zeros((0, self.k, self.k, self.k), dtype=np.int64)
        self.neg_log = np.zeros((0, 2, self.k), dtype=np.float64)  # [cell, model, true class]
        self.cal = np.zeros((0, 2, 3, bins), dtype=np.float64)  # [cell, model, (count, score sum, hit sum), bin]
        self.brier = np.zeros((0, 2), dtype=np.float64)
        # scores[model][class][cell] -> compact tables not yet merged (merged once, when read)
        self.scores: list[dict[int, list[list[Table]]]] = [{c: [] for c in self.auc_classes} for _ in range(2)]
        self.broken_rows = np.zeros(0, dtype=np.int64)  # a bounded uniform sample of broken flips
        self.rows = 0
        self.max_abs_diff = 0.0

    # -- building ---------------------------------------------------------------------------------
    def cell_ids(self, keys: Sequence[tuple[str, ...]]) -> np.ndarray:
        """Global cell ids for ``keys`` (new keys get new cells)."""
        ids = np.empty(len(keys), dtype=np.int64)
        for i, key in enumerate(keys):
            cid = self._index.get(key)
            if cid is None:
                cid = self._index[key] = len(self.keys)
                self.keys.append(key)
            ids[i] = cid
        self._grow()
        return ids

    def cells_for(self, columns: Sequence[tuple[np.ndarray, list[str]]], rows: int) -> np.ndarray:
        """Each row's global cell id from its dictionary-encoded sensitive columns (codes, values)."""
        if not columns:
            return np.full(rows, self.cell_ids([()])[0], dtype=np.int64)
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
        return self.cell_ids(keys)[inverse.reshape(-1)]

    def _grow(self) -> None:
        extra = len(self.keys) - self.counts.shape[0]
        if extra <= 0:
            return

        def pad(a: np.ndarray) -> np.ndarray:
            return np.concatenate([a, np.zeros((extra, *a.shape[1:]), a.dtype)])

        self.counts, self.neg_log, self.cal, self.brier = map(pad, (self.counts, self.neg_log, self.cal, self.brier))
        for per_model in self.scores:
            for tables in per_model.values():
                tables.extend([] for _ in range(extra))

    def update(self, cells: np.ndarray, y: np.ndarray, proba_base: np.ndarray, proba_cand: np.ndarray,
               rows: np.ndarray | None = None) -> None:
        """Fold one chunk: ``cells`` global cell ids, ``y`` class indices, probabilities (rows, K) per model,
        ``rows`` the rows' global indices (for the sample of broken flips)."""
        if len(y) == 0:
            return
        n_cells, k = len(self.keys), self.k
        preds = [np.argmax(p, axis=1) for p in (proba_base, proba_cand)]
        flat = ((cells * k + y) * k + preds[0]) * k + preds[1]
        self.counts += np.bincount(flat, minlength=n_cells * k**3).reshape(n_cells, k, k, k)
        idx = np.arange(len(y))
        segments: list[np.ndarray] = []
        if self.auc_classes:  # rows grouped by cell, for the per-cell score tables
            order = np.argsort(cells, kind="stable")
            segments = np.split(order, np.flatnonzero(np.diff(cells[order])) + 1)
        for m, proba in enumerate((proba_base, proba_cand)):
            nl = M.clipped_neg_log(proba[idx, y])
            self.neg_log[:, m, :] += np.bincount(cells * k + y, weights=nl, minlength=n_cells * k).reshape(n_cells, k)
            self._calibrate(m, cells, y, proba, preds[m])
            for c in self.auc_classes:
                tables = self.scores[m][c]
                score, is_pos = proba[:, c], y == c
                for seg in segments:
                    tables[int(cells[seg[0]])].append(M.compact_scores(score[seg], is_pos[seg]))
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
            onehot = np.zeros_like(proba)
            onehot[np.arange(len(y)), y] = 1.0
            brier = ((proba - onehot) ** 2).sum(axis=1)
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

    def merge(self, other: DenseAccumulator) -> DenseAccumulator:
        """A new accumulator holding both (associative; cells are matched by their key, not their id)."""
        out = DenseAccumulator(self.k, self.positive, roc_auc=self.roc_auc and other.roc_auc, bins=self.bins,
                          examples=self.examples, seed=self.seed)
        for src in (self, other):
            ids = out.cell_ids(src.keys)
            for name in ("counts", "neg_log", "cal", "brier"):
                np.add.at(getattr(out, name), ids, getattr(src, name))
            for m in range(2):
                for c in out.auc_classes:
                    for cid, tables in zip(ids, src.scores[m][c]):
                        out.scores[m][c][cid].extend(tables)
            out._keep_examples(src.broken_rows)
            out.rows += src.rows
            out.max_abs_diff = max(out.max_abs_diff, src.max_abs_diff)
        return out

    # -- reading ----------------------------------------------------------------------------------
    def joint(self, cells: Sequence[int], true_class: int | None = None) -> np.ndarray:
        """(K, K, K) counts [true, baseline pred, candidate pred] over ``cells`` (rows of one true class)."""
        joint = self.counts[np.asarray(cells, dtype=np.int64)].sum(axis=0)
        if true_class is not None:
            only = np.zeros_like(joint)
            only[true_class] = joint[true_class]
            joint = only
        return joint

    def confusion(self, cells: Sequence[int], model: int, true_class: int | None = None) -> np.ndarray:
        """(K, K) counts [true, predicted] of ``model`` (0 baseline, 1 candidate) over ``cells``."""
        joint = self.joint(cells, true_class)
        return joint.sum(axis=2) if model == 0 else joint.sum(axis=1)

    def class_counts(self, cells: Sequence[int], model: int) -> dict[str, list[int]]:
        """Per class over ``cells``: rows truly of it, rows ``model`` predicts as it, rows both; the one-vs-rest
        counts multiclass fairness needs, read from the merged counts (no second pass)."""
        cm = self.confusion(cells, model)
        return {"true": cm.sum(axis=1).tolist(), "predicted": cm.sum(axis=0).tolist(),
                "correct": np.diagonal(cm).tolist()}

    def metrics(self, cells: Sequence[int], model: int, true_class: int | None = None) -> dict[str, float | int | None]:
        """Every metric of ``model`` on the union of ``cells`` (restricted to one true class if given)."""
        cells = list(cells)
        labels = M.confusion_metrics(self.confusion(cells, model, true_class), self.positive)
        tables = None  # one true class: AUC is undefined
        if self.roc_auc and true_class is None:
            tables = [M.merge_score_counts(*(t for i in cells for t in self._compacted(model, c, i)))
                      for c in self.auc_classes]
        return with_score_metrics(labels, self.neg_log[cells, model], true_class, tables, self.positive)

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
        joint = self.joint(range(len(self.keys)) if cells is None else cells, true_class)  # [true, base, cand]
        n = int(joint.sum())
        idx = np.arange(self.k)
        same = int(joint[:, idx, idx].sum())
        both_right = int(joint[idx, idx, idx].sum())
        return {
            "count": n,
            "same_prediction": same / n if n else None,
            "fixed": int(joint[idx, :, idx].sum()) - both_right,
            "broken": int(joint[idx, idx, :].sum()) - both_right,
        }

#: metrics that are functions of the counts alone (ROC AUC and log loss need the scores: point estimates only)
COUNT_METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "selection_rate",
                 "false_positive_rate", "false_negative_rate")
METHOD = ("paired percentile bootstrap: multinomial resampling of the (cell x true label x baseline prediction x "
          "candidate prediction) counts, equal in distribution to resampling rows; roc_auc and log_loss carry "
          "point estimates only")
_BLOCK_ELEMENTS = 20_000_000  # bounds memory: resamples are drawn in blocks of at most this many counts


def with_score_metrics(labels: dict, neg_log: np.ndarray, true_class: int | None, tables: list[Table] | None,
                       positive: int | None) -> dict[str, float | int | None]:
    """``labels`` plus log loss from the slice's cells' -log p sums (``neg_log``: [cell, true class]) and ROC AUC
    from its merged score tables (binary: the positive class's; multiclass: macro one-vs-rest; None: undefined)."""
    out: dict[str, float | int | None] = dict(labels)
    n = int(out.get("count") or 0)
    out["count"] = n
    total = neg_log[:, true_class].sum() if true_class is not None else neg_log.sum()
    out["log_loss"] = M.log_loss_from_sum(float(total), n)
    out["roc_auc"] = None
    if tables is not None:
        out["roc_auc"] = M.auc_from_score_counts(*tables[0]) if positive is not None else M.macro_ovr_auc(tables)
    return out


@dataclass(frozen=True)
class SliceRef:
    cells: list[int]
    true_class: int | None = None


def resample_metrics(acc: DenseAccumulator, slices: dict[str, SliceRef], resamples: int, seed: int
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
