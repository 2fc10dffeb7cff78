"""Each monitor rule kind on hand-built window facts: a pass, a fail, and the inconclusive cases it promises."""

from __future__ import annotations

import numpy as np
import pytest

from governance.evidence.profile import FeatureProfile
from governance.evidence.schema import FileRef
from governance.findings import Status
from governance.monitor.contract import (
    CalibrationExpectation,
    Expected,
    FeatureReference,
    Histogram,
    MonitoringContract,
)
from governance.monitor.judge import MonitorPolicy, judge, window_facts
from governance.monitor.window import Counts, WindowSummary
from governance.rules.base import PolicyDefaults
from governance.rules.monitor import MONITOR_KINDS, UNCALIBRATED

EDGES = np.linspace(0, 1, 6).tolist()
DEFAULTS = PolicyDefaults(min_slice_size=30)


def _profile(values: np.ndarray) -> dict:
    import pyarrow as pa

    p = FeatureProfile(["x", "y"])
    p.update(pa.table({"x": values, "y": values * 2}))
    return p.to_json()


def contract(**changes) -> MonitoringContract:
    base = {"release": {"name": "r", "version": "1"}, "candidate_sha256": "0" * 64,
            "task": "binary_classification", "classes": ["0", "1"], "positive_label": "1", "target": "label",
            "features": ["x", "y"], "sensitive": [], "dimensions": {}, "score_columns": ["score"],
            "baseline_score_columns": ["baseline_score"],
            "reference": FeatureReference(source="evaluation", profile=_profile(np.random.default_rng(0).normal(
                size=500))),
            "scores": Histogram(bin_edges=EDGES, counts=[100, 100, 100, 100, 100]),
            "accuracy": Expected(evaluation=0.9), "agreement": Expected(evaluation=0.95, production=0.9),
            "calibration": CalibrationExpectation(rows=500, bins=5, ece=0.02, brier=0.1)}
    return MonitoringContract(**{**base, **changes})


def summary(*, rows=500, scores=(100, 100, 100, 100, 100), labelled=0, correct=0, confidence=None, shadow=0,
            agree=0, shift=0.0) -> WindowSummary:
    counts = Counts(rows=rows, scores=list(scores), labelled=labelled, correct=correct,
                    confidence=0.9 * rows if confidence is None else confidence, shadow=shadow, agree=agree)
    return WindowSummary(name="w.csv", file=FileRef(path="w.csv", sha256="1" * 64, bytes=1), overall=counts,
                         profile=_profile(np.random.default_rng(0).normal(size=rows)[::-1] * 1.02 + shift))


def one(rule: dict, c: MonitoringContract, w: WindowSummary):
    kind = MONITOR_KINDS[rule["kind"]]
    return kind.check(kind.params.model_validate({"id": "R", **rule}), window_facts(c, w), DEFAULTS)


def test_feature_drift_pass_and_fail():
    rule = {"kind": "feature_drift", "max_distance": 0.3, "max_drifted_share": 0.5}
    assert one(rule, contract(), summary()).status == Status.PASS
    f = one(rule, contract(), summary(shift=1.0))
    assert f.status == Status.FAIL and f.details["drifted"] == ["x", "y"] and f.observed > 0.3


def test_feature_drift_fails_when_most_rows_lost_an_input_the_rest_looking_like_the_reference():
    arrived = np.random.default_rng(0).normal(size=500)[::-1] * 1.02  # the clean window's values
    values = np.concatenate([np.full(2500, np.nan), arrived])  # and 2,500 rows (83%) without the input
    w = summary(rows=3000).model_copy(update={"profile": _profile(values)})
    rule = {"kind": "feature_drift", "max_drifted_share": 0.5}
    f = one(rule, contract(), w)
    assert f.status == Status.FAIL, f.message
    assert f.details["missing_increase"] == {"x": pytest.approx(5 / 6), "y": pytest.approx(5 / 6)}
    assert "'x' 83% (reference 0%)" in f.message and "10 points" in f.message
    assert f.details["drifted"] == []  # the values that did arrive are the reference's: distance alone passes
    assert one({**rule, "max_missing_increase": None}, contract(), w).status == Status.PASS
    assert one({**rule, "max_missing_increase": 0.9}, contract(), w).status == Status.PASS
    assert one(rule, contract(), summary()).status == Status.PASS  # no rise, no failure


