"""production_agreement: on the production sample's rows, both models predict the same class often enough, flip
little and score alike, overall and in every slice big enough to judge; no production evidence is never a pass."""

from __future__ import annotations

import pytest
from builders import OVERALL_B, OVERALL_C, REF, evidence, one, with_sections

from governance.evidence.production import REGRESSION_NOTE
from governance.evidence.production_agreement import AgreementStats, ProductionAgreement
from governance.evidence.production_schema import ProductionEvidence
from governance.findings import Status
from governance.rules.production import NO_PRODUCTION, NO_SLICES, NOT_MEASURED, TOO_FEW_ROWS


def _stats(rows: int, same: float, js: float = 0.02) -> dict:
    return {"rows": rows, "same_prediction": same, "flip_rate": 1 - same, "score_js": js,
            "histograms": {"baseline": [rows], "candidate": [rows]}}


def _evidence(overall=(2000, 0.97, 0.02), slices=None, *, agreement=True, notes=(), unrecorded=("region",)):
    measured = None
    if agreement:
        per_slice = {"group": {v: AgreementStats(**_stats(*s)) for v, s in (slices or {}).items()}}
        measured = ProductionAgreement(**_stats(*overall), score="positive-class probability", bins=1,
                                       bin_edges=[0.0, 1.0], slices=per_slice if slices else {})
    prod = ProductionEvidence(file=REF, rows=overall[0], labelled=False, sensitive=["group"], agreement=measured,
                              missing_sensitive=["region"], unrecorded=list(unrecorded), notes=list(notes))
    return with_sections(evidence(OVERALL_B, OVERALL_C), production=prod)


SLICES = {"a": (1500, 0.98), "b": (480, 0.95), "c": (20, 0.5)}


def test_production_agreement_passes_when_overall_and_every_judged_slice_agree():
    f = one({"kind": "production_agreement", "min_agreement": 0.9, "min_slice_rows": 10},
            _evidence(slices={"a": (1500, 0.98), "b": (500, 0.95)}))
    assert f.status == Status.PASS and f.observed == pytest.approx(0.97) and f.threshold == 0.9
    assert f.details["slices_tested"] == 2


@pytest.mark.parametrize("rule, named", [
    ({"min_agreement": 0.98}, "overall: agreement 0.9700 < 0.9800"),
    ({"min_agreement": 0.9, "max_flip_rate": 0.04}, "flip rate 0.0500 > 0.0400"),
    ({"min_agreement": 0.96}, "slice group=b (n=480): agreement 0.9500 < 0.9600"),
])
def test_production_agreement_fails_below_its_limits_naming_the_slice(rule, named):
    f = one({"kind": "production_agreement", **rule}, _evidence(slices=SLICES))
    assert f.status == Status.FAIL and named in f.message


def test_production_agreement_fails_when_the_score_distributions_part():
    f = one({"kind": "production_agreement", "min_agreement": 0.9}, _evidence(overall=(2000, 0.97, 0.15)))
    assert f.status == Status.FAIL and "score JS distance 0.1500 > 0.1000" in f.message
    relaxed = one({"kind": "production_agreement", "min_agreement": 0.9, "max_score_js": None},
                  _evidence(overall=(2000, 0.97, 0.15)))
    assert relaxed.status == Status.PASS


def test_a_sensitive_column_production_lacks_without_declaration_leaves_it_inconclusive():
    """region is missing from the production file and production.unrecorded does not say production never records
    it: agreement by slice cannot have seen a region, so it is not a pass."""
    ev = _evidence(slices={"a": (1500, 0.98), "b": (500, 0.95)}, unrecorded=())
    f = one({"kind": "production_agreement", "min_agreement": 0.9, "min_slice_rows": 10}, ev)
    assert f.status == Status.INCONCLUSIVE and "'region'" in f.message and "production.unrecorded" in f.message
    assert f.details["undeclared_missing"] == ["region"]
    named = one({"kind": "production_agreement", "min_agreement": 0.9, "min_slice_rows": 10, "dimensions": ["group"]},
                ev)
    assert named.status == Status.PASS, named.message


def test_a_thin_slice_below_the_limit_is_named_and_leaves_the_rule_inconclusive_not_passed():
    f = one({"kind": "production_agreement", "min_agreement": 0.9}, _evidence(slices=SLICES))
    assert f.status == Status.INCONCLUSIVE and "thin slice group=c (n=20, under 30)" in f.message
    assert f.details["thin_slices"][0]["slice"] == "group=c"


@pytest.mark.parametrize("ev, message", [
    (with_sections(evidence(OVERALL_B, OVERALL_C), production=None),
     NO_PRODUCTION.format(what="agreement on production rows")),
    (_evidence(agreement=False, notes=[REGRESSION_NOTE]), NOT_MEASURED.format(what="agreement", why=REGRESSION_NOTE)),
    (_evidence(overall=(12, 1.0, 0.0)), TOO_FEW_ROWS.format(rows=12, minimum=30)),
])
def test_no_production_evidence_is_inconclusive_naming_why_never_a_pass(ev, message):
    f = one({"kind": "production_agreement", "min_agreement": 0.5}, ev)
    assert f.status == Status.INCONCLUSIVE and f.message == message


def test_a_dimension_production_has_no_slices_for_is_inconclusive():
    f = one({"kind": "production_agreement", "min_agreement": 0.5, "dimensions": ["region"]},
            _evidence(slices=SLICES))
    assert f.status == Status.INCONCLUSIVE
    assert f.message == NO_SLICES.format(dimension="region", known="group", missing="region")


def test_limits_outside_a_fraction_are_refused():
    from governance.errors import InputError
    from governance.policy import parse_policy

    with pytest.raises(InputError, match=r"did you mean 0\.95"):
        parse_policy({"name": "p", "rules": [{"id": "R", "kind": "production_agreement", "min_agreement": 95}]},
                     path=__file__)  # type: ignore[arg-type]
