"""What evidence a policy's rules read, so that collection can skip what no rule decides on.

The one costly case is the Poisson bootstrap of log loss and ROC AUC (``evidence/replicates.py``): 1,000 weights
per row and replicate, ten times the inference of a small model (``docs/scale.md``). Under
``evaluation.bootstrap.score_intervals: auto`` it is computed only when a rule reads those intervals. The test is
conservative: a rule kind this module does not know (a plugin) counts as a reader, and a rule that needs an
interval the evidence lacks is an error finding (``stats.NoInterval``), never a pass.
"""

from __future__ import annotations

from typing import Any

from . import KINDS

__all__ = ["SCORE_INTERVAL_METRICS", "score_interval_readers"]

#: the classification metrics whose intervals come from the Poisson bootstrap, not from the joint counts
SCORE_INTERVAL_METRICS = frozenset({"log_loss", "roc_auc"})
#: kinds that read an interval only with ``decide_on: bound``; under ``point`` they quote it when present and
#: decide on the estimate (performance.py, groups.py)
_POINT_UNLESS_BOUND = frozenset({"metric_drop", "metric_floor", "metric_ceiling", "group_drop"})


def score_interval_readers(rules: list[Any]) -> list[str]:
    """IDs of the rules that read (or, being a plugin's, may read) a log-loss or ROC AUC interval: every rule on
    those metrics but the point-decided overall and named-group drops; slice_metric_drop reads them whatever it
    decides on (thin slices are judged by whether the drop's interval excludes 0, multiple-comparison corrections
    read p-values off them)."""
    readers = []
    for rule in rules:
        if rule.kind not in KINDS:
            readers.append(rule.id)
        elif getattr(rule, "metric", None) in SCORE_INTERVAL_METRICS and not (
                rule.kind in _POINT_UNLESS_BOUND and getattr(rule, "decide_on", "point") == "point"):
            readers.append(rule.id)  # e.g. slice_metric_drop: thin slices and multiple comparisons read intervals
    return readers
