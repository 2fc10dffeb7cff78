"""Metric values from folded counts.

The gate never runs scikit-learn or fairlearn at run time: data chunks are folded into
counts (confusion matrices, per-score positive/negative tallies, sums of -log p), and
every metric is computed here from those counts.  Each function reproduces the library
definition, including its zero-division and degenerate-input behaviour, so that the
values equal ``sklearn.metrics`` / ``fairlearn.metrics`` to floating-point noise
(the test-suite checks 1e-9 against the real libraries).

Conventions: results are plain Python ``float``/``int``; a metric the library leaves
undefined (NaN, or an error such as AUC with a single class) is ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal, get_args

import numpy as np

#: written out so type checkers and editors see a rule's ``metric`` values; METRICS is derived from it
ClassificationMetricName = Literal[
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "selection_rate",
    "false_positive_rate",
    "false_negative_rate",
]
#: task: regression (governance/metrics_regression.py); errors are candidate - truth
RegressionMetricName = Literal[
    "mae",
    "rmse",
    "mape",
    "r2",
    "mean_error",
    "abs_error_p50",
    "abs_error_p90",
    "abs_error_p99",
]
MetricName = Literal[ClassificationMetricName, RegressionMetricName]
#: the classification metrics (evidence of classification tasks carries exactly these)
METRICS: tuple[ClassificationMetricName, ...] = get_args(ClassificationMetricName)
REGRESSION_METRICS: tuple[RegressionMetricName, ...] = get_args(RegressionMetricName)
HIGHER_IS_BETTER: dict[str, bool] = {
    m: m not in ("log_loss", "false_positive_rate", "false_negative_rate") for m in METRICS
} | {m: m == "r2" for m in REGRESSION_METRICS}
#: metrics judged by their magnitude, whatever their sign (a bias of -3 is as bad as +3): drops compare |value|
BY_MAGNITUDE: frozenset[str] = frozenset({"mean_error"})


def judged(metric: str, value: float) -> float:
    """The value a rule compares: the magnitude for ``BY_MAGNITUDE`` metrics, else the value itself."""
    return abs(value) if metric in BY_MAGNITUDE else value


def worsening(metric: str, baseline: float, candidate: float) -> float:
    """How much worse the candidate is, in the metric's own units: positive = worse, whatever the direction
    (lower-is-better metrics: a rise; ``mean_error``: a growth of the bias's magnitude)."""
    b, c = judged(metric, baseline), judged(metric, candidate)
    return b - c if HIGHER_IS_BETTER[metric] else c - b

ClassificationFairnessName = Literal[
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
]
#: task: regression: the largest difference in MAE between the groups (fairlearn's bounded-group-loss idea)
RegressionFairnessName = Literal["mae_difference"]
FairnessName = Literal[ClassificationFairnessName, RegressionFairnessName]
FAIRNESS_METRICS: tuple[ClassificationFairnessName, ...] = get_args(ClassificationFairnessName)
REGRESSION_FAIRNESS_METRICS: tuple[RegressionFairnessName, ...] = get_args(RegressionFairnessName)
# A bigger gap between groups is worse; a smaller min/max ratio is worse.
FAIRNESS_HIGHER_IS_WORSE: dict[str, bool] = {m: m.endswith("_difference")
                                             for m in (*FAIRNESS_METRICS, *REGRESSION_FAIRNESS_METRICS)}

_CONFUSION_KEYS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "selection_rate",
    "false_positive_rate",
    "false_negative_rate",
    "true_positive_rate",
)

# Log loss clipping bound: sklearn clips to [eps, 1 - eps] with eps of the (float64) dtype.
_EPS = float(np.finfo(np.float64).eps)


