"""The policy engine: a pure function of policy, evidence and today's date. No I/O, no models."""

from __future__ import annotations

from collections import Counter
from datetime import date

from .evidence.schema import Evidence
from .findings import Finding, Status, Verdict, decide
from .policy import Policy
from .rules import KINDS
from .rules.base import finding
from .rules.slices import MissingDimension
from .rules.stats import NoInterval


def check_rule(rule, evidence: Evidence, policy: Policy) -> Finding:
    """Run one rule; a rule that cannot be applied fails closed as ``error`` rather than vanishing."""
    try:
        return KINDS[rule.kind].check(rule, evidence, policy.defaults)
    except (MissingDimension, NoInterval) as exc:
        return finding(rule, Status.ERROR, f"cannot apply rule: {exc}")
    except (LookupError, TypeError, ValueError, ZeroDivisionError) as exc:
        return finding(rule, Status.ERROR, f"cannot apply rule: {exc.__class__.__name__}: {exc}")


def evaluate(policy: Policy, evidence: Evidence, today: date) -> Verdict:
    findings = [check_rule(r, evidence, policy) for r in policy.rules]
    counts = Counter(f.status.value for f in findings)
    return Verdict(
        decision=decide(findings),
        release=dict(evidence.release),
        policy={"name": policy.name},
        evaluated_on=today,
        summary={s.value: counts.get(s.value, 0) for s in Status},
        findings=findings,
    )


def compatibility_problems(policy: Policy, evidence_sensitive: list[str], task: str) -> list[tuple[int, str, str]]:
    """Rules that cannot apply to this release: (rule index, field, message). Checked before any model runs."""
    problems = []
    for i, r in enumerate(policy.rules):
        by = getattr(r, "by", None) or []
        if "class" in by and len(by) > 1:
            problems.append((i, "by", "'class' (slicing by the true label) cannot be combined with other columns"))
        for col in by:
            if col not in evidence_sensitive and col != "class":
                known = ", ".join(evidence_sensitive) or "none"
                problems.append((i, "by", f"column {col!r} is not a sensitive column of the release (sensitive: {known})"))
        if r.kind == "fairness_gap" and task != "binary_classification":
            problems.append((i, "metric", f"{r.metric} needs a binary classification task, not {task}"))
        metric = getattr(r, "metric", "")
        if task != "binary_classification" and metric in ("selection_rate", "false_positive_rate", "false_negative_rate"):
            problems.append((i, "metric", f"{metric} is defined for binary classification only"))
    return problems
