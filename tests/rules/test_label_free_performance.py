"""label_free_performance: the candidate's confidence-based accuracy estimate on production, judged only when its
calibration on the evaluation set supports it; the finding lists the estimate's assumptions."""

from __future__ import annotations

import pytest
from builders import OVERALL_B, REF, evidence, one, rates, with_sections

from governance.evidence.production import REGRESSION_NOTE
from governance.evidence.production_agreement import ASSUMPTIONS, LabelFreeEstimate, ModelEstimate
from governance.evidence.production_schema import ProductionEvidence
from governance.evidence.schema import Calibration, CalibrationStats
from governance.findings import Status
from governance.policy import parse_policy
from governance.rules.production import ASSUMES, CALIBRATION_UNKNOWN, NO_PRODUCTION, NOT_CALIBRATED, NOT_MEASURED

CAND = {"count": 1000, "accuracy": 0.88}


def _cal(ece: float | None) -> Calibration:
    stats = {r: CalibrationStats(count=1000, ece=ece, brier=0.1) for r in ("baseline", "candidate")}
    return Calibration(bins=15, score="positive-class probability", models=stats)


def _est(rows: int, acc: float, **extra) -> ModelEstimate:
    return ModelEstimate(rows=rows, expected_accuracy=acc, **extra)


def _evidence(expected=0.86, ece: float | None = 0.02, slices=None, *, estimate=True, notes=()):
    est = None
    if estimate:
        per_slice = {"group": {v: {"baseline": _est(n, a), "candidate": _est(n, a)}
                               for v, (n, a) in (slices or {}).items()}}
        est = LabelFreeEstimate(models={"baseline": _est(2000, 0.87), "candidate": _est(2000, expected)},
                                slices=per_slice if slices else {})
    prod = ProductionEvidence(file=REF, rows=2000, labelled=False, sensitive=["group"], estimate=est,
                              notes=list(notes))
    cand_slices = {"group": {"a": rates(700, 0.9), "b": rates(300, 0.85)}}
    ev = evidence(OVERALL_B, CAND, {"group": {"a": rates(700, 0.9), "b": rates(300, 0.85)}}, cand_slices)
    return with_sections(ev, production=prod, calibration=_cal(ece))


def test_label_free_performance_passes_a_small_estimated_drop_and_lists_its_assumptions():
    f = one({"kind": "label_free_performance", "max_drop": 0.05}, _evidence(expected=0.86))
    assert f.status == Status.PASS and f.observed == pytest.approx(0.02) and f.threshold == 0.05
    assert f.details["assumptions"] == ASSUMPTIONS
    assert f.message.endswith(ASSUMES.format(floor="0.5"))


@pytest.mark.parametrize("rule, named", [
    ({"max_drop": 0.05}, "overall: estimated accuracy 0.8000 is 0.0800 below the evaluation accuracy 0.8800"),
    ({"min_accuracy": 0.85}, "overall: estimated accuracy 0.8000 < 0.8500"),
])
def test_label_free_performance_fails_a_large_estimated_drop_or_a_low_estimate(rule, named):
    f = one({"kind": "label_free_performance", **rule}, _evidence(expected=0.80))
    assert f.status == Status.FAIL and named in f.message


def test_per_slice_estimates_fail_against_their_own_evaluation_accuracy_and_thin_ones_are_skipped():
    ev = _evidence(expected=0.87, slices={"a": (1400, 0.89), "b": (580, 0.78), "c": (20, 0.3)})
    f = one({"kind": "label_free_performance", "max_drop": 0.05, "dimensions": ["group"]}, ev)
    assert f.status == Status.FAIL and "slice group=b (n=580)" in f.message and "group=a" not in f.message
    assert f.details["slices_tested"] == 2 and f.details["thin_slices"][0]["slice"] == "group=c"
    overall_only = one({"kind": "label_free_performance", "max_drop": 0.05}, ev)
    assert overall_only.status == Status.PASS


def test_a_candidate_above_the_ece_limit_is_inconclusive_with_the_reason():
    f = one({"kind": "label_free_performance", "max_drop": 0.05}, _evidence(expected=0.5, ece=0.08))
    assert f.status == Status.INCONCLUSIVE
    assert f.message == NOT_CALIBRATED.format(ece="0.0800", limit="0.0500")
    assert f.details["assumptions"] == ASSUMPTIONS
    looser = one({"kind": "label_free_performance", "max_drop": 0.05, "max_ece": 0.1}, _evidence(ece=0.08))
    assert looser.status == Status.PASS


@pytest.mark.parametrize("ev, message", [
    (with_sections(evidence(OVERALL_B, CAND), production=None), NO_PRODUCTION.format(what="label-free performance")),
    (_evidence(estimate=False, notes=[REGRESSION_NOTE]),
     NOT_MEASURED.format(what="the label-free estimate", why=REGRESSION_NOTE)),
    (_evidence(ece=None), CALIBRATION_UNKNOWN.format(why="too few rows for an ECE")),
    (with_sections(_evidence(), calibration=None), CALIBRATION_UNKNOWN.format(why="calibration was not measured")),
])
def test_missing_evidence_is_inconclusive_naming_why_never_a_pass(ev, message):
    f = one({"kind": "label_free_performance", "max_drop": 0.05}, ev)
    assert f.status == Status.INCONCLUSIVE and f.message == message


def test_a_rule_without_a_limit_is_refused():
    from governance.errors import InputError

    with pytest.raises(InputError, match="give max_drop and/or min_accuracy"):
        parse_policy({"name": "p", "rules": [{"id": "R", "kind": "label_free_performance"}]},
                     path=__file__)  # type: ignore[arg-type]


def test_a_floor_at_the_binary_estimate_s_lowest_value_is_noted():
    f = one({"kind": "label_free_performance", "min_accuracy": 0.5}, _evidence())
    assert f.status == Status.PASS and "the lowest accuracy this estimate can report" in f.details["note"]
