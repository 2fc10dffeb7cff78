"""The values each metric can take, as intervals: one table read by the policy lint (a threshold outside it can
never fail or never pass, ``rules/limits.py``) and by the evidence schema (a measured value outside it was never
measured, ``evidence/schema.py``). A module of its own so both can import it: the rules import the evidence."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .metrics import FAIRNESS_METRICS, METRICS, REGRESSION_FAIRNESS_METRICS, REGRESSION_METRICS

INF = math.inf


def number_text(x: float) -> str:
    """A bound or a threshold as the messages print it: ``inf``, or up to 10 significant digits."""
    if x in (INF, -INF):
        return "inf" if x > 0 else "-inf"
    return f"{x:.10g}"


@dataclass(frozen=True)
class Range:
    """An interval of allowed values, closed unless marked open."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, x: float) -> bool:
        return self.holds(x)

    def holds(self, x: float, slack: float = 0.0) -> bool:
        """``x`` in the interval, a closed end widened by ``slack`` (a computed value's rounding; open ends stay
        exclusive and exact)."""
        above = x > self.low if self.low_open else x >= self.low - slack
        below = x < self.high if self.high_open else x <= self.high + slack
        return above and below

    def __str__(self) -> str:
        left = "(" if self.low_open or self.low == -INF else "["
        right = ")" if self.high_open or self.high == INF else "]"
        return f"{left}{number_text(self.low)}, {number_text(self.high)}{right}"


# The values each metric can take (metrics.py computes every one of them from counts).
METRIC_RANGES: dict[str, Range] = {m: Range(0.0, 1.0) for m in (*METRICS, *FAIRNESS_METRICS)}
# stored beside the metrics, read by fairness rules (equalized odds per group, one-vs-rest), not a rule's metric
METRIC_RANGES["true_positive_rate"] = Range(0.0, 1.0)
METRIC_RANGES["log_loss"] = Range(0.0, INF)
# task: regression, in the target's units (errors, the MAE gap between groups), a fraction (MAPE can pass 1), R^2
METRIC_RANGES |= {m: Range(0.0, INF) for m in (*REGRESSION_METRICS, *REGRESSION_FAIRNESS_METRICS)}
METRIC_RANGES["r2"] = Range(-INF, 1.0)
METRIC_RANGES["mean_error"] = Range(-INF, INF)  # a ceiling on it limits its magnitude
