"""metric_ceiling: the candidate's overall metric must stay at or under ``max`` (a lower-is-better metric)."""

from __future__ import annotations

import pytest
from builders import OVERALL_B, OVERALL_C, evidence, one

from governance.findings import Status


@pytest.mark.parametrize("maximum,status", [(0.4, Status.PASS), (0.35, Status.FAIL)])
def test_metric_ceiling_passes_under_the_maximum_and_fails_above_it(maximum, status):
    f = one({"kind": "metric_ceiling", "metric": "log_loss", "max": maximum}, evidence(OVERALL_B, OVERALL_C))
    assert f.status == status and f.observed == pytest.approx(0.36)


def test_metric_ceiling_on_too_few_rows_is_inconclusive():
    f = one({"kind": "metric_ceiling", "metric": "log_loss", "max": 0.4},
            evidence({**OVERALL_B, "count": 10}, {**OVERALL_C, "count": 10}))
    assert f.status == Status.INCONCLUSIVE
