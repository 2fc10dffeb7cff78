"""calibration: the candidate's expected calibration error, bounded in size and in growth against the baseline."""

from __future__ import annotations

import pytest
from builders import OVERALL_B, OVERALL_C, evidence, one, with_sections

from governance.evidence.schema import Calibration, CalibrationStats
from governance.findings import Status


def _cal(base_ece: float, cand_ece: float) -> Calibration:
    stats = {r: CalibrationStats(count=1000, ece=e, brier=0.1) for r, e in (("baseline", base_ece),
                                                                             ("candidate", cand_ece))}
    return Calibration(bins=15, score="positive-class probability", models=stats)


@pytest.mark.parametrize("rule,status", [
    ({"max_ece": 0.05}, Status.PASS),
    ({"max_ece": 0.03}, Status.FAIL),
    ({"max_ece_increase": 0.02}, Status.PASS),
    ({"max_ece_increase": 0.01}, Status.FAIL),
])
def test_calibration_passes_within_and_fails_beyond_its_limits(rule, status):
    ev = with_sections(evidence(OVERALL_B, OVERALL_C), calibration=_cal(0.02, 0.035))
    f = one({"kind": "calibration", **rule}, ev)
    assert f.status == status
    assert f.observed == pytest.approx(0.035 if "max_ece" in rule else 0.015)
