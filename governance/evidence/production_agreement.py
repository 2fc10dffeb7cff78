"""Both models on the production sample: agreement, score distributions and a label-free estimate.

Both models score the same unlabeled production rows, so the comparison is paired and needs no labels or drift
test: the share of rows where they predict the same class, and the Jensen-Shannon distance between their score
distributions (equal-width histograms on [0, 1]). The label-free estimate is NannyML's CBPE idea: when the
candidate's probabilities are calibrated, its expected accuracy on a row is its top-label confidence, so the mean
confidence estimates the accuracy without labels (binary: the expected confusion matrix gives precision and
recall too). Whether the calibration holds is the rule's precondition (``label_free_performance``), not
collection's: collection records, the rules decide.

Everything is kept as sums per production cell (``ProductionPass.keys``), so a slice is a union of cells and two
observers of disjoint chunks merge exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from pydantic import Field

from .schema_base import ROLES, Count, NonNegative, Role, Share, _Frozen

#: how a score is binned (also what a monitor must do with its windows' scores to compare histograms)
BINNING = ("equal-width bins on [0, 1]; a score on an inner edge falls in the lower bin (sklearn's "
           "calibration_curve binning)")
METHOD = ("confidence-based performance estimation (NannyML's CBPE idea): each row's expected accuracy is the "
          "candidate's top-label confidence, so expected accuracy = mean top-label confidence; binary: the expected "
          "confusion matrix (E[TP] = sum of p over rows predicted positive, E[FP] = sum of 1 - p there, E[FN] = sum "
          "of p over rows predicted negative, E[TN] = sum of 1 - p there) gives expected precision and recall. The "
          "scores are used as the model outputs them (no re-calibration).")
#: NannyML's stated assumptions (docs/how_it_works/performance_estimation.rst) and the estimate's floor
ASSUMPTIONS = [
    "the candidate's probabilities are calibrated (checked on the evaluation set: label_free_performance's max_ece)",
    "no shift into input regions the evaluation set did not cover (calibration holds where production is)",
    "no concept drift: P(label | inputs) in production is as in the evaluation data",
    "enough production rows (per slice too) for a mean of confidences to be stable",
    "a model that predicts its top class cannot be estimated below 1/K accuracy (0.5 for binary): the estimate "
    "cannot see errors the model is confident about",
]
#: the confusion quadrants, in the order the sums keep them
QUADRANTS = ("tp", "fp", "tn", "fn")
#: merging observers of different shapes (template: what, mine, theirs)
MERGE_MISMATCH = "cannot merge production scores with different {what}: {mine} vs {theirs}"
#: a chunk's scores do not match the observer's classes (template: role, shape, rows, k)
BAD_SCORES = "production scores of the {role} have shape {shape}, expected ({rows}, {k})"


class _Chunk(Protocol):
    """What the observer reads of ``production.ProductionChunk`` (kept structural: that module imports this one)."""

    @property
    def cells(self) -> np.ndarray: ...
    @property
    def scores(self) -> dict[str, np.ndarray]: ...
    @property
    def labels(self) -> np.ndarray | None: ...


class ProductionScores:
    """Mergeable per-cell sums of both models' production scores (classification tasks).

    ``positive`` is the positive class index for binary tasks, None for multiclass. The score binned is the
    positive-class probability (binary) or the top-label confidence (multiclass), as the calibration section bins.
    Labels, when the production sample has them, are class indices; a negative index is an unknown label.
    """

    def __init__(self, n_classes: int, positive: int | None, bins: int = 20) -> None:
        self.k, self.positive, self.bins = n_classes, positive, bins
        self.edges = np.linspace(0.0, 1.0, bins + 1)
        k = n_classes
        self.pairs = np.zeros((0, k, k), dtype=np.int64)  # [cell, baseline prediction, candidate prediction]
        self.hist = np.zeros((0, 2, bins), dtype=np.int64)  # [cell, model, bin]
        self.confidence = np.zeros((0, 2), dtype=np.float64)  # [cell, model]: sum of top-label confidence
        self.expected = np.zeros((0, 2, 4), dtype=np.float64)  # binary: [cell, model, QUADRANTS] expected counts
        self.labelled = np.zeros(0, dtype=np.int64)  # [cell]: rows with a known label
        self.correct = np.zeros((0, 2), dtype=np.int64)  # [cell, model]: labelled rows predicted right
        self.realized = np.zeros((0, 2, 4), dtype=np.int64)  # binary: [cell, model, QUADRANTS] realized counts

    @property
    def cells(self) -> int:
        return len(self.pairs)

    _ARRAYS = ("pairs", "hist", "confidence", "expected", "labelled", "correct", "realized")

    def _grow(self, cells: int) -> None:
        extra = cells - self.cells
        if extra <= 0:
            return
        for name in self._ARRAYS:
            a = getattr(self, name)
            setattr(self, name, np.concatenate([a, np.zeros((extra, *a.shape[1:]), a.dtype)]))

    def update(self, chunk: _Chunk) -> None:
        """Fold one scored production chunk (vectorised over its rows)."""
        cells = np.asarray(chunk.cells, dtype=np.int64)
        n = len(cells)
        if n == 0:
            return
        self._grow(int(cells.max()) + 1)
        c, k, b = self.cells, self.k, self.bins
        rows = np.arange(n)
        labels = None if chunk.labels is None else np.asarray(chunk.labels, dtype=np.int64)
        known = None if labels is None else labels >= 0
        if labels is not None and known is not None:
            self.labelled += np.bincount(cells[known], minlength=c)
        preds = []
        for m, role in enumerate(ROLES):
            proba = np.asarray(chunk.scores[role], dtype=np.float64)
            if proba.shape != (n, k):
                raise ValueError(BAD_SCORES.format(role=role, shape=proba.shape, rows=n, k=k))
            pred = np.argmax(proba, axis=1)
            top = proba[rows, pred]
            score = proba[:, self.positive] if self.positive is not None else top
            binid = np.searchsorted(self.edges[1:-1], score)
            self.hist[:, m, :] += np.bincount(cells * b + binid, minlength=c * b).reshape(c, b)
            self.confidence[:, m] += np.bincount(cells, weights=top, minlength=c)
            if self.positive is not None:  # p where the model says positive is E[TP], 1 - p there E[FP], ...
                says = pred == self.positive
                self.expected[:, m, :] += (
                    np.bincount(cells * 4 + np.where(says, 0, 3), weights=score, minlength=c * 4)
                    + np.bincount(cells * 4 + np.where(says, 1, 2), weights=1.0 - score, minlength=c * 4)
                ).reshape(c, 4)
            if labels is not None and known is not None:
                hit = known & (pred == labels)
                self.correct[:, m] += np.bincount(cells[hit], minlength=c)
                if self.positive is not None:
                    says, is_pos = pred == self.positive, labels == self.positive
                    quadrant = np.where(says, np.where(is_pos, 0, 1), np.where(is_pos, 3, 2))
                    self.realized[:, m, :] += np.bincount(cells[known] * 4 + quadrant[known],
                                                          minlength=c * 4).reshape(c, 4)
            preds.append(pred)
        self.pairs += np.bincount((cells * k + preds[0]) * k + preds[1], minlength=c * k * k).reshape(c, k, k)

    def merge(self, other: ProductionScores) -> ProductionScores:
        """The sums of both observers (their cells index the same ``ProductionPass.keys``)."""
        for what in ("k", "positive", "bins"):
            if getattr(self, what) != getattr(other, what):
                raise ValueError(MERGE_MISMATCH.format(what=what, mine=getattr(self, what),
                                                       theirs=getattr(other, what)))
        out = ProductionScores(self.k, self.positive, self.bins)
        out._grow(max(self.cells, other.cells))
        for part in (self, other):
            for name in self._ARRAYS:
                a = getattr(part, name)
                getattr(out, name)[: len(a)] += a
        return out

    def score_name(self) -> str:
        return "positive-class probability" if self.positive is not None else "top-label confidence"

    def summed(self, cells: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """Every sum over ``cells`` (None: all cells; ids the observer never saw count as empty)."""
        ids = [i for i in (range(self.cells) if cells is None else cells) if 0 <= i < self.cells]
        return {name: getattr(self, name)[ids].sum(axis=0) for name in self._ARRAYS}


# -- evidence --------------------------------------------------------------------------------------------------

class AgreementStats(_Frozen):
    """Both models on a set of production rows (the whole sample or one slice)."""

    rows: Count
    same_prediction: Share | None = Field(description="share of rows where both models predict the same class")
    flip_rate: Share | None = Field(description="share of rows whose predicted class pruning changed "
                                                "(1 - same_prediction)")
    score_js: Share | None = Field(description="Jensen-Shannon distance (scipy, natural log: 0 to sqrt(ln 2)) "
                                               "between the two models' score histograms")
    class_js: Share | None = Field(None, description="multiclass: Jensen-Shannon distance between the two models' "
                                                     "predicted-class distributions")
    histograms: dict[Role, list[Count]] = Field(description="role -> rows per score bin (the candidate's is the "
                                                          "expected score distribution a monitor compares with)")


class ProductionAgreement(AgreementStats):
    """Both models on the unlabeled production rows, overall and per slice."""

    score: str = Field(description="which score is binned: positive-class probability (binary) or top-label "
                                   "confidence (multiclass)")
    bins: Count
    bin_edges: list[float]
    binning: str = BINNING
    slices: dict[str, dict[str, AgreementStats]] = Field(
        default_factory=dict, description="dimension -> slice value -> the same on that slice's production rows")


class ModelEstimate(_Frozen):
    """One model's confidence-based estimate on a set of production rows, and the truth where labels are known."""

    rows: Count
    expected_accuracy: Share | None = Field(description="mean top-label confidence")
    expected_precision: Share | None = Field(None, description="binary: E[TP] / (E[TP] + E[FP])")
    expected_recall: Share | None = Field(None, description="binary: E[TP] / (E[TP] + E[FN])")
    expected_confusion: dict[str, NonNegative] | None = Field(None, description="binary: expected tp, fp, tn, fn")
    labelled_rows: Count = Field(0, description="rows with a known production label")
    realized_accuracy: Share | None = Field(None, description="accuracy on the labelled rows (None: no labels)")
    realized_precision: Share | None = None
    realized_recall: Share | None = None


