"""metric_drop: the candidate may lose at most ``max_drop`` of an overall metric against the baseline."""

from __future__ import annotations

import pytest
from builders import OVERALL_B, OVERALL_C, evidence, one

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
