"""group_drop: named slices of one dimension, each judged on its own; a named slice not measured never passes."""

from __future__ import annotations

import pytest
from builders import OVERALL_B, OVERALL_C, evidence, one

from governance.findings import Status
from governance.rules.groups import GROUP_MISSING, GROUP_THIN

BASE = {"capability": {"knowledge": {"count": 1000, "accuracy": 0.60}, "reasoning": {"count": 800, "accuracy": 0.70},
                       "safety": {"count": 40, "accuracy": 0.50}}}
CAND = {"capability": {"knowledge": {"count": 1000, "accuracy": 0.57}, "reasoning": {"count": 800, "accuracy": 0.69},
                       "safety": {"count": 40, "accuracy": 0.30}}}


def _ev():
    return evidence(OVERALL_B, OVERALL_C, BASE, CAND)


def test_group_drop_fails_when_a_named_group_loses_more_than_the_limit():
    f = one({"kind": "group_drop", "by": ["capability"], "slices": ["knowledge", "reasoning"], "max_drop": 0.02},
            _ev())
    assert f.status == Status.FAIL
    assert f.details["failing_slices"] == ["capability=knowledge"]
    assert f.observed == pytest.approx(0.03) and f.threshold == 0.02


def test_group_drop_passes_when_every_named_group_is_within_the_limit():
    # safety lost 20 points, but it is not named: the rule judges the groups it names, not the worst slice
    f = one({"kind": "group_drop", "by": ["capability"], "slices": ["knowledge", "reasoning"], "max_drop": 0.04},
            _ev())
    assert f.status == Status.PASS
    assert [s["slice"] for s in f.details["slices"]] == ["capability=knowledge", "capability=reasoning"]


@pytest.mark.parametrize("slices,why", [
    (["retrieval"], GROUP_MISSING.format(slice="capability=retrieval", dim="capability")),
    (["safety"], GROUP_THIN.format(slice="capability=safety", count=40, minimum=100)),
])
def test_group_drop_is_inconclusive_not_pass_for_a_group_not_measured_or_too_thin(slices, why):
    f = one({"kind": "group_drop", "by": ["capability"], "slices": slices, "max_drop": 0.02, "min_slice_size": 100},
            _ev())
    assert f.status == Status.INCONCLUSIVE
    assert f.details["not_judged"] == [why]


def test_group_drop_decided_on_the_bound_fails_without_intervals_loudly():
    f = one({"kind": "group_drop", "by": ["capability"], "slices": ["knowledge"], "max_drop": 0.05,
             "decide_on": "bound"}, _ev())
    assert f.status == Status.ERROR  # no intervals in this evidence: an error (it blocks), never a pass


def test_the_report_shows_a_group_drops_observed_value_limit_and_margin():
    from governance.render.view.findings import finding_view

    f = one({"kind": "group_drop", "by": ["capability"], "slices": ["knowledge"], "max_drop": 0.01}, _ev())
    view = finding_view(f)
    assert view["numeric"] and view["observed"] == f.observed and view["threshold"] == 0.01
    assert view["margin_text"].endswith(("past the limit", "inside the limit"))
