"""The range every rule threshold can take, so a threshold that can never fail (or never pass) is a lint error.

``max_drop: 3`` for accuracy (a percentage where a fraction is meant) or ``min: 1.5`` for recall validates as
a float but decides nothing. One table names, for each rule kind and threshold field, the interval of
meaningful values; ``problems(rule)`` checks a validated rule against it. The rule modules need no edits:
fields the table does not list are ignored, except that every float must be finite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from ..ranges import INF, METRIC_RANGES, Range
from ..ranges import number_text as _num

OUTSIDE = "{field}: {value} is outside {interval}"
FRACTION_HINT = "; {subject} is a fraction: did you mean {suggestion}?"
NEGATIVE_HINT = "; {subject} cannot be negative"
NOT_FINITE = "{field}: {value} is not a finite number"


Scale = Literal["value", "change"]


@dataclass(frozen=True)
class Limit:
    """A threshold field: a fixed range, or one taken from the rule's ``metric`` (its value or a change of it)."""

    subject: str  # what the number is, for the hint ("the ECE", "a share")
    fixed: Range | None = None
    metric: Scale | None = None

    def range_for(self, metric: str | None) -> Range | None:
        if self.fixed is not None:
            return self.fixed
        metric_range = METRIC_RANGES.get(str(metric))
        if metric_range is None:
            return None
        if self.metric == "change":  # how much worse: from nothing up to the metric's whole span
            return Range(0.0, metric_range.high - metric_range.low)
        return metric_range


FRACTION = Range(0.0, 1.0)
POSITIVE = Range(0.0, INF, low_open=True)

LIMITS: dict[str, dict[str, Limit]] = {
    "metric_drop": {"max_drop": Limit("a drop", metric="change"),
                    "max_relative_drop": Limit("a relative drop", FRACTION)},
    "metric_floor": {"min": Limit("the metric", metric="value")},
    "metric_ceiling": {"max": Limit("the metric", metric="value")},
    "slice_metric_drop": {"max_drop": Limit("a drop", metric="change"),
                          "max_relative_drop": Limit("a relative drop", FRACTION)},
    "fairness_gap": {"max": Limit("a fairness difference", metric="value"),
                     "max_increase": Limit("a fairness difference", metric="change"),
                     "min": Limit("a fairness ratio", FRACTION),
                     "max_decrease": Limit("a fairness ratio", FRACTION)},
    "agreement": {"min": Limit("agreement", FRACTION), "min_per_slice": Limit("agreement", FRACTION)},
    "calibration": {"max_ece": Limit("the ECE", FRACTION), "max_ece_increase": Limit("the ECE", FRACTION)},
    "robustness_drop": {"max_extra_drop": Limit("an accuracy loss", FRACTION),
                        "level": Limit("a noise level", POSITIVE)},
    "efficiency": {"min_sparsity": Limit("sparsity", FRACTION),
                   "min_size_reduction": Limit("a size reduction", Range(0.0, 1.0, high_open=True)),
                   "min_speedup": Limit("a speed-up", POSITIVE),
                   "max_latency_ms": Limit("a latency", POSITIVE)},
    "leakage": {"max_overlap_share": Limit("a share of rows", FRACTION)},
    "pii_scan": {"min_share": Limit("a share of values", Range(0.0, 1.0, low_open=True))},
    "distinct_models": {"score_tolerance": Limit("a score difference", FRACTION)},
    "provenance": {"max_pruning_shortfall": Limit("a pruning fraction", FRACTION)},
    "group_drop": {"max_drop": Limit("a drop", metric="change")},
    "data_quality": {"max_missing_share": Limit("a share of values", FRACTION),
                     "max_duplicate_share": Limit("a share of rows", FRACTION),
                     "min_class_share": Limit("a share of rows", FRACTION),
                     "max_class_balance_distance": Limit("a total variation distance", FRACTION)},
    "production_agreement": {"min_agreement": Limit("agreement", FRACTION),
                             "max_flip_rate": Limit("a flip rate", FRACTION),
                             "max_score_js": Limit("a Jensen-Shannon distance", FRACTION)},
    "label_free_performance": {"max_drop": Limit("an accuracy drop", FRACTION),
                               "min_accuracy": Limit("accuracy", FRACTION), "max_ece": Limit("the ECE", FRACTION)},
    "representativeness": {"max_feature_distance": Limit("a feature distance", Range(0.0, INF)),
                           "drift_threshold": Limit("a feature distance", Range(0.0, INF, low_open=True)),
                           "max_drifted_share": Limit("a share of features", FRACTION),
                           "max_share_ratio": Limit("a slice share ratio", Range(1.0, INF))},
}


def problems(rule: BaseModel | Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(field, message)`` for each threshold of ``rule`` outside its range (and each non-finite float).

    ``rule`` is a validated rule or its raw mapping (checked before pydantic, so the range message, not a bare
    "less than or equal to 1", is what the user reads); values that are not numbers are left to pydantic.
    """
    if isinstance(rule, BaseModel):
        items = [(name, getattr(rule, name)) for name in type(rule).model_fields]
        kind, metric = getattr(rule, "kind", None), getattr(rule, "metric", None)
    else:
        items = list(rule.items())
        kind, metric = rule.get("kind"), rule.get("metric")
    table = LIMITS.get(kind, {}) if isinstance(kind, str) else {}
    out: list[tuple[str, str]] = []
    for name, value in items:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        name = str(name)
        if not math.isfinite(value):
            out.append((name, NOT_FINITE.format(field=name, value=value)))
            continue
        limit = table.get(name)
        allowed = limit.range_for(metric if isinstance(metric, str) else None) if limit is not None else None
        if limit is None or allowed is None or value in allowed:
            continue
        message = OUTSIDE.format(field=name, value=_num(value), interval=allowed)
        subject = str(metric) if limit.metric and isinstance(metric, str) else limit.subject
        if allowed.high == 1.0 and 1.0 < value <= 100.0:
            message += FRACTION_HINT.format(subject=subject, suggestion=_num(round(value / 100, 10)))
        elif value < 0 <= allowed.low:
            message += NEGATIVE_HINT.format(subject=limit.subject)
        out.append((name, message))
    return out
