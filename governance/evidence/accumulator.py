"""Mergeable sufficient statistics for a baseline/candidate evaluation.

Every row lands in a *cell*: one combination of sensitive values (the finest slice). Per cell we keep
counts[cell, true, baseline_pred, candidate_pred], the sums of -log p(true) per model and, for ROC AUC,
exact (score -> positives, negatives) tables. Every slice is a union of cells, so every per-slice metric is
computed from merged counts, never from a second pass over rows. ``merge`` is associative, which lets the
same code fold chunks on one machine or partitions of a distributed engine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import metrics as M

Table = tuple[np.ndarray, np.ndarray, np.ndarray]


class Accumulator:
    def __init__(self, n_classes: int, positive: int | None, *, roc_auc: bool = True) -> None:
        self.k = n_classes
        self.positive = positive  # binary: index of the positive class; multiclass: None
        self.roc_auc = roc_auc  # exact AUC keeps a table of distinct scores per cell; off bounds memory
        self.auc_classes = ([positive] if positive is not None else list(range(n_classes))) if roc_auc else []
        self.keys: list[tuple[str, ...]] = []
        self._index: dict[tuple[str, ...], int] = {}
        self.counts = np.zeros((0, self.k, self.k, self.k), dtype=np.int64)
        self.neg_log = np.zeros((0, 2), dtype=np.float64)
        # scores[model][class][cell] -> compact tables not yet merged (merged once, when read)
        self.scores: list[dict[int, list[list[Table]]]] = [{c: [] for c in self.auc_classes} for _ in range(2)]
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

    def _grow(self) -> None:
        extra = len(self.keys) - self.counts.shape[0]
        if extra <= 0:
            return
        self.counts = np.concatenate([self.counts, np.zeros((extra, self.k, self.k, self.k), np.int64)])
        self.neg_log = np.concatenate([self.neg_log, np.zeros((extra, 2))])
        for per_model in self.scores:
            for tables in per_model.values():
                tables.extend([] for _ in range(extra))

    def update(self, cells: np.ndarray, y: np.ndarray, proba_base: np.ndarray, proba_cand: np.ndarray) -> None:
        """Fold one chunk: ``cells`` global cell ids, ``y`` class indices, probabilities (rows, K) per model."""
        if len(y) == 0:
            return
        n_cells, k = len(self.keys), self.k
        preds = [np.argmax(p, axis=1) for p in (proba_base, proba_cand)]
        flat = ((cells * k + y) * k + preds[0]) * k + preds[1]
        self.counts += np.bincount(flat, minlength=n_cells * k**3).reshape(n_cells, k, k, k)
        rows = np.arange(len(y))
        order = np.argsort(cells, kind="stable")
        bounds = np.flatnonzero(np.diff(cells[order])) + 1
        segments = np.split(order, bounds)
        for m, proba in enumerate((proba_base, proba_cand)):
            nl = M.clipped_neg_log(proba[rows, y])
            self.neg_log[:, m] += np.bincount(cells, weights=nl, minlength=n_cells)
            for c in self.auc_classes:
                tables = self.scores[m][c]
                score, is_pos = proba[:, c], y == c
                for seg in segments:
                    cid = int(cells[seg[0]])
                    tables[cid].append(M.compact_scores(score[seg], is_pos[seg]))
        self.max_abs_diff = max(self.max_abs_diff, float(np.max(np.abs(proba_base - proba_cand))))
        self.rows += len(y)

    def merge(self, other: "Accumulator") -> "Accumulator":
        """A new accumulator holding both (associative; cells are matched by their key, not their id)."""
        out = Accumulator(self.k, self.positive, roc_auc=self.roc_auc and other.roc_auc)
        for src in (self, other):
            ids = out.cell_ids(src.keys)
            np.add.at(out.counts, ids, src.counts)
            np.add.at(out.neg_log, ids, src.neg_log)
            for m in range(2):
                for c in out.auc_classes:
                    for cid, tables in zip(ids, src.scores[m][c]):
                        out.scores[m][c][cid].extend(tables)
            out.rows += src.rows
            out.max_abs_diff = max(out.max_abs_diff, src.max_abs_diff)
        return out

    # -- reading ----------------------------------------------------------------------------------
    def confusion(self, cells: Sequence[int], model: int) -> np.ndarray:
        """(K, K) counts [true, predicted] of ``model`` (0 baseline, 1 candidate) over ``cells``."""
        joint = self.counts[np.asarray(cells, dtype=np.int64)].sum(axis=0)
        return joint.sum(axis=2) if model == 0 else joint.sum(axis=1)

    def metrics(self, cells: Sequence[int], model: int) -> dict[str, float | int | None]:
        """Every metric of ``model`` on the union of ``cells``."""
        cells = list(cells)
        out: dict[str, float | int | None] = dict(M.confusion_metrics(self.confusion(cells, model), self.positive))
        n = int(out.get("count") or 0)
        out["count"] = n
        out["log_loss"] = M.log_loss_from_sum(float(self.neg_log[cells, model].sum()), n)
        tables = [M.merge_score_counts(*(t for i in cells for t in self._compacted(model, c, i)))
                  for c in self.auc_classes]
        if not self.roc_auc:
            out["roc_auc"] = None
        else:
            out["roc_auc"] = (M.auc_from_score_counts(*tables[0]) if self.positive is not None
                              else M.macro_ovr_auc(tables))
        return out

    def _compacted(self, model: int, cls: int, cell: int) -> list[Table]:
        """The cell's score tables, merged into one on first read (sorting once, not once per chunk)."""
        tables = self.scores[model][cls][cell]
        if len(tables) > 1:
            tables[:] = [M.merge_score_counts(*tables)]
        return tables

    def agreement(self) -> dict[str, float | int | None]:
        joint = self.counts.sum(axis=0)  # [true, base, cand]
        n = int(joint.sum())
        idx = np.arange(self.k)
        same = int(joint[:, idx, idx].sum())
        base_right = joint[idx, idx, :].sum()  # baseline correct, any candidate prediction
        both_right = int(joint[idx, idx, idx].sum())
        cand_right = joint[idx, :, idx].sum()
        return {
            "rows": n,
            "same_prediction": same / n if n else None,
            "fixed": int(cand_right) - both_right,
            "broken": int(base_right) - both_right,
            "max_abs_score_difference": self.max_abs_diff,
        }
