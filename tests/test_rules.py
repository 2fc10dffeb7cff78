"""The policy engine as a pure function: impossible rules rejected, the decision table, determinism.

Each rule kind's pass and fail cases are in tests/rules/test_<kind>.py."""

from __future__ import annotations

import re

import pytest
from builders import OVERALL_B, OVERALL_C, TODAY, evidence, one, rates

from governance.engine import evaluate
from governance.errors import InputError
from governance.findings import ExitCode, Finding, Status, Verdict, decide, exit_code
from governance.policy import DUPLICATE_RULE_ID, parse_policy
from governance.rules.fairness import NO_LIMIT
from governance.rules.performance import FLOOR_ON_LOWER_IS_BETTER

SLICES_B = {"g": {"a": rates(500, 0.90), "b": rates(300, 0.88), "c": rates(20, 0.95)}}
SLICES_C = {"g": {"a": rates(500, 0.89), "b": rates(300, 0.83), "c": rates(20, 0.50)}}


@pytest.mark.parametrize("bad,match", [
    ({"kind": "metric_floor", "metric": "log_loss", "min": 0.1},
     re.escape(FLOOR_ON_LOWER_IS_BETTER.format(metric="log_loss"))),
    ({"kind": "metric_drop", "metric": "accurracy", "max_drop": 0.1}, "metric"),
    ({"kind": "metric_drop", "metric": "accuracy"}, "max_drop"),
    ({"kind": "fairness_gap", "metric": "demographic_parity_difference", "by": ["g"]}, re.escape(NO_LIMIT)),
])
def test_impossible_rules_are_rejected(bad, match):
    with pytest.raises(InputError, match=match):
        one(bad, evidence(OVERALL_B, OVERALL_C))


def test_duplicate_rule_ids_are_rejected():
    rule = {"id": "X-1", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.1}
    with pytest.raises(InputError, match=re.escape(DUPLICATE_RULE_ID.format(id="X-1"))):
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
