"""metric_floor: the candidate's overall metric must reach ``min`` (a higher-is-better metric only)."""

from __future__ import annotations

import re

import pytest
from builders import OVERALL_B, OVERALL_C, evidence, one

from governance.errors import InputError
from governance.findings import Status
from governance.rules.performance import FLOOR_ON_LOWER_IS_BETTER


@pytest.mark.parametrize("minimum,status", [(0.65, Status.PASS), (0.75, Status.FAIL)])
def test_metric_floor_passes_above_the_minimum_and_fails_below_it(minimum, status):
    f = one({"kind": "metric_floor", "metric": "recall", "min": minimum}, evidence(OVERALL_B, OVERALL_C))
    assert f.status == status and f.observed == pytest.approx(0.7)


def test_a_floor_on_a_lower_is_better_metric_is_rejected_naming_metric_ceiling():
    with pytest.raises(InputError, match=re.escape(FLOOR_ON_LOWER_IS_BETTER.format(metric="log_loss"))):
        one({"kind": "metric_floor", "metric": "log_loss", "min": 0.1}, evidence(OVERALL_B, OVERALL_C))


def test_deciding_on_the_bound_fails_a_floor_the_point_estimate_passes(noise_evidence):
    real = noise_evidence
    comp = real.comparisons.overall["accuracy"]
    floor = {"kind": "metric_floor", "metric": "accuracy", "min": (comp.candidate + comp.candidate_ci.ci_low) / 2}
    assert one(floor, real).status == Status.PASS
    assert one({**floor, "decide_on": "bound"}, real).status == Status.FAIL