def _div0(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    """num / den with 0 where den == 0.

    This is both sklearn's ``zero_division`` default ("warn" -> 0.0) in
    precision/recall/F1 and fairlearn's rates (``confusion_matrix(normalize="true")``
    then ``nan_to_num``), so a single helper serves both libraries.
    """
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    safe = np.where(den == 0, 1.0, den)
    return np.where(den == 0, 0.0, num / safe)


def _check_cm(cm: np.ndarray) -> np.ndarray:
    """Validate a K x K non-negative integer confusion matrix and return it as int64."""
    arr = np.asarray(cm)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(f"confusion matrix must be a non-empty K x K array, got shape {arr.shape}")
    if arr.dtype.kind not in "iub" and (
            arr.dtype.kind != "f" or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
        raise ValueError("confusion matrix must hold integer counts")
    if np.any(arr < 0):
        raise ValueError("confusion matrix counts must be non-negative")
    return arr.astype(np.int64)


def confusion_metrics(cm: np.ndarray, positive: int | None) -> dict[str, float | None]:
    """Label metrics from ``cm[true_class, predicted_class]`` counts.

    ``positive`` is the index of the positive class for a binary (2 x 2) task, or
    ``None`` for multiclass.  Binary: precision/recall/F1 of the positive class
    (sklearn ``average='binary'``) plus fairlearn's selection rate and
    TPR/FPR/FNR.  Multiclass: macro precision/recall/F1 over the classes present in
    this cm (sklearn's default ``labels``); the binary-only rates are ``None``.
    Zero denominators give 0.0 (sklearn's default, fairlearn's ``nan_to_num``);
    balanced accuracy skips classes absent from the true labels, as sklearn does.
    An empty cm gives ``count`` 0 and ``None`` for every metric.
    """
    cm = _check_cm(cm)
    batch = confusion_metrics_batch(cm[None], positive)
    out: dict[str, float | None] = {"count": int(cm.sum())}
    for key in _CONFUSION_KEYS:
        value = batch.get(key)
        out[key] = None if value is None or np.isnan(value[0]) else float(value[0])
    return out


def confusion_metrics_batch(cms: np.ndarray, positive: int | None) -> dict[str, np.ndarray]:
    """The same metrics for a stack of confusion matrices ``cms[r, true, pred]`` at once (NaN = undefined).

    One implementation serves point estimates and bootstrap resamples, so an interval is always
    about exactly the metric that is reported.
    """
    cms = np.asarray(cms, dtype=np.int64)
    k = cms.shape[-1]
    n = cms.sum(axis=(1, 2)).astype(np.float64)
    empty = n == 0
    diag = np.diagonal(cms, axis1=1, axis2=2).astype(np.float64)  # (R, K)
    true_sum = cms.sum(axis=2).astype(np.float64)
    pred_sum = cms.sum(axis=1).astype(np.float64)
    nan = np.full(len(cms), np.nan)
    out: dict[str, np.ndarray] = {}
    out["accuracy"] = np.where(empty, np.nan, diag.sum(axis=1) / np.where(empty, 1.0, n))
    # sklearn drops classes that have no true rows (their recall would be NaN).
    has_true = true_sum > 0
    per_class_recall = _div0(diag, true_sum)
    n_true = has_true.sum(axis=1)
    out["balanced_accuracy"] = np.where(n_true == 0, np.nan,
                                        (per_class_recall * has_true).sum(axis=1) / np.maximum(n_true, 1))
    if positive is None:
        present = (true_sum + pred_sum) > 0
        m = np.maximum(present.sum(axis=1), 1)
        for key, values in (("precision", _div0(diag, pred_sum)), ("recall", per_class_recall),
                            ("f1", _div0(2.0 * diag, true_sum + pred_sum))):
            out[key] = np.where(empty, np.nan, (values * present).sum(axis=1) / m)
        for key in ("selection_rate", "true_positive_rate", "false_negative_rate", "false_positive_rate"):
            out[key] = nan
        return out
    if k != 2 or positive not in (0, 1):
        raise ValueError(f"binary metrics need 2 x 2 cms and positive in (0, 1), got {k} classes, {positive!r}")
    neg = 1 - positive
    tp, fn = cms[:, positive, positive], cms[:, positive, neg]
    fp, tn = cms[:, neg, positive], cms[:, neg, neg]
    rates = {
        "precision": _div0(tp, tp + fp),
        "recall": _div0(tp, tp + fn),
        "f1": _div0(2.0 * tp, 2 * tp + fp + fn),
        "selection_rate": _div0(tp + fp, n),
        "true_positive_rate": _div0(tp, tp + fn),
        "false_negative_rate": _div0(fn, tp + fn),
        "false_positive_rate": _div0(fp, fp + tn),
    }
    for key, values in rates.items():
        out[key] = np.where(empty, np.nan, values)
    return out


ScoreTable = tuple[np.ndarray, np.ndarray, np.ndarray]


def _empty_table() -> ScoreTable:
    return np.empty(0, np.float64), np.empty(0, np.int64), np.empty(0, np.int64)


def compact_scores(scores: np.ndarray, is_pos: np.ndarray) -> ScoreTable:
    """Rows -> (unique scores ascending float64, positives per score int64, negatives per score int64).

    The table is a sufficient statistic for exact ROC AUC and is small when scores
    repeat, so chunks can be folded without keeping rows.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(is_pos).ravel().astype(bool)
    if s.shape != y.shape:
        raise ValueError(f"scores and is_pos differ in length: {s.shape[0]} vs {y.shape[0]}")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN; ROC AUC is undefined")
    if s.size == 0:
        return _empty_table()
    uniq, inv = np.unique(s, return_inverse=True)
    pos = np.bincount(inv[y], minlength=uniq.size).astype(np.int64)
    neg = np.bincount(inv[~y], minlength=uniq.size).astype(np.int64)
    return uniq, pos, neg


def merge_score_counts(*tables: ScoreTable) -> ScoreTable:
    """Associative, commutative merge of compact score tables (empty tables allowed)."""
    if not tables:
        return _empty_table()
    s = np.concatenate([np.asarray(t[0], dtype=np.float64).ravel() for t in tables])
    p = np.concatenate([np.asarray(t[1], dtype=np.int64).ravel() for t in tables])
    q = np.concatenate([np.asarray(t[2], dtype=np.int64).ravel() for t in tables])
    if not (s.shape == p.shape == q.shape):
        raise ValueError("score tables must have equal-length scores, pos and neg arrays")
    if s.size == 0:
        return _empty_table()
    order = np.argsort(s)
    s = s[order]
    heads = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))
    # integer sums per distinct score: exact, unlike bincount's float weights
    return s[heads], np.add.reduceat(p[order], heads), np.add.reduceat(q[order], heads)


def auc_from_score_counts(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float | None:
    """Exact ROC AUC from a compact table: P(score+ > score-) + 0.5 P(tie) (Mann-Whitney).

    Equals ``sklearn.metrics.roc_auc_score`` (whose tie handling is the trapezoid rule,
    i.e. ties count half).  ``None`` where sklearn gives NaN: a class is absent.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    p = np.asarray(pos, dtype=np.int64).ravel()
    q = np.asarray(neg, dtype=np.int64).ravel()
    if s.size > 1 and np.any(np.diff(s) <= 0):
        # Accept any table: collapse to the canonical ascending, unique form first.
        s, p, q = merge_score_counts((s, p, q))
    n_pos, n_neg = int(p.sum()), int(q.sum())
    if n_pos == 0 or n_neg == 0:
        return None
    neg_below = np.cumsum(q) - q  # negatives with a strictly lower score
    denom = 2 * n_pos * n_neg
    if denom < 2**62:
        # Doubled Mann-Whitney U in int64 is exact; Python int / int rounds correctly once.
        return int(np.sum(p * (2 * neg_below + q))) / denom
    return float(np.sum(p * (neg_below + 0.5 * q), dtype=np.float64) / n_pos / n_neg)


def macro_ovr_auc(tables: list[ScoreTable]) -> float | None:
    """Macro one-vs-rest ROC AUC: mean of per-class AUCs (sklearn ``multi_class='ovr'``,
    ``average='macro'``).  ``None`` if there are no tables or any class lacks positives
    or negatives (sklearn refuses such input)."""
    found = [auc_from_score_counts(*t) for t in tables]
    aucs = [a for a in found if a is not None]
    if not aucs or len(aucs) < len(found):
        return None
    return float(np.mean(aucs))


#: bins of the fixed score grid ROC AUC tables fall back to past ``evaluation.roc_auc_exact_budget``
AUC_GRID_BINS = 4096
_GRID_HALF = AUC_GRID_BINS // 2
_GRID_OCTAVES = 16  # each half covers t in [2**-17, 1/2]: 16 octaves of _GRID_HALF / 16 = 128 bins
_GRID_T_MIN_BITS = (1023 - _GRID_OCTAVES - 1) << 52  # the float64 bits of 2**-17
_GRID_SHIFT = 52 + 4 - 11  # (16 octaves x 2**52) / 2048 bins = 2**45 bit patterns per bin
_GRID_T_LOW, _GRID_T_HIGH = 2.0 ** -(_GRID_OCTAVES + 1), float(np.nextafter(0.5, 0.0))
AUC_GRID = (f"{AUC_GRID_BINS:,} bins, finer near 0 and 1: with t = min(s, 1 - s), t in [2^-17, 1/2] is cut into "
            f"{_GRID_OCTAVES} octaves of {_GRID_HALF // _GRID_OCTAVES} equal bins on each side of 1/2 (a bin is at "
            "most 1/128 of t wide: 0.002 around 1/2, 6e-8 near 2^-17); s < 2^-17 or s > 1 - 2^-17 share the end bin")


def score_grid(scores: np.ndarray) -> np.ndarray:
    """Each score's bin on the fixed ROC AUC grid (``AUC_GRID``), int64 in [0, AUC_GRID_BINS).

    Non-decreasing in the score and a function of the score alone, so binning commutes with merging: the binned
    table of all rows is the merge of the parts' binned tables, whatever the chunking. Geometric near 0 and 1
    because softmax scores crowd there (a class's negatives over 1,000 classes sit around 1e-4 and below), where
    a uniform grid would put them all in one bin. Uses the float64 bit pattern of t (monotone for t >= 0: a
    piecewise-linear log2), so it costs a few integer operations per score, no logarithm. Callers check NaN.
    """
    s = np.asarray(scores, dtype=np.float64)
    t = np.subtract(1.0, s)  # exact for s in [1/2, 1] (Sterbenz): the halves meet without a gap
    hi = t < s  # s > 1/2
    np.minimum(t, s, out=t)
    np.clip(t, _GRID_T_LOW, _GRID_T_HIGH, out=t)  # s < 0 or s > 1 (and -0.0): the end bins
    q = t.view(np.int64)  # t > 0: the bits order like the values
    q -= _GRID_T_MIN_BITS
    q >>= _GRID_SHIFT  # now in [0, _GRID_HALF); the upper half mirrors it: AUC_GRID_BINS - 1 - q == q ^ (bins - 1)
    q ^= hi.view(np.uint8) * np.int64(AUC_GRID_BINS - 1)
    return q


def bin_score_table(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> ScoreTable:
    """An exact (score -> positives, negatives) table on the fixed grid: (bin index as float64, positives,
    negatives), ascending and merged per bin. The AUC functions above read it unchanged (only the order of the
    scores matters); :func:`auc_error_bound` says how far its AUC can be from the exact one."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    if s.size == 0:
        return _empty_table()
    return merge_score_counts((score_grid(s).astype(np.float64), np.asarray(pos, np.int64), np.asarray(neg, np.int64)))


def auc_error_bound(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float | None:
    """For a binned table: how far its AUC can be from the exact AUC of the rows it counts.

    A monotone binning only changes the pairs of a positive and a negative that land in the same bin: exactly,
    such a pair counts 1, 1/2 or 0; binned it counts 1/2. So |binned - exact| <= (1/2) sum_b pos_b neg_b / (P N):
    half the share of positive-negative pairs that share a bin. ``None`` where the AUC is undefined.
    """
    p = np.asarray(pos, dtype=np.int64).ravel()
    q = np.asarray(neg, dtype=np.int64).ravel()
    n_pos, n_neg = int(p.sum()), int(q.sum())
    if n_pos == 0 or n_neg == 0:
        return None
    same = np.asarray(scores, dtype=np.float64).ravel()
    if same.size > 1 and np.any(np.diff(same) <= 0):
        _, p, q = merge_score_counts((same, p, q))
    return float(np.dot(p.astype(np.float64), q.astype(np.float64))) / 2.0 / n_pos / n_neg


def macro_auc_error_bound(tables: list[ScoreTable]) -> float | None:
    """The bound for :func:`macro_ovr_auc` of binned tables: the mean of the per-class bounds (the mean of the
    errors is at most the mean of their sizes); ``None`` where the macro AUC is undefined."""
    found = [auc_error_bound(*t) for t in tables]
    bounds = [b for b in found if b is not None]
    if not bounds or len(bounds) < len(found):
        return None
    return float(np.mean(bounds))


def clipped_neg_log(p_true: np.ndarray) -> np.ndarray:
    """Per-row ``-log(p)`` of the true class's probability, clipped to ``[eps, 1 - eps]``
    (eps of float64) exactly as ``sklearn.metrics.log_loss`` does, so ``sum / n`` equals
    sklearn's log loss even when a probability is exactly 0 or 1."""
    p = np.asarray(p_true, dtype=np.float64)
    return -np.log(np.clip(p, _EPS, 1.0 - _EPS))


def log_loss_from_sum(neg_log_sum: float, n: int) -> float | None:
    """Mean log loss from the folded sum of ``clipped_neg_log``; ``None`` with no rows."""
    if n <= 0:
        return None
    return float(neg_log_sum) / int(n)


def _nan(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _none(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


def _gap_and_ratio(values: list[float]) -> tuple[float, float]:
    """fairlearn ``between_groups`` difference (max - min) and ratio (min / max),
    skipping NaN members as pandas does; NaN if no member is defined, and the ratio is
    NaN when max is 0 (0/0)."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return math.nan, math.nan
    lo, hi = float(arr.min()), float(arr.max())
    return hi - lo, (lo / hi if hi != 0 else math.nan)


def fairness_gaps(groups: Mapping[str, Mapping[str, float | None]]) -> dict[str, float | None]:
    """Demographic parity and equalized odds, as fairlearn computes them with
    ``method='between_groups'`` and ``agg='worst_case'``, from per-group
    ``confusion_metrics`` dicts.

    Groups whose value is ``None`` (empty group) are skipped, like fairlearn skips NaN.
    The worst case is Python's builtin ``max``/``min`` over ``[tpr, fpr]``, exactly as in
    fairlearn, so a NaN TPR term yields NaN while a NaN FPR term is ignored.  NaN results
    become ``None``.  Fewer than two non-empty groups -> all ``None`` (there is no gap to
    measure; fairlearn would report a trivial 0 / 1).
    """
    out: dict[str, float | None] = dict.fromkeys(FAIRNESS_METRICS)
    live = [g for g in groups.values() if g.get("selection_rate") is not None]
    if len(live) < 2:
        return out
    dp_diff, dp_ratio = _gap_and_ratio([_nan(g.get("selection_rate")) for g in live])
    tpr_diff, tpr_ratio = _gap_and_ratio([_nan(g.get("true_positive_rate")) for g in live])
    fpr_diff, fpr_ratio = _gap_and_ratio([_nan(g.get("false_positive_rate")) for g in live])
    out["demographic_parity_difference"] = _none(dp_diff)
    out["demographic_parity_ratio"] = _none(dp_ratio)
    out["equalized_odds_difference"] = _none(max([tpr_diff, fpr_diff]))
    out["equalized_odds_ratio"] = _none(min([tpr_ratio, fpr_ratio]))
    return out


#: One group's one-vs-rest counts: (rows, per class: rows truly of it, rows predicted as it, rows both).
OneVsRest = tuple[int, Sequence[int], Sequence[int], Sequence[int]]
_GROUP_RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")


def one_vs_rest_rates(groups: Mapping[str, OneVsRest]) -> list[dict[str, dict[str, float | None]]]:
    """Per class k, per group: selection rate, TPR and FPR of the labels binarised as (y == k, pred == k).

    The binarised 2 x 2 matrices go through ``confusion_metrics_batch`` with positive = 1, so each class's
    rates are exactly the binary task's (and fairlearn's on the binarised labels). Empty groups are None.
    """
    out: list[dict[str, dict[str, float | None]]] = []
    for name, (count, true, predicted, correct) in groups.items():
        t, p, c = (np.asarray(a, dtype=np.int64) for a in (true, predicted, correct))
        cms = np.empty((len(t), 2, 2), dtype=np.int64)  # [class, is k, predicted k]
        cms[:, 1, 1], cms[:, 0, 1], cms[:, 1, 0] = c, p - c, t - c
        cms[:, 0, 0] = int(count) - t - (p - c)
        if (cms < 0).any():
            raise ValueError(f"inconsistent one-vs-rest counts for group {name!r}")
        batch = confusion_metrics_batch(cms, 1)
        while len(out) < len(t):
            out.append({})
        for k in range(len(t)):
            out[k][name] = {"count": int(count),
                            **{r: None if np.isnan(batch[r][k]) else float(batch[r][k]) for r in _GROUP_RATES}}
    return out


def class_fairness_gaps(groups: Mapping[str, OneVsRest]) -> list[dict[str, float | None]]:
    """Multiclass fairness one-vs-rest: ``fairness_gaps`` for each class's binarised labels, in class order."""
    return [fairness_gaps(per_group) for per_group in one_vs_rest_rates(groups)]


def worst_class_gaps(per_class: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Per fairness metric, the worst class's value (largest difference, smallest ratio); undefined classes are
    skipped, None when no class is defined."""
    out: dict[str, float | None] = {}
    for metric in FAIRNESS_METRICS:
        defined = [v for g in per_class if (v := g.get(metric)) is not None]
        pick = max if FAIRNESS_HIGHER_IS_WORSE[metric] else min
        out[metric] = float(pick(defined)) if defined else None
    return out