class LabelFreeEstimate(_Frozen):
    """Confidence-based estimate of both models' performance on production; valid only under ``assumptions``."""

    method: str = METHOD
    assumptions: list[str] = Field(default_factory=lambda: list(ASSUMPTIONS))
    models: dict[Role, ModelEstimate]
    slices: dict[str, dict[str, dict[Role, ModelEstimate]]] = Field(
        default_factory=dict, description="dimension -> slice value -> role -> estimate")


def _div(a: float, b: float) -> float | None:
    return float(a) / float(b) if b else None


def _js(p: np.ndarray, q: np.ndarray) -> float | None:
    if p.sum() == 0 or q.sum() == 0:
        return None
    from scipy.spatial.distance import jensenshannon  # here: scipy.spatial costs 0.14 s of every check's start-up

    return float(jensenshannon(p.astype(np.float64), q.astype(np.float64)))


def _agreement_stats(scores: ProductionScores, cells: Sequence[int] | None) -> dict:
    s = scores.summed(cells)
    pairs = s["pairs"]
    rows = int(pairs.sum())
    same = _div(float(np.trace(pairs)), rows)
    class_js = _js(pairs.sum(axis=1), pairs.sum(axis=0)) if scores.positive is None else None
    return {"rows": rows, "same_prediction": same, "flip_rate": None if same is None else 1.0 - same,
            "score_js": _js(s["hist"][0], s["hist"][1]), "class_js": class_js,
            "histograms": {role: s["hist"][m].tolist() for m, role in enumerate(ROLES)}}


