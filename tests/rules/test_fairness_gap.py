"""fairness_gap: the gap (or ratio) of a rate between groups, bounded in size and in growth against the baseline.

Multiclass (per-class, one-vs-rest) gaps are in tests/test_multiclass_fairness.py."""

from __future__ import annotations

import re

import pytest
from builders import OVERALL_B, OVERALL_C, evidence, one, rates

from governance.errors import InputError
from governance.findings import Status
from governance.rules.fairness import NO_LIMIT, RATIO_LIMITS

FAIR_B = {"g": {"a": rates(500, 0.9, tpr=0.80, fpr=0.10), "b": rates(300, 0.9, tpr=0.75, fpr=0.12)}}
FAIR_C = {"g": {"a": rates(500, 0.9, tpr=0.80, fpr=0.10), "b": rates(300, 0.9, tpr=0.66, fpr=0.12)}}


@pytest.mark.parametrize("limits,status", [
    ({"max": 0.2}, Status.PASS),           # candidate gap 0.14
    ({"max": 0.1}, Status.FAIL),
    ({"max_increase": 0.1}, Status.PASS),  # grew by 0.09
    ({"max_increase": 0.05}, Status.FAIL),
])
def test_fairness_gap_passes_within_and_fails_beyond_its_limits(limits, status):
    f = one({"kind": "fairness_gap", "metric": "equalized_odds_difference", "by": ["g"], **limits},
            evidence(OVERALL_B, OVERALL_C, FAIR_B, FAIR_C))
    assert f.status == status
    # the gap itself against "max"; its growth against "max_increase"
    assert f.observed == pytest.approx(0.14 if "max" in limits else 0.09)
    assert f.details["baseline"] == pytest.approx(0.05) and f.details["change"] == pytest.approx(0.09)


def test_fairness_ratio_fails_under_min_and_rejects_max():
    f = one({"kind": "fairness_gap", "metric": "equalized_odds_ratio", "by": ["g"], "min": 0.9},
            evidence(OVERALL_B, OVERALL_C, FAIR_B, FAIR_C))
    assert f.status == Status.FAIL and f.observed == pytest.approx(0.66 / 0.80)
    with pytest.raises(InputError, match=re.escape(RATIO_LIMITS.format(metric="equalized_odds_ratio"))):
        one({"kind": "fairness_gap", "metric": "equalized_odds_ratio", "by": ["g"], "max": 0.9},
            evidence(OVERALL_B, OVERALL_C, FAIR_B, FAIR_C))


def test_fairness_with_one_group_big_enough_is_inconclusive():
    f = one({"kind": "fairness_gap", "metric": "demographic_parity_difference", "by": ["g"], "max": 0.1,
             "min_slice_size": 400}, evidence(OVERALL_B, OVERALL_C, FAIR_B, FAIR_C))
    assert f.status == Status.INCONCLUSIVE


def test_a_fairness_rule_without_a_limit_is_rejected():
    with pytest.raises(InputError, match=re.escape(NO_LIMIT)):
        one({"kind": "fairness_gap", "metric": "demographic_parity_difference", "by": ["g"]},
            evidence(OVERALL_B, OVERALL_C))