def test_feature_drift_without_a_reference_is_inconclusive():
    c = contract(reference=None, left_out={"feature_drift": "no profile"})
    f = one({"kind": "feature_drift"}, c, summary())
    assert f.status == Status.INCONCLUSIVE and "no profile" in f.message


def test_score_drift_pass_and_fail_and_too_few_rows():
    rule = {"kind": "score_drift", "max_distance": 0.1}
    assert one(rule, contract(), summary(scores=(95, 105, 100, 98, 102))).status == Status.PASS
    f = one(rule, contract(), summary(scores=(0, 0, 50, 150, 300)))
    assert f.status == Status.FAIL and f.details["direction"] == "max"
    assert one(rule, contract(), summary(rows=10, scores=(2, 2, 2, 2, 2))).status == Status.INCONCLUSIVE


def test_realized_performance_pass_fail_and_too_few_labels():
    rule = {"kind": "realized_performance", "max_drop": 0.03, "min_labelled": 100}
    assert one(rule, contract(), summary(labelled=200, correct=178)).status == Status.PASS
    f = one(rule, contract(), summary(labelled=200, correct=160))
    assert f.status == Status.FAIL and f.threshold == pytest.approx(0.87) and f.observed == pytest.approx(0.8)
    assert one(rule, contract(), summary(labelled=50, correct=50)).status == Status.INCONCLUSIVE


def test_realized_performance_prefers_production_weighted_under_auto():
    c = contract(accuracy=Expected(evaluation=0.9, production=0.8))
    f = one({"kind": "realized_performance", "max_drop": 0.03}, c, summary(labelled=200, correct=160))
    assert f.status == Status.PASS and f.details["expected_from"] == "production"
    f = one({"kind": "realized_performance", "max_drop": 0.03, "expected": "evaluation"}, c,
            summary(labelled=200, correct=160))
    assert f.status == Status.FAIL


def test_estimated_performance_pass_fail_and_uncalibrated():
    rule = {"kind": "estimated_performance", "max_drop": 0.03, "max_ece": 0.05}
    assert one(rule, contract(), summary(confidence=0.89 * 500)).status == Status.PASS
    assert one(rule, contract(), summary(confidence=0.8 * 500)).status == Status.FAIL
    c = contract(calibration=CalibrationExpectation(rows=500, bins=5, ece=0.12, brier=0.2))
    f = one(rule, c, summary(confidence=0.8 * 500))
    assert f.status == Status.INCONCLUSIVE and f.message == UNCALIBRATED.format(ece="0.1200", limit="0.0500")


def test_shadow_agreement_pass_fail_and_no_shadow():
    rule = {"kind": "shadow_agreement", "max_drop": 0.02}
    assert one(rule, contract(), summary(shadow=500, agree=445)).status == Status.PASS  # vs production 0.9
    assert one(rule, contract(), summary(shadow=500, agree=400)).status == Status.FAIL
    assert one(rule, contract(), summary()).status == Status.INCONCLUSIVE


def test_the_verdict_blocks_only_on_block_rules():
    policy = MonitorPolicy.model_validate({"name": "m", "rules": [
        {"id": "A", "kind": "score_drift", "max_distance": 0.1, "severity": "warn"},
        {"id": "B", "kind": "realized_performance", "max_drop": 0.03, "on_inconclusive": "warn"}]})
    from datetime import date

    verdict = judge(policy, contract(), summary(scores=(0, 0, 50, 150, 300)), date(2026, 12, 1))
    assert verdict.decision == "pass" and [f.status for f in verdict.findings] == [Status.FAIL, Status.INCONCLUSIVE]
    verdict = judge(policy, contract(), summary(labelled=200, correct=100), date(2026, 12, 1))
    assert verdict.decision == "blocked" and verdict.blocking[0].rule_id == "B"
