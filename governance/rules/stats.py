"""Deciding on intervals: the drop's bound, one-sided p-values, and multiple-comparison corrections."""

from __future__ import annotations

from statistics import NormalDist
from typing import Literal

import numpy as np

from ..evidence.schema import Comparison, Evidence
from ..metrics import BY_MAGNITUDE, HIGHER_IS_BETTER

DecideOn = Literal["point", "bound"]
Correction = Literal["holm", "bh", "none"]


class NoInterval(LookupError):
    """The rule asks for an interval the evidence does not carry (e.g. intervals were turned off)."""


#: the evidence was collected without intervals
NO_INTERVALS = "the evidence has no confidence intervals (evaluation.bootstrap.resamples is 0)"
#: one interval is missing (template: metric, where, why; why from evidence.comparisons.missing when it says)
NO_INTERVAL = "no interval for {metric} ({where}): {why}"
NO_INTERVAL_WHY = "the evidence carries none for it (undefined in every resample, or a metric without intervals)"
#: fewest resamples a rule decides on: a 95% percentile interval's ends are then the 5th and 195th of 200 ordered
#: replicates, not one or two draws (with 1 resample the "interval" is a single draw, which need not even contain the
#: estimate). Fewer still make intervals (quoted, never decided on).
MIN_RESAMPLES = 200
#: the evidence's intervals come from too few resamples (template: n, minimum)
TOO_FEW_RESAMPLES = ("its intervals come from {n} resamples, too few to decide on (at least {minimum}: raise "
                     "evaluation.bootstrap.resamples)")


#: lowest interval confidence a rule decides on. The release manifest sets the confidence
#: (evaluation.bootstrap.confidence), the policy decides on the interval's end: at 0.0001 the "interval" is a point
#: near the bootstrap median, and a policy that asked for a conservative bound would get the point estimate or less.
MIN_CONFIDENCE = 0.8
#: highest confidence a significance test (multiple_comparisons) decides at: its alpha is 1 - confidence, and at
#: 0.999999 no slice's drop would ever be significant, so nothing would fail
MAX_TEST_CONFIDENCE = 0.99
#: the evidence's intervals are at too low a confidence (template: confidence, minimum)
TOO_LOW_CONFIDENCE = ("its intervals are at {confidence:.4g} confidence, too low to decide on (at least {minimum}: "
                      "raise evaluation.bootstrap.confidence)")
#: a test's alpha would be too small (template: confidence, maximum)
TOO_HIGH_CONFIDENCE = ("its intervals are at {confidence:.6g} confidence: a significance test at alpha = 1 - "
                       "confidence that small fails nothing (at most {maximum} to test at: lower "
                       "evaluation.bootstrap.confidence)")


def enough_resamples(resamples: int, confidence: float) -> None:
    """Raise ``NoInterval`` when intervals from ``resamples`` replicates at ``confidence`` are too rough, or too
    narrow, to decide on."""
    if resamples < MIN_RESAMPLES:
        raise NoInterval(TOO_FEW_RESAMPLES.format(n=resamples, minimum=MIN_RESAMPLES))
    if not confidence >= MIN_CONFIDENCE:
        raise NoInterval(TOO_LOW_CONFIDENCE.format(confidence=confidence, minimum=MIN_CONFIDENCE))


def testing_confidence(evidence: Evidence) -> float:
    """The confidence a significance test over the evidence's intervals runs at (alpha = 1 - it); raises
    ``NoInterval`` when it is outside what a test may decide at."""
    conf = confidence(evidence)
    if not conf <= MAX_TEST_CONFIDENCE:
        raise NoInterval(TOO_HIGH_CONFIDENCE.format(confidence=conf, maximum=MAX_TEST_CONFIDENCE))
    return conf


def worse_end(point: float, bound: float, *, higher_is_worse: bool = True) -> float:
    """What ``decide_on: bound`` judges: the interval's worse end, never better than the point estimate (a
    percentile interval need not contain the estimate; deciding on the bound is never more lenient than on the
    point)."""
    return max(point, bound) if higher_is_worse else min(point, bound)


def confidence(evidence: Evidence) -> float:
    """The intervals' confidence level; raises ``NoInterval`` when the evidence carries none (or too rough ones)."""
    if evidence.comparisons is None:
        raise NoInterval(NO_INTERVALS)
    enough_resamples(evidence.comparisons.resamples, evidence.comparisons.confidence)
    return evidence.comparisons.confidence


#: the comparison of a ``BY_MAGNITUDE`` metric's magnitude (|mean_error|), the one its rules decide on
MAGNITUDE_KEY = "abs_{metric}"


def comparison(evidence: Evidence, metric: str, dim: str | None = None, value: str | None = None) -> Comparison:
    comps = evidence.comparisons
    if comps is None:
        raise NoInterval(NO_INTERVALS)
    if metric in BY_MAGNITUDE:  # judged by |value|: the paired intervals of the magnitudes
        metric = MAGNITUDE_KEY.format(metric=metric)
    found = comps.overall.get(metric) if dim is None else comps.slices.get(dim, {}).get(value or "", {}).get(metric)
    if found is None or found.difference_ci is None:
        where = "overall" if dim is None else f"{dim}={value}"
        why = comps.missing.get(metric) or comps.missing.get(metric.removeprefix("abs_"), NO_INTERVAL_WHY)
        raise NoInterval(NO_INTERVAL.format(metric=metric, where=where, why=why))
    enough_resamples(comps.resamples, comps.confidence)
    return found


def drop_interval(metric: str, comp: Comparison) -> tuple[float, float]:
    """The interval of the drop (positive = worse), from the interval of candidate - baseline."""
    ci = comp.difference_ci
    assert ci is not None
    if HIGHER_IS_BETTER[metric]:
        return -ci.ci_high, -ci.ci_low
    return ci.ci_low, ci.ci_high


def p_excess(drop: float, low: float, high: float, limit: float, confidence: float) -> float:
    """One-sided p-value for "the true drop is within the limit", by a normal approximation whose spread
    is read off the bootstrap interval. Small p: the drop is significantly larger than the limit."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    se = (high - low) / (2 * z)
    if se <= 0:
        return 0.0 if drop > limit else 1.0
    return 1.0 - NormalDist().cdf((drop - limit) / se)


def reject(pvalues: list[float], alpha: float, method: Correction) -> list[bool]:
    """Which hypotheses are rejected at family-wise (Holm) or false-discovery (Benjamini-Hochberg) level alpha."""
    m = len(pvalues)
    if m == 0:
        return []
    p = np.asarray(pvalues, dtype=np.float64)
    if method == "none":
        return list(p <= alpha)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    out = np.zeros(m, dtype=bool)
    if method == "holm":
        for i, pv in enumerate(ranked):
            if pv > alpha / (m - i):
                break
            out[order[i]] = True
    else:  # bh: reject the k smallest, k the largest rank with p_(k) <= k/m * alpha
        below = np.flatnonzero(ranked <= (np.arange(1, m + 1) / m) * alpha)
        if below.size:
            out[order[: below[-1] + 1]] = True
    return list(out)
