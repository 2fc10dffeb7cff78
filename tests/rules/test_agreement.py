"""agreement: the candidate must give the baseline's prediction on at least ``min`` of the rows (and per slice)."""

from __future__ import annotations

import pytest
from builders import OVERALL_B, OVERALL_C, evidence, one, with_sections

from governance.evidence.schema import Agreement
from governance.findings import Status

AGREE = Agreement(rows=1000, same_prediction=0.93, fixed=20, broken=50, max_abs_score_difference=0.4,
                  slices={"g": {"a": {"count": 800, "same_prediction": 0.96},
                                "b": {"count": 200, "same_prediction": 0.81},
                                "c": {"count": 5, "same_prediction": 0.2}}}, broken_examples=[3, 9])


@pytest.mark.parametrize("rule,status", [
    ({"min": 0.9}, Status.PASS),
    ({"min": 0.95}, Status.FAIL),
    ({"min": 0.9, "by": ["g"]}, Status.FAIL),  # slice b at 0.81; slice c too small to count
    # every judged slice passes, but thin slice c (n=5) agrees on 0.2: named and not judged, never a pass
    ({"min": 0.9, "by": ["g"], "min_per_slice": 0.8}, Status.INCONCLUSIVE),
])
def test_agreement_passes_above_and_fails_below_the_minimum(rule, status):
    ev = with_sections(evidence(OVERALL_B, OVERALL_C, {"g": {}}, {"g": {}}), agreement=AGREE)
    f = one({"kind": "agreement", **rule}, ev)
    assert f.status == status
    if "by" in rule:
        assert f.details["worst_slice"] == "g=b" and f.details["skipped_too_small"] == ["g=c"]
