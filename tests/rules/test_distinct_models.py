"""distinct_models: a "pruned" candidate that is the baseline itself (same file, or the same scores on every row)
must not ship as a pruned model."""

from __future__ import annotations

import pytest
from builders import OVERALL_B, OVERALL_C, evidence, one, with_sections

from governance.evidence.schema import Agreement, FileRef
from governance.findings import Status
from governance.rules.identity import NO_ROWS

BASE = FileRef(path="baseline.skops", sha256="b" * 64, bytes=10)
CAND = FileRef(path="pruned.skops", sha256="c" * 64, bytes=9)


def _ev(candidate: FileRef, max_diff: float, rows: int = 1000):
    agreement = Agreement(rows=rows, same_prediction=1.0 if rows else 0.0, fixed=0, broken=0,
                          max_abs_score_difference=max_diff)
    return with_sections(evidence(OVERALL_B, OVERALL_C), inputs={"baseline": BASE, "candidate": candidate},
                         agreement=agreement)


def test_distinct_models_passes_different_files_with_different_scores():
    f = one({"kind": "distinct_models"}, _ev(CAND, 0.2))
    assert f.status == Status.PASS and f.details["same_file"] is False


def test_distinct_models_fails_the_same_file_even_when_identical_scores_are_allowed():
    f = one({"kind": "distinct_models", "allow_identical_scores": True}, _ev(BASE, 0.0))
    assert f.status == Status.FAIL and f.details["same_file"] is True and "same file" in f.message


def test_distinct_models_fails_identical_scores_within_the_tolerance_unless_allowed():
    assert one({"kind": "distinct_models", "score_tolerance": 0.001}, _ev(CAND, 0.0005)).status == Status.FAIL
    assert one({"kind": "distinct_models"}, _ev(CAND, 0.0)).status == Status.FAIL
    assert one({"kind": "distinct_models", "allow_identical_scores": True}, _ev(CAND, 0.0)).status == Status.PASS


def test_distinct_models_with_no_scored_row_is_inconclusive():
    f = one({"kind": "distinct_models"}, _ev(CAND, 0.0, rows=0))
    assert f.status == Status.INCONCLUSIVE and f.message == NO_ROWS


def _regression(max_diff: float, scale: float | None):
    agreement = Agreement(rows=1000, same_prediction=0.0, fixed=0, broken=0, max_abs_score_difference=max_diff,
                          max_abs_baseline_score=scale)
    return with_sections(_ev(CAND, max_diff), task="regression", agreement=agreement)


def test_a_regressors_tolerance_is_relative_to_its_predictions_magnitude():
    """A float32 copy of a regressor predicting ~1e6 differs by ~0.06: the same model, not a pruned one (with an
    absolute 1e-6 it counted as distinct and passed)."""
    copy = one({"kind": "distinct_models"}, _regression(0.06, 2.0e6))
    assert copy.status == Status.FAIL and copy.threshold == pytest.approx(2.0)
    assert "x the largest |baseline prediction| 2e+06 = 2" in copy.message
    assert copy.details["max_abs_baseline_score"] == 2.0e6 and copy.details["tolerance"] == pytest.approx(2.0)
    assert one({"kind": "distinct_models"}, _regression(5.0, 2.0e6)).status == Status.PASS  # really pruned
    # small units: a difference of 1e-7 between predictions of ~1e-3 is a real change, not float noise
    assert one({"kind": "distinct_models"}, _regression(1e-7, 1e-3)).status == Status.PASS
    assert one({"kind": "distinct_models"}, _regression(1e-10, 1e-3)).status == Status.FAIL
    assert one({"kind": "distinct_models", "score_tolerance": 0.0}, _regression(0.06, 2.0e6)).status == Status.PASS
    assert one({"kind": "distinct_models"}, _regression(0.0, 0.0)).status == Status.FAIL  # both predict 0 everywhere


def test_regression_evidence_without_the_prediction_scale_is_inconclusive_not_a_pass():
    f = one({"kind": "distinct_models"}, _regression(5.0, None))
    assert f.status == Status.INCONCLUSIVE and "max_abs_baseline_score" in f.message


def test_a_classifiers_tolerance_stays_absolute():
    f = one({"kind": "distinct_models"}, _ev(CAND, 5e-7))
    assert f.status == Status.FAIL and f.threshold == 1e-6 and "baseline prediction" not in f.message
