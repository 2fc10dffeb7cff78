"""Which rules fit which task: a classification rule on a regression release (or the reverse) is refused.

Why refuse rather than let it run: ``calibration`` or ``metric_drop`` on ``accuracy`` would find no value in a
regression release's evidence and come out ``inconclusive``, which under a ``warn`` stance lets the release
ship on a check that never happened. ``governance check`` refuses such a policy before any model runs (exit 2,
naming the rule), and ``governance evaluate`` on saved evidence reports the rule as ``error`` with the reason.
"""

from __future__ import annotations

from typing import Any

from ..metrics import REGRESSION_FAIRNESS_METRICS, REGRESSION_METRICS

#: rule kinds that judge class predictions or probabilities only
CLASSIFICATION_KINDS = frozenset({"agreement", "calibration", "robustness_drop"})
#: rule kinds whose ``metric`` names a metric of the evidence's task
METRIC_KINDS = frozenset({"metric_drop", "metric_floor", "metric_ceiling", "slice_metric_drop", "fairness_gap"})
CLASSIFICATION_TASKS = frozenset({"binary_classification", "multiclass_classification"})

#: templates (format with kind / metric / metrics)
KIND_NOT_FOR_REGRESSION = ("kind {kind} judges class predictions; task: regression has none (use the regression "
                           "metrics: policies/regression.yaml)")
METRIC_NOT_FOR_REGRESSION = "{metric} is a classification metric; task: regression measures {metrics}"
METRIC_NOT_FOR_CLASSIFICATION = "{metric} is a regression metric; this release is a classifier"
CLASS_NOT_FOR_REGRESSION = "'class' slices by the true label; task: regression has no classes"


def task_problem(rule: Any, task: str) -> str | None:
    """Why ``rule`` cannot judge a release of ``task`` (None: it can)."""
    kind, metric = rule.kind, getattr(rule, "metric", None)
    regression_metric = metric in REGRESSION_METRICS or metric in REGRESSION_FAIRNESS_METRICS
    if task == "regression":
        if kind in CLASSIFICATION_KINDS:
            return KIND_NOT_FOR_REGRESSION.format(kind=kind)
        if kind in METRIC_KINDS and not regression_metric:
            names = REGRESSION_FAIRNESS_METRICS if kind == "fairness_gap" else REGRESSION_METRICS
            return METRIC_NOT_FOR_REGRESSION.format(metric=metric, metrics=", ".join(names))
        if "class" in (getattr(rule, "by", None) or []):
            return CLASS_NOT_FOR_REGRESSION
    elif task in CLASSIFICATION_TASKS and kind in METRIC_KINDS and regression_metric:
        return METRIC_NOT_FOR_CLASSIFICATION.format(metric=metric)
    return None
