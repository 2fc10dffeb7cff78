"""data_quality: missing values, constant columns, duplicate rows and class balance of the evaluation set.

The counts themselves are checked against pandas on real files in tests/test_data_quality.py; here the rule is a
pure function of hand-built evidence."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import OVERALL_B, OVERALL_C, evidence, one, with_sections

from governance.errors import InputError
from governance.evidence.schema import ColumnQuality, DataQuality
from governance.findings import Status
from governance.policy import parse_policy
from governance.rules.limits import FRACTION_HINT
from governance.rules.quality import NO_EVIDENCE, NO_TRAINING_BALANCE, UNKNOWN_COLUMNS

DQ = {"kind": "data_quality"}


def col(missing: int = 0, distinct: int = 50, role: str = "feature", rows: int = 1000) -> ColumnQuality:
    return ColumnQuality(role=role, missing=missing, missing_share=missing / rows, distinct=distinct,  # type: ignore[arg-type]
                         constant=distinct == 1)


def quality(**changes) -> DataQuality:
    """A clean evaluation set of 1,000 rows: few missing values, no constant column, 3 duplicates, 70/30 classes."""
    base = dict(rows=1000, columns={"x0": col(12), "x1": col(3), "x2": col(0), "label": col(0, 2, "target"),
                                    "group": col(0, 3, "sensitive")},
                duplicate_rows=3, duplicate_share=0.003, duplicate_exact=True, duplicate_columns=["x0", "x1", "x2"],
                duplicate_method="exact", class_balance={"0": 0.7, "1": 0.3})
    return DataQuality(**{**base, **changes})


def judged(dq: DataQuality | None, **rule):
    return one({**DQ, **rule}, with_sections(evidence(OVERALL_B, OVERALL_C), data_quality=dq))


def test_a_clean_evaluation_set_passes():
    f = judged(quality())
    assert f.status == Status.PASS, f.message
    assert f.observed == pytest.approx(0.012) and f.threshold == 0.05
    assert f.details["worst_column"] == "x0" and f.details["rarest_class"] == "1"
    assert "worst missing column 'x0' at 1.20%" in f.message and "0.30% duplicate rows" in f.message


def test_a_column_with_too_many_missing_values_fails_naming_the_worst_column():
    dq = quality(columns={**quality().columns, "x1": col(80), "x2": col(300)})
    f = judged(dq)
    assert f.status == Status.FAIL
    assert f.details["columns_over_limit"] == ["x2", "x1"] and f.details["worst_missing_share"] == 0.3
    assert "column 'x2' is 30.00% missing (300 of 1000 rows; allowed 5.00%)" in f.message
    assert "1 more column(s) over the limit: x1" in f.message


def test_columns_limits_the_missing_check_so_the_others_pass():
    dq = quality(columns={**quality().columns, "x2": col(300)})
    assert judged(dq, columns=["x0", "x1"]).status == Status.PASS
    assert judged(dq, max_missing_share=0.5).status == Status.PASS


def test_a_constant_column_fails_unless_allowed_then_passes():
    dq = quality(columns={**quality().columns, "x2": col(0, 1)})
    f = judged(dq)
    assert f.status == Status.FAIL and "constant column(s) x2" in f.message
    allowed = judged(dq, allow_constant=["x2"])
    assert allowed.status == Status.PASS and "constant columns allowed: x2" in allowed.message


def test_duplicate_rows_over_the_limit_fail():
    f = judged(quality(duplicate_rows=40, duplicate_share=0.04, duplicate_exact=False))
    assert f.status == Status.FAIL
    assert "40 of 1000 rows (4.00%, estimated) repeat an earlier row" in f.message
    assert judged(quality(duplicate_rows=40, duplicate_share=0.04), max_duplicate_share=0.05).status == Status.PASS


def test_the_rarest_class_below_min_class_share_fails():
    f = judged(quality(class_balance={"0": 0.97, "1": 0.03}), min_class_share=0.05)
    assert f.status == Status.FAIL and "the rarest class '1' is 3.00% of the rows" in f.message
    assert judged(quality(), min_class_share=0.05).status == Status.PASS


def test_a_class_the_models_know_but_the_evaluation_set_lacks_fails_min_class_share():
    f = judged(quality(class_balance={"0": 1.0}), min_class_share=0.01)  # data.classes is ["0", "1"]
    assert f.status == Status.FAIL and f.details["rarest_class"] == "1" and f.details["rarest_class_share"] == 0.0


def test_class_balance_far_from_the_training_balance_fails_and_near_passes():
    far = quality(training_dataset="train", training_class_balance={"0": 0.5, "1": 0.5}, class_balance_distance=0.2)
    f = judged(far, max_class_balance_distance=0.1)
    assert f.status == Status.FAIL and "0.2000 (total variation distance) from training set 'train'" in f.message
    near = quality(training_dataset="train", training_class_balance={"0": 0.68, "1": 0.32},
                   class_balance_distance=0.02)
    assert judged(near, max_class_balance_distance=0.1).status == Status.PASS


def test_a_distance_limit_without_a_declared_training_balance_is_inconclusive_naming_how_to_declare():
    f = judged(quality(), max_class_balance_distance=0.1)
    assert f.status == Status.INCONCLUSIVE
    assert NO_TRAINING_BALANCE.format(named="") in f.message and "class_balance" in f.message


def test_without_data_quality_evidence_the_rule_is_inconclusive():
    f = judged(None)
    assert f.status == Status.INCONCLUSIVE and f.message == NO_EVIDENCE


def test_a_definite_failure_wins_over_an_undecided_limit():
    f = judged(quality(duplicate_rows=400, duplicate_share=0.4), max_class_balance_distance=0.1)
    assert f.status == Status.FAIL and f.details["not_judged"]


def test_unknown_columns_are_an_error():
    f = judged(quality(), columns=["x0", "nope"])
    assert f.status == Status.ERROR and f.message == UNKNOWN_COLUMNS.format(columns="'nope'")


def test_a_percentage_where_a_share_is_meant_is_a_policy_error():
    with pytest.raises(InputError) as exc:
        parse_policy({"name": "p", "rules": [{"id": "DQ-1", **DQ, "max_missing_share": 5}]}, path=Path("p.yaml"))
    assert FRACTION_HINT.format(subject="a share of values", suggestion="0.05") in str(exc.value)
