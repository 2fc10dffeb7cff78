"""Monitor rules: judge one window of production logs against the release's monitoring contract.

Each kind is a pure check of ``WindowFacts`` (the contract, the window's summary and its feature distances), the
same ``@rule`` shape as the release kinds, in a registry of its own (``MONITOR_KINDS``): a monitor policy holds
these kinds and nothing else, and a release policy none of them. Every limit is an effect size or a difference
of rates, never a p-value (which flags everything at production's sample sizes). A window too small to decide,
or a watch the contract cannot support, is ``inconclusive`` with the reason, never ``pass``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from ..findings import Finding, Status
from .base import PolicyDefaults, RuleBase, RuleKind, finding, fmt, kind_of, require_one_limit, rule

if TYPE_CHECKING:
    from ..evidence.profile import FeatureDistance
    from ..monitor.contract import MonitoringContract
    from ..monitor.window import WindowSummary

#: a limit the chart draws: the observed value must stay at or below it ("max") or at or above it ("min")
DIRECTION = "direction"
TOO_FEW_ROWS = "only {rows} rows in the window (minimum {minimum}): {what} not judged"
TOO_FEW_LABELS = "only {labelled} labelled rows in the window (minimum {minimum}): realized {metric} not judged"
LEFT_OUT = "not judged: {why}"
NO_EXPECTED = "the contract holds no expected {what}: not judged"
NO_SHADOW = "the window holds no shadow baseline scores: agreement not judged"
UNCALIBRATED = ("the candidate's calibration on the evaluation set (ECE {ece}) is above {limit}: a confidence-based "
                "estimate would be biased, so it is not judged")
NO_CALIBRATION = "the contract holds no calibration of the candidate: a label-free estimate is not judged"
ESTIMATE_ASSUMPTIONS = ("the estimate (mean top-label confidence) assumes the candidate's scores stay calibrated "
                        "on production, i.e. the shift is in the inputs (covariate shift), not in how labels "
                        "follow from them (concept drift)")


@dataclass(frozen=True)
class WindowFacts:
    """What a monitor rule judges: the contract, one window's summary, and its features' distances (None: no
    reference profile)."""

    contract: MonitoringContract
    window: WindowSummary
    distances: dict[str, FeatureDistance] | None


Expectation = Literal["auto", "evaluation", "production"]


class _WindowRule(RuleBase):
    min_rows: int | None = Field(None, ge=1, description="windows with fewer rows are inconclusive (default: the "
                                                         "policy's defaults.min_slice_size)")


def _too_small(rule: _WindowRule, facts: WindowFacts, defaults: PolicyDefaults, what: str) -> Finding | None:
    minimum = rule.min_rows or defaults.min_slice_size
    rows = facts.window.overall.rows
    if rows < minimum:
        return finding(rule, Status.INCONCLUSIVE, TOO_FEW_ROWS.format(rows=rows, minimum=minimum, what=what),
                       rows=rows)
    return None


def _left_out(rule: RuleBase, facts: WindowFacts, watch: str) -> Finding | None:
    why = facts.contract.left_out.get(watch)
    return finding(rule, Status.INCONCLUSIVE, LEFT_OUT.format(why=why)) if why else None


def _expected(facts: WindowFacts, which: Expectation, quantity: Literal["accuracy", "agreement"]
              ) -> tuple[float | None, str]:
    """The expected value and where it came from: production (weighted or measured there) when asked or, for
    ``auto``, when the contract has it; else the evaluation set."""
    exp = getattr(facts.contract, quantity)
    if which in ("auto", "production") and exp.production is not None:
        return exp.production, "production"
    if which == "production":
        return None, "production"
    return exp.evaluation, "evaluation"


# --- feature drift ------------------------------------------------------------------------------------------
#: watched features with no value in the window (template: features, verb)
NO_VALUES_IN_WINDOW = ("{features} {verb} no value in this window (every row missing or not a finite number): an "
                       "input that stopped arriving, whose drift cannot be judged")


class FeatureDriftRule(_WindowRule):
    """Fails when the window's features moved away from the contract's reference profile: the worst feature's
    distance above ``max_distance``, or more than ``max_drifted_share`` of the features past ``drift_distance``.
    Distances are effect sizes (evidence/profile.py): normed Wasserstein for numeric features, Jensen-Shannon
    (natural log) for categorical ones; an infinite or undefined distance counts as drifted. The distances leave
    missing values out, so the values that did arrive can look like the reference while most rows lost the input:
    a feature whose missing share rose more than ``max_missing_increase`` above the reference's fails too (a
    feature with no value at all in the window among them). With that limit off, a feature with no value is an
    outage, not a drift estimate: a rule it would otherwise pass is inconclusive, so a share limit cannot wave
    through inputs that stopped arriving."""

    kind: Literal["feature_drift"]
    drift_distance: float = Field(0.1, ge=0, le=10, description="a feature whose distance exceeds this counts as "
                                                                "drifted (Evidently's default threshold)")
    max_distance: float | None = Field(None, ge=0, le=10, description="the worst feature's distance at most this")
    max_drifted_share: float | None = Field(0.5, ge=0, le=1, description="the share of drifted features at most "
                                                                        "this (Evidently's dataset-drift default)")
    features: list[str] | None = Field(None, description="the features watched (default: every profiled feature)")
    max_missing_increase: float | None = Field(
        0.1, ge=0, le=1, description="a feature's missing share in the window at most this far above the "
                                     "reference's (a share difference: 0.1 is ten points; null: not checked)")

    @model_validator(mode="after")
    def _a_limit(self) -> FeatureDriftRule:
        require_one_limit(self, "max_distance", "max_drifted_share")
        return self


@rule("feature_drift", FeatureDriftRule)
def feature_drift(rule: FeatureDriftRule, facts: WindowFacts, defaults: PolicyDefaults) -> Finding:
    if (out := _left_out(rule, facts, "feature_drift") or _too_small(rule, facts, defaults, "feature drift")):
        return out
    if facts.distances is None:
        return finding(rule, Status.INCONCLUSIVE, LEFT_OUT.format(why="the window has no feature profile"))
    watched = {k: v for k, v in facts.distances.items() if rule.features is None or k in rule.features}
    if not watched:
        return finding(rule, Status.INCONCLUSIVE, "none of the watched features is profiled: not judged")
    inf = float("inf")
    value = {k: (inf if d.distance is None else d.distance) for k, d in watched.items()}
    drifted = sorted(k for k, v in value.items() if v > rule.drift_distance)
    share = len(drifted) / len(watched)
    worst = max(value, key=lambda k: (value[k], k))
    shown = "undefined" if value[worst] == inf else fmt(value[worst])
    problems = []
    if rule.max_distance is not None and value[worst] > rule.max_distance:
        problems.append(f"the worst feature {worst!r} is at {shown}, above {fmt(rule.max_distance)}")
    if rule.max_drifted_share is not None and share > rule.max_drifted_share:
        problems.append(f"{len(drifted)} of {len(watched)} features drifted ({share:.0%}), more than "
                        f"{rule.max_drifted_share:.0%}")
    head = (f"feature drift vs the {facts.contract.reference.source if facts.contract.reference else '?'} "
            f"reference: worst {worst!r} {watched[worst].method} {shown}; {len(drifted)} of {len(watched)} past "
            f"{fmt(rule.drift_distance)}")
    finite = None if value[worst] == inf else value[worst]
    observed, threshold = ((finite, rule.max_distance) if rule.max_distance is not None
                           else (share, rule.max_drifted_share))
    details = {DIRECTION: "max", "worst_feature": worst, "drifted": drifted, "drifted_share": share,
               "distances": {k: d.distance for k, d in sorted(watched.items())},
               "quantity": "worst feature distance" if rule.max_distance is not None else "share of drifted features"}
    absent = sorted(k for k, d in watched.items() if d.current_rows and d.current_missing_share == 1.0)
    limit = rule.max_missing_increase
    rise = {k: c for k, d in watched.items() if (c := d.missing_share_change) is not None}
    emptier = sorted((k for k in rise if limit is not None and rise[k] > limit), key=lambda k: (-rise[k], k))
    if emptier and limit is not None:
        shown_rise = ", ".join(f"{k!r} {watched[k].current_missing_share:.0%} (reference "
                               f"{watched[k].reference_missing_share:.0%})" for k in emptier)
        problems.append(f"missing values up more than {limit * 100:g} points: {shown_rise}")
        details["missing_increase"] = {k: rise[k] for k in emptier}
    if problems:
        status, tail = Status.FAIL, "; ".join(problems)
    elif absent:
        status, tail = Status.INCONCLUSIVE, NO_VALUES_IN_WINDOW.format(
            features=", ".join(repr(k) for k in absent), verb="has" if len(absent) == 1 else "have")
    else:
        status, tail = Status.PASS, "within limits"
    return finding(rule, status, f"{head}: {tail}.", observed=observed, threshold=threshold,
                   **details, **({"no_values": absent} if absent else {}))


# --- score drift --------------------------------------------------------------------------------------------
def js_distance(p_counts: list[int], q_counts: list[int]) -> float | None:
    """Jensen-Shannon distance (natural log, scipy's default) of two histograms over the same bins."""
    from scipy.spatial.distance import jensenshannon

    p, q = np.asarray(p_counts, dtype=np.float64), np.asarray(q_counts, dtype=np.float64)
    if p.shape != q.shape or not p.sum() or not q.sum():
        return None
    return float(jensenshannon(p / p.sum(), q / q.sum()))


class ScoreDriftRule(_WindowRule):
    """Fails when the deployed model's score distribution in the window is further than ``max_distance``
    (Jensen-Shannon distance, natural log) from the distribution the contract expects (the candidate's scores on
    the evaluation set, same equal-width bins). Needs no labels: it moves when inputs shift or the model changes."""

    kind: Literal["score_drift"]
    max_distance: float = Field(0.1, ge=0, le=1, description="the Jensen-Shannon distance at most this")


@rule("score_drift", ScoreDriftRule)
def score_drift(rule: ScoreDriftRule, facts: WindowFacts, defaults: PolicyDefaults) -> Finding:
    if (out := _left_out(rule, facts, "score_drift") or _too_small(rule, facts, defaults, "score drift")):
        return out
    expected = facts.contract.scores
    if expected is None:
        return finding(rule, Status.INCONCLUSIVE, NO_EXPECTED.format(what="score distribution"))
    d = js_distance(expected.counts, facts.window.overall.scores)
    if d is None:
        return finding(rule, Status.ERROR, "the window's score bins do not match the contract's")
    per_slice = {}
    for dim, values in facts.contract.slices.items():
        for value, exp in values.items():
            got = facts.window.slices.get(dim, {}).get(value)
            if exp.scores is not None and got is not None:
                per_slice[f"{dim}={value}"] = js_distance(exp.scores.counts, got.scores)
    status = Status.FAIL if d > rule.max_distance else Status.PASS
    verb = "above" if status == Status.FAIL else "within"
    msg = (f"score distribution ({facts.contract.score}, {len(expected.counts)} bins): Jensen-Shannon distance "
           f"{fmt(d)} from the expected, {verb} the limit {fmt(rule.max_distance)}.")
    return finding(rule, status, msg, observed=d, threshold=rule.max_distance, **{
        DIRECTION: "max", "quantity": "score Jensen-Shannon distance", "slices": per_slice,
        "window_scores": facts.window.overall.scores, "expected_scores": expected.counts})


# --- realized performance (delayed labels) -----------------------------------------------------------------
class RealizedPerformanceRule(RuleBase):
    """When labels have arrived: fails when the deployed model's accuracy on the window's labelled rows is more
    than ``max_drop`` below the expected accuracy (the evaluation set's, or production-weighted when the contract
    has it and ``expected`` allows). Fewer than ``min_labelled`` labelled rows is inconclusive."""

    kind: Literal["realized_performance"]
    metric: Literal["accuracy"] = "accuracy"
    max_drop: float = Field(ge=0, le=1, description="accuracy may be at most this far below the expected")
    min_labelled: int = Field(100, ge=1, description="labelled rows needed to judge")
    expected: Expectation = Field("auto", description="the expected accuracy: evaluation, production (weighted), "
                                                      "or auto (production when the contract has it)")


@rule("realized_performance", RealizedPerformanceRule)
def realized_performance(rule: RealizedPerformanceRule, facts: WindowFacts, defaults: PolicyDefaults) -> Finding:
    if (out := _left_out(rule, facts, "realized_performance")):
        return out
    counts = facts.window.overall
    if counts.labelled < rule.min_labelled:
        return finding(rule, Status.INCONCLUSIVE, TOO_FEW_LABELS.format(labelled=counts.labelled,
                                                                        minimum=rule.min_labelled, metric=rule.metric),
                       labelled=counts.labelled)
    expected, source = _expected(facts, rule.expected, "accuracy")
    if expected is None:
        return finding(rule, Status.INCONCLUSIVE, NO_EXPECTED.format(what=f"{source} accuracy"))
    acc = counts.accuracy
    assert acc is not None  # labelled >= min_labelled >= 1
    return _against_floor(rule, acc, expected, source, f"realized accuracy {fmt(acc)} on {counts.labelled} labelled "
                          f"rows", "realized accuracy", f"drop {fmt(expected - acc)}, ",
                          labelled=counts.labelled, drop=expected - acc)


def _against_floor(rule: RealizedPerformanceRule | EstimatedPerformanceRule | ShadowAgreementRule, observed: float,
                   expected: float, source: str, what: str, quantity: str, clause: str = "", **details: Any) -> Finding:
    """Fails when ``observed`` is below the expected value minus the rule's ``max_drop`` (the floor); ``what`` and
    ``clause`` open and extend the sentence."""
    floor = expected - rule.max_drop
    status = Status.FAIL if observed < floor else Status.PASS
    verb = "below" if status == Status.FAIL else "at or above"
    msg = f"{what} vs expected {fmt(expected)} ({source}): {clause}{verb} the floor {fmt(floor)}."
    return finding(rule, status, msg, observed=observed, threshold=floor, **{
        DIRECTION: "min", "quantity": quantity, "expected": expected, "expected_from": source, **details})


# --- label-free estimate ------------------------------------------------------------------------------------
class EstimatedPerformanceRule(_WindowRule):
    """Without labels: the candidate's expected accuracy on the window is the mean top-label confidence of its
    scores (NannyML's CBPE idea), valid only when the candidate was calibrated on the evaluation set (ECE at most
    ``max_ece``, else inconclusive). Fails when the estimate is more than ``max_drop`` below the expected accuracy."""

    kind: Literal["estimated_performance"]
    max_drop: float = Field(ge=0, le=1, description="the estimated accuracy at most this far below the expected")
    max_ece: float = Field(0.05, ge=0, le=1, description="the estimate is judged only when the candidate's ECE on "
                                                         "the evaluation set is at most this")
    expected: Expectation = Field("auto", description="the expected accuracy: evaluation, production (weighted), "
                                                      "or auto")


@rule("estimated_performance", EstimatedPerformanceRule)
def estimated_performance(rule: EstimatedPerformanceRule, facts: WindowFacts, defaults: PolicyDefaults) -> Finding:
    if (out := _left_out(rule, facts, "estimated_performance")
            or _too_small(rule, facts, defaults, "the label-free estimate")):
        return out
    cal = facts.contract.calibration
    if cal is None or cal.ece is None:
        return finding(rule, Status.INCONCLUSIVE, NO_CALIBRATION)
    if cal.ece > rule.max_ece:
        return finding(rule, Status.INCONCLUSIVE, UNCALIBRATED.format(ece=fmt(cal.ece), limit=fmt(rule.max_ece)),
                       ece=cal.ece)
    expected, source = _expected(facts, rule.expected, "accuracy")
    if expected is None:
        return finding(rule, Status.INCONCLUSIVE, NO_EXPECTED.format(what=f"{source} accuracy"))
    est = facts.window.overall.estimated_accuracy
    assert est is not None  # rows >= min_rows >= 1
    return _against_floor(rule, est, expected, source, f"estimated accuracy {fmt(est)} (mean top-label confidence, "
                          f"candidate ECE {fmt(cal.ece)} on the evaluation set)", "estimated accuracy (label-free)",
                          ece=cal.ece, assumptions=ESTIMATE_ASSUMPTIONS)


# --- shadow agreement ---------------------------------------------------------------------------------------
class ShadowAgreementRule(_WindowRule):
    """When the window logs a shadow baseline's scores: fails when the share of rows where the deployed
    (pruned) model and the baseline predict the same label is more than ``max_drop`` below the agreement the
    release measured. Needs no labels."""

    kind: Literal["shadow_agreement"]
    max_drop: float = Field(ge=0, le=1, description="agreement at most this far below the expected")
    expected: Expectation = Field("auto", description="the expected agreement: evaluation, production, or auto")


@rule("shadow_agreement", ShadowAgreementRule)
def shadow_agreement(rule: ShadowAgreementRule, facts: WindowFacts, defaults: PolicyDefaults) -> Finding:
    if (out := _left_out(rule, facts, "agreement")):
        return out
    counts = facts.window.overall
    if counts.shadow == 0:
        return finding(rule, Status.INCONCLUSIVE, NO_SHADOW)
    minimum = rule.min_rows or defaults.min_slice_size
    if counts.shadow < minimum:
        return finding(rule, Status.INCONCLUSIVE, TOO_FEW_ROWS.format(rows=counts.shadow, minimum=minimum,
                                                                      what="agreement"))
    expected, source = _expected(facts, rule.expected, "agreement")
    if expected is None:
        return finding(rule, Status.INCONCLUSIVE, NO_EXPECTED.format(what=f"{source} agreement"))
    agree = counts.agreement
    assert agree is not None
    return _against_floor(rule, agree, expected, source, f"agreement with the shadow baseline {fmt(agree)} on "
                          f"{counts.shadow} rows", "agreement with the baseline")


_CHECKS = (feature_drift, score_drift, realized_performance, estimated_performance, shadow_agreement)

#: the monitor's rule kinds, by kind (a registry apart from the release kinds in ``rules.KINDS``)
MONITOR_KINDS: dict[str, RuleKind] = {kind_of(c).kind: kind_of(c) for c in _CHECKS}

#: one example per monitor kind (the policy reference prints them; a test validates each)
EXAMPLES: dict[str, dict[str, object]] = {
    "feature_drift": {"id": "MON-DRIFT-001", "kind": "feature_drift", "drift_distance": 0.1, "max_distance": 0.3,
                      "max_drifted_share": 0.5, "rmf": ["MEASURE 2.4", "MANAGE 4.1"]},
    "score_drift": {"id": "MON-SCORE-001", "kind": "score_drift", "max_distance": 0.1, "rmf": ["MEASURE 2.4"]},
    "realized_performance": {"id": "MON-PERF-001", "kind": "realized_performance", "max_drop": 0.03,
                             "min_labelled": 200, "rmf": ["MEASURE 2.4", "MANAGE 2.4"]},
    "estimated_performance": {"id": "MON-EST-001", "kind": "estimated_performance", "max_drop": 0.03,
                              "max_ece": 0.05, "severity": "warn", "rmf": ["MEASURE 2.4", "MANAGE 4.1"]},
    "shadow_agreement": {"id": "MON-AGREE-001", "kind": "shadow_agreement", "max_drop": 0.02,
                         "rmf": ["MEASURE 2.4"]},
}
