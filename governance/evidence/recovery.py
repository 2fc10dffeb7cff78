"""Recovery: how much of the baseline's score the compressed candidate keeps, per metric.

Compressed-model cards (Neural Magic / Red Hat's quantized and sparse models on the Hugging Face Hub) report
"recovery" as candidate score / baseline score, in percent: 99.2% = the candidate keeps 99.2% of the baseline's
accuracy. That reading (1.0 = fully recovered, below 1 = worse) is kept for every metric: for higher-is-better
metrics recovery = candidate / baseline; for lower-is-better ones (log loss, error rates, MAE, ...) it is
baseline / candidate, so that a candidate whose log loss rose from 0.30 to 0.36 recovers 0.30 / 0.36 = 83%.
Metrics judged by magnitude (``mean_error``) use magnitudes. Recovery is undefined (None) where the
denominator is 0, where a lower-is-better baseline is 0 (a perfect baseline: any ratio to it says nothing),
where either value is negative or missing (a ratio of a negative R^2 says nothing), and for ``selection_rate``
(a share of positive predictions, neither better nor worse when higher). It is a
figure for the card and the report, computed from the point estimates already in the evidence; rules decide
on drops (``max_drop`` / ``max_relative_drop``), not on recovery.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..metrics import BY_MAGNITUDE, HIGHER_IS_BETTER, judged
from .schema import Evidence, ModelEvidence, Number, Recovery

#: metrics that are not scores (no better or worse direction): no recovery
NOT_SCORES = frozenset({"selection_rate"})
DEFINITION = ("candidate / baseline for higher-is-better metrics, baseline / candidate for lower-is-better ones "
              "(magnitudes for mean_error), so that for every metric 1.0 = the baseline's score fully recovered and "
              "below 1 = the candidate is worse (compressed-model cards' 'recovery', as a fraction); null where the "
              "denominator is 0, a lower-is-better baseline is 0, a value is negative or missing, and for "
              "selection_rate")


def recovery(metric: str, baseline: Number, candidate: Number) -> float | None:
    """The candidate's recovery of the baseline's ``metric`` (see the module docstring)."""
    if baseline is None or candidate is None or metric not in HIGHER_IS_BETTER or metric in NOT_SCORES:
        return None
    b, c = (judged(metric, float(baseline)), judged(metric, float(candidate))) if metric in BY_MAGNITUDE else (
        float(baseline), float(candidate))
    if b < 0 or c < 0 or (b == 0 and not HIGHER_IS_BETTER[metric]):
        return None
    num, den = (c, b) if HIGHER_IS_BETTER[metric] else (b, c)
    ratio = num / den if den else None
    return ratio if ratio is not None and math.isfinite(ratio) else None  # a subnormal baseline: no figure


def figures(baseline: Mapping[str, Number], candidate: Mapping[str, Number]) -> dict[str, float | None]:
    """metric -> recovery, for every metric both models report (counts and shares left out)."""
    return {m: recovery(m, baseline[m], candidate.get(m)) for m in baseline
            if m in HIGHER_IS_BETTER and m not in NOT_SCORES and m in candidate}


def measure(base: ModelEvidence, cand: ModelEvidence) -> Recovery:
    """Recovery overall and for every slice both models were measured on."""
    slices = {dim: {value: figures(stats, cand.slices.get(dim, {}).get(value, {})) for value, stats in values.items()}
              for dim, values in base.slices.items()}
    return Recovery(definition=DEFINITION, overall=figures(base.overall, cand.overall), slices=slices)


def with_recovery(evidence: Evidence) -> Evidence:
    """``evidence`` with its recovery figures (every task's evidence gets them the same way, after collection)."""
    return evidence.model_copy(update={"recovery": measure(evidence.models["baseline"], evidence.models["candidate"])})
