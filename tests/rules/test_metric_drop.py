"""metric_drop: the candidate may lose at most ``max_drop`` of an overall metric against the baseline."""

from __future__ import annotations

import pytest
from builders import OVERALL_B, OVERALL_C, evidence, one

from governance.evidence.schema import Evidence
from governance.findings import Status


@pytest.mark.parametrize("rule,status", [
    ({"kind": "metric_drop", "metric": "accuracy", "max_drop": 0.02}, Status.PASS),
    ({"kind": "metric_drop", "metric": "accuracy", "max_drop": 0.01}, Status.FAIL),
    # lower-is-better: a rise in log loss is the drop
    ({"kind": "metric_drop", "metric": "log_loss", "max_drop": 0.1}, Status.PASS),
    ({"kind": "metric_drop", "metric": "log_loss", "max_drop": 0.05}, Status.FAIL),
])
def test_metric_drop_passes_within_the_limit_and_fails_beyond_it(rule, status):
    f = one(rule, evidence(OVERALL_B, OVERALL_C))
    assert f.status == status
    assert f.observed == pytest.approx(0.015 if rule["metric"] == "accuracy" else 0.06)
    assert "absolute" in f.message


def test_overall_rule_on_too_few_rows_is_inconclusive():
    f = one({"kind": "metric_drop", "metric": "accuracy", "max_drop": 0.01},
            evidence({**OVERALL_B, "count": 10}, {**OVERALL_C, "count": 10}))
    assert f.status == Status.INCONCLUSIVE


def test_deciding_on_the_bound_fails_where_the_point_estimate_passes(noise_evidence):
    comp = noise_evidence.comparisons.overall["accuracy"]
    point = comp.baseline - comp.candidate
    upper = -comp.difference_ci.ci_low
    assert upper > point and upper > 0
    limit = (max(point, 0.0) + upper) / 2  # a drop limit is never negative (governance/rules/limits.py)
    rule = {"kind": "metric_drop", "metric": "accuracy", "max_drop": limit}
    assert one(rule, noise_evidence).status == Status.PASS
    f = one({**rule, "decide_on": "bound"}, noise_evidence)
    assert f.status == Status.FAIL and f.observed == pytest.approx(upper) and "upper end" in f.message


def test_bound_on_a_metric_without_interval_is_an_error():
    f = one({"kind": "metric_drop", "metric": "roc_auc", "max_drop": 0.1, "decide_on": "bound"},
            evidence({**OVERALL_B, "roc_auc": 0.9}, {**OVERALL_C, "roc_auc": 0.9}))
    assert f.status == Status.ERROR and "interval" in f.message


@pytest.mark.parametrize("rule", [
    {"kind": "metric_drop", "metric": "accuracy", "max_drop": 0.5, "decide_on": "bound"},
    {"kind": "metric_floor", "metric": "accuracy", "min": 0.0, "decide_on": "bound"},
    {"kind": "slice_metric_drop", "metric": "accuracy", "max_drop": 0.5, "decide_on": "bound", "by": ["sex"]},
    {"kind": "group_drop", "metric": "accuracy", "max_drop": 0.5, "decide_on": "bound", "by": ["sex"],
     "slices": ["f"]},
])
def test_a_bound_on_intervals_from_too_few_resamples_is_an_error_never_a_pass(noise_evidence, rule):
    """evaluation.bootstrap.resamples: 1 made a 95% "interval" of one draw, which passed a bound rule."""
    from governance.rules.stats import MIN_RESAMPLES

    assert noise_evidence.comparisons.resamples >= MIN_RESAMPLES
    assert one(rule, noise_evidence).status == Status.PASS
    for resamples in (1, MIN_RESAMPLES - 1):
        rough = noise_evidence.model_copy(update={"comparisons": noise_evidence.comparisons.model_copy(
            update={"resamples": resamples})})
        f = one(rule, rough)
        assert f.status == Status.ERROR and f.blocks
        assert f"from {resamples} resamples, too few to decide on" in f.message
        assert one({**rule, "decide_on": "point"}, rough).status == Status.PASS


@pytest.mark.parametrize("rule", [
    {"kind": "metric_drop", "metric": "accuracy", "max_drop": 0.5, "decide_on": "bound"},
    {"kind": "metric_floor", "metric": "accuracy", "min": 0.0, "decide_on": "bound"},
    {"kind": "slice_metric_drop", "metric": "accuracy", "max_drop": 0.5, "decide_on": "bound", "by": ["sex"]},
    {"kind": "group_drop", "metric": "accuracy", "max_drop": 0.5, "decide_on": "bound", "by": ["sex"],
     "slices": ["f"]},
])
@pytest.mark.parametrize("level", [0.0001, 0.5, 0.79])
def test_a_bound_at_a_confidence_the_release_lowered_is_an_error_never_a_pass(noise_evidence, rule, level):
    """The release manifest sets evaluation.bootstrap.confidence and the policy decides on the bound: at 0.0001 the
    "interval" is a point near the bootstrap median and a bound rule the point estimate blocks passed."""
    from governance.rules.stats import MIN_CONFIDENCE

    assert noise_evidence.comparisons.confidence >= MIN_CONFIDENCE
    assert one(rule, noise_evidence).status == Status.PASS
    low = noise_evidence.model_copy(update={"comparisons": noise_evidence.comparisons.model_copy(
        update={"confidence": level})})
    f = one(rule, low)
    assert f.status == Status.ERROR and f.blocks, f.message
    assert "too low to decide on" in f.message and "evaluation.bootstrap.confidence" in f.message


def _shifted(ev: Evidence, shift: float) -> Evidence:
    """``ev`` whose overall accuracy difference interval is the single point ``difference + shift`` (a percentile
    interval need not contain the estimate)."""
    from governance.evidence.schema import Comparisons
    from governance.evidence.schema_base import Comparison, Interval

    b, c = ev.models["baseline"].overall["accuracy"], ev.models["candidate"].overall["accuracy"]
    edge = c - b + shift
    comp = Comparison(baseline=b, candidate=c, difference=c - b, difference_ci=Interval(ci_low=edge, ci_high=edge),
                      candidate_ci=Interval(ci_low=c + shift, ci_high=c + shift))
    return ev.model_copy(update={"comparisons": Comparisons(method="test", resamples=200, seed=0, confidence=0.95,
                                                            overall={"accuracy": comp}, slices={})})


def test_deciding_on_the_bound_is_never_more_lenient_than_the_point_estimate():
    ev = _shifted(evidence(OVERALL_B, OVERALL_C), 0.05)  # the drop interval sits 0.05 below the 0.015 drop
    rule = {"kind": "metric_drop", "metric": "accuracy", "max_drop": 0.01}
    assert one(rule, ev).status == Status.FAIL
    f = one({**rule, "decide_on": "bound"}, ev)
    assert f.status == Status.FAIL and f.observed == pytest.approx(0.015), f.message
    floor = {"kind": "metric_floor", "metric": "accuracy", "min": 0.9}  # candidate 0.885, its "interval" 0.935
    assert one(floor, ev).status == Status.FAIL
    assert one({**floor, "decide_on": "bound"}, ev).status == Status.FAIL
    # and where the bound is the worse end, it is what decides
    worse = _shifted(evidence(OVERALL_B, OVERALL_C), -0.01)
    assert one({**rule, "max_drop": 0.02}, worse).status == Status.PASS
    assert one({**rule, "max_drop": 0.02, "decide_on": "bound"}, worse).status == Status.FAIL
