"""representativeness: the worst feature, the share of drifted features, the largest slice share ratio.

The distances themselves are cross-checked against scipy in tests/test_profile.py; here the evidence is built from
real profiles of small tables and the rule is a pure function of it."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from builders import OVERALL_B, OVERALL_C, evidence, one, with_sections

from governance.evidence.production_schema import ProductionEvidence, SliceShare
from governance.evidence.profile import FeatureProfile
from governance.evidence.representativeness import build_representativeness
from governance.evidence.schema import FileRef
from governance.findings import Status
from governance.policy import parse_policy
from governance.rules.representativeness import NO_PRODUCTION_SAMPLE, NO_SLICES, TOO_FEW_ROWS, UNKNOWN_FEATURE

REP = {"kind": "representativeness"}
REF = FileRef(path="production.parquet", sha256="0" * 64, bytes=1)


def table(n: int, seed: int, shift: float = 0.0, colours: tuple[float, float, float] = (0.5, 0.3, 0.2)) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({"x": rng.normal(shift, 1, n), "y": rng.normal(0, 1, n),
                     "colour": rng.choice(["red", "green", "blue"], n, p=list(colours)).tolist()})


def share(ev_rows: int, prod_rows: int, ev_total: int = 1000, prod_total: int = 2000) -> SliceShare:
    es, ps = ev_rows / ev_total, prod_rows / prod_total
    return SliceShare(evaluation_rows=ev_rows, production_rows=prod_rows, evaluation_share=es, production_share=ps,
                      share_ratio=ps / es if ev_rows else None)


def production(prod: pa.Table | None = None, slices: dict | None = None, missing_sensitive: list[str] | None = None,
               rows: int | None = None, unrecorded: list[str] | None = None) -> ProductionEvidence:
    evaluation = FeatureProfile(["x", "y", "colour"], ["colour"])
    evaluation.update(table(1000, 0))
    current = evaluation.empty_like()
    current.update(prod if prod is not None else table(2000, 1))
    return ProductionEvidence(
        file=REF, rows=rows if rows is not None else current.rows, labelled=False, sensitive=["group"],
        missing_sensitive=missing_sensitive or [], unrecorded=unrecorded or [],
        slices=slices if slices is not None else {"group": {"a": share(500, 1000), "b": share(500, 1000)}},
        representativeness=build_representativeness(evaluation, current))


def judged(prod: ProductionEvidence | None, **rule):
    return one({**REP, **rule}, with_sections(evidence(OVERALL_B, OVERALL_C), production=prod))


def test_pass_when_production_looks_like_the_evaluation_set():
    f = judged(production())
    assert f.status == Status.PASS, f.message
    assert f.details["worst_feature"] in {"x", "y", "colour"}
    assert f.observed == f.details["worst_distance"] < 0.1
    assert f.details["drifted_features"] == []
    assert f.details["worst_slice"]["share_ratio"] == pytest.approx(1.0)


def test_fail_on_a_shifted_feature():
    f = judged(production(table(2000, 1, shift=0.5)))
    assert f.status == Status.FAIL
    assert f.details["worst_feature"] == "x" and f.observed > 0.3
    assert f.details["drifted_features"] == ["x"] and f.details["drifted_share"] == pytest.approx(1 / 3)
    assert "feature 'x'" in f.message


def test_fail_when_production_lost_an_input_in_most_rows_the_rest_looking_evaluated():
    arrived = table(2000, 1)
    x = np.concatenate([np.full(8000, np.nan), arrived.column("x").to_numpy()])  # 80% of production rows blank
    blank = pa.table({"x": x, "y": np.tile(arrived.column("y").to_numpy(), 5),
                      "colour": arrived.column("colour").to_pylist() * 5})
    f = judged(production(blank))
    assert f.status == Status.FAIL, f.message
    assert f.details["drifted_features"] == []  # the distances leave missing values out: they alone pass
    assert f.details["missing_difference"] == {"x": pytest.approx(0.8)}
    assert "'x' 80% in production vs 0% evaluated" in f.message and "10 points" in f.message
    assert judged(production(blank), max_missing_difference=None).status == Status.PASS
    assert judged(production(blank), max_missing_difference=0.85).status == Status.PASS


def test_fail_on_a_drifted_category_share():
    f = judged(production(table(2000, 1, colours=(0.1, 0.3, 0.6))))
    assert f.status == Status.FAIL
    assert f.details["worst_feature"] == "colour"


def test_fail_when_most_features_drift_even_under_the_worst_limit():
    prod = table(2000, 1, shift=0.3, colours=(0.2, 0.3, 0.5))
    f = judged(production(prod), max_feature_distance=None, max_drifted_share=0.5)
    assert f.status == Status.FAIL
    assert sorted(f.details["drifted_features"]) == ["colour", "x"]
    assert "2 of 3 features drifted" in f.message
    assert judged(production(prod), max_feature_distance=None, max_drifted_share=0.7).status == Status.PASS


def test_fail_on_an_under_represented_slice():
    slices = {"group": {"a": share(900, 1000), "b": share(100, 1000)}}  # b: 10% of eval, 50% of production
    f = judged(production(slices=slices))
    assert f.status == Status.FAIL
    assert f.details["worst_slice"] == {"dimension": "group", "value": "b", "share_ratio": pytest.approx(5.0),
                                        "evaluation_rows": 100, "production_rows": 1000}
    assert "group=b is 5.0000 times as common in production" in f.message
    assert judged(production(slices=slices), max_share_ratio=6.0).status == Status.PASS


def test_fail_on_a_slice_the_evaluation_set_lacks():
    slices = {"group": {"a": share(1000, 1990), "c": share(0, 10)}}
    f = judged(production(slices=slices), max_share_ratio=100.0)
    assert f.status == Status.FAIL
    assert f.details["worst_slice"]["value"] == "c" and f.details["worst_slice"]["share_ratio"] is None
    assert "infinite times" in f.message


def test_fail_when_a_feature_has_no_values_in_production():
    prod = table(2000, 1).set_column(0, "x", pa.array([None] * 2000, pa.float64()))
    f = judged(production(prod))
    assert f.status == Status.FAIL
    assert f.details["worst_feature"] == "x" and f.observed is None
    assert "no values on the current side" in f.message


def test_inconclusive_without_a_production_sample():
    f = judged(None)
    assert f.status == Status.INCONCLUSIVE and f.message == NO_PRODUCTION_SAMPLE


def test_inconclusive_below_min_production_rows():
    f = judged(production(table(300, 1)))
    assert f.status == Status.INCONCLUSIVE
    assert f.message == TOO_FEW_ROWS.format(rows=300, minimum=1000)
    assert judged(production(table(300, 1)), min_production_rows=200).status == Status.PASS


def test_features_and_dimensions_select_what_is_judged():
    prod = table(2000, 1, shift=0.5)
    assert judged(production(prod), features=["y", "colour"]).status == Status.PASS
    f = judged(production(prod), features=["nope"])
    assert f.status == Status.INCONCLUSIVE
    assert f.message == UNKNOWN_FEATURE.format(feature="nope", known="x, y, colour")
    f = judged(production(missing_sensitive=["region"]), dimensions=["region"])
    assert f.status == Status.INCONCLUSIVE
    assert f.message == NO_SLICES.format(dimension="region", known="group", missing="region")


def test_no_slices_judges_the_features_and_says_so():
    f = judged(production(slices={}, missing_sensitive=["group"], unrecorded=["group"]))
    assert f.status == Status.PASS, f.message
    assert "no slice shares (production lacks group)" in f.message
    assert f.details["worst_slice"] is None


def test_a_sensitive_column_missing_from_production_without_declaration_is_inconclusive_not_passed():
    """An export that drops a sensitive column must not pass on the columns left: a shift in it would go unseen."""
    f = judged(production(slices={}, missing_sensitive=["group"]))
    assert f.status == Status.INCONCLUSIVE, f.message
    assert "'group'" in f.message and "production.unrecorded" in f.message
    assert f.details["undeclared_missing"] == ["group"]
    # naming the dimensions to judge is an explicit choice: judged on the features without slices
    assert judged(production(slices={}, missing_sensitive=["group"]), dimensions=[]).status == Status.PASS


def test_thresholds_out_of_range_are_rejected():
    with pytest.raises(Exception, match="max_drifted_share"):
        parse_policy({"name": "p", "rules": [{"id": "R-1", **REP, "max_drifted_share": 5}]}, path=__file__)
    with pytest.raises(Exception, match="max_share_ratio"):
        parse_policy({"name": "p", "rules": [{"id": "R-1", **REP, "max_share_ratio": 0.5}]}, path=__file__)
    assert math.isfinite(parse_policy({"name": "p", "rules": [{"id": "R-1", **REP}]},
                                      path=__file__).rules[0].max_share_ratio)
