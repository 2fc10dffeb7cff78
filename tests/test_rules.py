"""The policy engine as a pure function: one pass and one fail case per rule kind, and the decision table."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from governance.engine import evaluate
from governance.evidence.schema import Agreement, DataEvidence, Evidence, FileRef, ModelEvidence
from governance.findings import ExitCode, Finding, Status, Verdict, decide, exit_code
from governance.policy import parse_policy
from governance.errors import InputError

TODAY = date(2026, 11, 25)
REF = FileRef(path="x", sha256="0" * 64, bytes=1)


def rates(count, accuracy, sel=0.5, tpr=0.8, fpr=0.2, **extra):
    return {"count": count, "accuracy": accuracy, "selection_rate": sel, "true_positive_rate": tpr,
            "recall": tpr, "false_positive_rate": fpr, **extra}


def evidence(base_overall, cand_overall, base_slices=None, cand_slices=None) -> Evidence:
    def model(overall, slices):
        return ModelEvidence(format="skops", file=REF, overall=overall, slices=slices or {})

    dims = {d: d.split(" & ") for d in (base_slices or {})}
    return Evidence(
        tool={"name": "t", "version": "0"}, created_at=datetime.now(timezone.utc), libraries={},
        release={"name": "r", "version": "1"}, task="binary_classification", inputs={},
        data=DataEvidence(file=REF, rows=1000, target="y", sensitive=sorted({c for v in dims.values() for c in v}),
                          features=["f"], classes=["0", "1"], positive_label="1"),
        dimensions=dims, models={"baseline": model(base_overall, base_slices), "candidate": model(cand_overall, cand_slices)},
        agreement=Agreement(rows=1000, same_prediction=0.9, fixed=1, broken=2, max_abs_score_difference=0.1),
    )


def one(rule: dict, ev: Evidence, defaults=None) -> Finding:
    policy = parse_policy({"name": "p", "defaults": defaults or {"min_slice_size": 30},
                           "rules": [{"id": "R-1", "severity": "block", **rule}]}, path=__file__)  # type: ignore[arg-type]
    return evaluate(policy, ev, TODAY).findings[0]


OVERALL_B = {"count": 1000, "accuracy": 0.90, "log_loss": 0.30, "recall": 0.8}
OVERALL_C = {"count": 1000, "accuracy": 0.885, "log_loss": 0.36, "recall": 0.7}


@pytest.mark.parametrize("rule,status", [
    ({"kind": "metric_drop", "metric": "accuracy", "max_drop": 0.02}, Status.PASS),
    ({"kind": "metric_drop", "metric": "accuracy", "max_drop": 0.01}, Status.FAIL),
    # lower-is-better: a rise in log loss is the drop
    ({"kind": "metric_drop", "metric": "log_loss", "max_drop": 0.1}, Status.PASS),
    ({"kind": "metric_drop", "metric": "log_loss", "max_drop": 0.05}, Status.FAIL),
    ({"kind": "metric_floor", "metric": "recall", "min": 0.65}, Status.PASS),
    ({"kind": "metric_floor", "metric": "recall", "min": 0.75}, Status.FAIL),
    ({"kind": "metric_ceiling", "metric": "log_loss", "max": 0.4}, Status.PASS),
    ({"kind": "metric_ceiling", "metric": "log_loss", "max": 0.35}, Status.FAIL),
])
def test_overall_rules_pass_and_fail(rule, status):
    f = one(rule, evidence(OVERALL_B, OVERALL_C))
    assert f.status == status
    if rule["kind"] == "metric_drop":
        assert f.observed == pytest.approx(0.015 if rule["metric"] == "accuracy" else 0.06)
        assert "absolute" in f.message


def test_overall_rule_on_too_few_rows_is_inconclusive():
    f = one({"kind": "metric_drop", "metric": "accuracy", "max_drop": 0.01},
            evidence({**OVERALL_B, "count": 10}, {**OVERALL_C, "count": 10}))
    assert f.status == Status.INCONCLUSIVE


SLICES_B = {"g": {"a": rates(500, 0.90), "b": rates(300, 0.88), "c": rates(20, 0.95)}}
SLICES_C = {"g": {"a": rates(500, 0.89), "b": rates(300, 0.83), "c": rates(20, 0.50)}}


def test_slice_drop_fails_on_the_worst_judged_slice_and_skips_small_ones():
    f = one({"kind": "slice_metric_drop", "metric": "accuracy", "by": ["g"], "max_drop": 0.03},
            evidence(OVERALL_B, OVERALL_C, SLICES_B, SLICES_C))
    assert f.status == Status.FAIL
    assert f.details["worst_slice"] == "g=b" and f.observed == pytest.approx(0.05)
    assert f.details["slices_tested"] == 2 and [s["slice"] for s in f.details["skipped_too_small"]] == ["c"]
    assert "g=b" in f.message and "below the minimum size" in f.message


def test_slice_drop_passes_when_every_judged_slice_is_within_the_limit():
    # the thin slice c is not judged; it must not be badly hurt either (see tests/test_not_judged.py)
    unhurt = {"g": {**SLICES_C["g"], "c": rates(20, 0.93)}}
    f = one({"kind": "slice_metric_drop", "metric": "accuracy", "by": ["g"], "max_drop": 0.06},
            evidence(OVERALL_B, OVERALL_C, SLICES_B, unhurt))
    assert f.status == Status.PASS


def test_slice_drop_with_every_slice_too_small_is_inconclusive_never_pass():
    f = one({"kind": "slice_metric_drop", "metric": "accuracy", "by": ["g"], "max_drop": 0.5, "min_slice_size": 1000},
            evidence(OVERALL_B, OVERALL_C, SLICES_B, SLICES_C))
    assert f.status == Status.INCONCLUSIVE


def test_slice_rule_on_a_dimension_missing_from_evidence_is_an_error_that_blocks():
    f = one({"kind": "slice_metric_drop", "metric": "accuracy", "by": ["zip"], "max_drop": 0.5},
            evidence(OVERALL_B, OVERALL_C, SLICES_B, SLICES_C))
    assert f.status == Status.ERROR and f.blocks


FAIR_B = {"g": {"a": rates(500, 0.9, tpr=0.80, fpr=0.10), "b": rates(300, 0.9, tpr=0.75, fpr=0.12)}}
FAIR_C = {"g": {"a": rates(500, 0.9, tpr=0.80, fpr=0.10), "b": rates(300, 0.9, tpr=0.66, fpr=0.12)}}


@pytest.mark.parametrize("limits,status", [
    ({"max": 0.2}, Status.PASS),           # candidate gap 0.14
    ({"max": 0.1}, Status.FAIL),
    ({"max_increase": 0.1}, Status.PASS),  # grew by 0.09
    ({"max_increase": 0.05}, Status.FAIL),
])
def test_fairness_gap_limits(limits, status):
    f = one({"kind": "fairness_gap", "metric": "equalized_odds_difference", "by": ["g"], **limits},
            evidence(OVERALL_B, OVERALL_C, FAIR_B, FAIR_C))
    assert f.status == status
    # the gap itself against "max"; its growth against "max_increase"
    assert f.observed == pytest.approx(0.14 if "max" in limits else 0.09)
    assert f.details["baseline"] == pytest.approx(0.05) and f.details["change"] == pytest.approx(0.09)


def test_fairness_ratio_uses_min_and_rejects_max():
    f = one({"kind": "fairness_gap", "metric": "equalized_odds_ratio", "by": ["g"], "min": 0.9},
            evidence(OVERALL_B, OVERALL_C, FAIR_B, FAIR_C))
    assert f.status == Status.FAIL and f.observed == pytest.approx(0.66 / 0.80)
    with pytest.raises(InputError, match="ratio"):
        one({"kind": "fairness_gap", "metric": "equalized_odds_ratio", "by": ["g"], "max": 0.9},
            evidence(OVERALL_B, OVERALL_C, FAIR_B, FAIR_C))


def test_fairness_with_one_group_big_enough_is_inconclusive():
    f = one({"kind": "fairness_gap", "metric": "demographic_parity_difference", "by": ["g"], "max": 0.1,
             "min_slice_size": 400}, evidence(OVERALL_B, OVERALL_C, FAIR_B, FAIR_C))
    assert f.status == Status.INCONCLUSIVE


@pytest.mark.parametrize("bad,match", [
    ({"kind": "metric_floor", "metric": "log_loss", "min": 0.1}, "metric_ceiling"),
    ({"kind": "metric_drop", "metric": "accurracy", "max_drop": 0.1}, "metric"),
    ({"kind": "metric_drop", "metric": "accuracy"}, "max_drop"),
    ({"kind": "fairness_gap", "metric": "demographic_parity_difference", "by": ["g"]}, "at least one limit"),
])
def test_impossible_rules_are_rejected(bad, match):
    with pytest.raises(InputError, match=match):
        one(bad, evidence(OVERALL_B, OVERALL_C))


def test_duplicate_rule_ids_are_rejected():
    rule = {"id": "X-1", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.1}
    with pytest.raises(InputError, match="used twice"):
        parse_policy({"name": "p", "rules": [rule, rule]}, path=__file__)  # type: ignore[arg-type]


def _f(status: Status, severity: str) -> Finding:
    return Finding(rule_id="R", kind="k", status=status, severity=severity, message="m")  # type: ignore[arg-type]


@pytest.mark.parametrize("status,severity,decision", [
    (Status.PASS, "block", "pass"),
    (Status.FAIL, "block", "blocked"),
    (Status.ERROR, "block", "blocked"),
    (Status.FAIL, "warn", "pass"),
    (Status.ERROR, "info", "pass"),
    (Status.INCONCLUSIVE, "block", "pass"),
    (Status.WAIVED, "block", "pass"),
])
def test_decision_table(status, severity, decision):
    verdict = Verdict(decision=decide([_f(status, severity)]), evaluated_on=TODAY, findings=[_f(status, severity)])
    assert verdict.decision == decision
    assert exit_code(verdict) == (ExitCode.BLOCKED if decision == "blocked" else ExitCode.SHIP)


def test_evaluate_is_deterministic():
    policy = parse_policy({"name": "p", "rules": [
        {"id": "A-1", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["g"], "max_drop": 0.03}]},
        path=__file__)  # type: ignore[arg-type]
    ev = evidence(OVERALL_B, OVERALL_C, SLICES_B, SLICES_C)
    assert evaluate(policy, ev, TODAY) == evaluate(policy, ev, TODAY)