def build_agreement(scores: ProductionScores, slices: dict[str, dict[str, list[int]]]) -> ProductionAgreement:
    """Agreement, flip rate and score distance overall and for each slice (a slice = the production cells it
    covers)."""
    return ProductionAgreement(
        **_agreement_stats(scores, None), score=scores.score_name(), bins=scores.bins,
        bin_edges=scores.edges.tolist(),
        slices={dim: {value: AgreementStats(**_agreement_stats(scores, ids)) for value, ids in values.items()}
                for dim, values in slices.items()})


def _model_estimate(s: dict[str, np.ndarray], m: int, binary: bool) -> ModelEstimate:
    rows = int(s["pairs"].sum())
    labelled = int(s["labelled"])
    out: dict = {"rows": rows, "expected_accuracy": _div(s["confidence"][m], rows), "labelled_rows": labelled,
                 "realized_accuracy": _div(s["correct"][m], labelled)}
    if binary:
        tp, fp, tn, fn = (float(x) for x in s["expected"][m])
        out.update(expected_precision=_div(tp, tp + fp), expected_recall=_div(tp, tp + fn),
                   expected_confusion=dict(zip(QUADRANTS, (tp, fp, tn, fn))))
        if labelled:
            rtp, rfp, _, rfn = (int(x) for x in s["realized"][m])
            out.update(realized_precision=_div(rtp, rtp + rfp), realized_recall=_div(rtp, rtp + rfn))
    return ModelEstimate(**out)


def _estimates(scores: ProductionScores, cells: Sequence[int] | None) -> dict[Role, ModelEstimate]:
    s = scores.summed(cells)
    return {role: _model_estimate(s, m, scores.positive is not None) for m, role in enumerate(ROLES)}


def build_estimate(scores: ProductionScores, slices: dict[str, dict[str, list[int]]]) -> LabelFreeEstimate:
    """Both models' confidence-based estimates overall and per slice (the rule judges the candidate's)."""
    return LabelFreeEstimate(
        models=_estimates(scores, None),
        slices={dim: {value: _estimates(scores, ids) for value, ids in values.items()}
                for dim, values in slices.items()})
