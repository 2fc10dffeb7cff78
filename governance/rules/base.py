"""What every rule shares: its parameter model's common fields, the registry record and finding helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, field_validator

from ..findings import Finding, OnInconclusive, Severity, Status
from ..rmf import normalise, subcategories
from ..yamlfile import InputModel


class PolicyDefaults(InputModel):
    min_slice_size: int = Field(30, ge=1, description="slices with fewer rows are reported, not judged")
    on_inconclusive: OnInconclusive = Field(
        "block", description="what a rule's inconclusive result (too little data to decide) means, unless the rule "
                             "says otherwise: block (fail closed), warn (reported as not judged), pass (accepted)")


#: a rule whose optional limits are all null would judge nothing and pass (template: fields)
NO_LIMIT = "give at least one of {fields}: with every limit null the rule judges nothing"


def require_one_limit(rule: BaseModel, *fields: str) -> None:
    """Refuse, at policy load (exit 2 naming the rule), a rule whose optional limits are all null."""
    if all(getattr(rule, f) is None for f in fields):
        raise ValueError(NO_LIMIT.format(fields=", ".join(fields)))


class RuleBase(InputModel):
    """Fields every rule has; each kind adds its parameters and a ``kind`` literal."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", description="stable rule ID, e.g. PERF-001")
    severity: Severity = Field("block", description="block: a failure blocks the release; warn/info: reported")
    rmf: list[str] = Field(default_factory=list, description="NIST AI RMF subcategories served, e.g. MEASURE 2.3")
    rationale: str | None = Field(None, description="one sentence: why this rule exists")
    on_inconclusive: OnInconclusive | None = Field(
        None, description="block / warn / pass: what an inconclusive result of this rule means for the decision "
                          "(only block-severity rules can block); default: the policy's defaults.on_inconclusive")

    @field_validator("rmf")
    @classmethod
    def _known_rmf(cls, refs: list[str]) -> list[str]:
        known = subcategories()
        out = []
        for ref in refs:
            norm = normalise(ref)
            if norm not in known:
                raise ValueError(f"unknown NIST AI RMF subcategory {ref!r} (expected e.g. 'MEASURE 2.3')")
            out.append(norm)
        return out


#: (rule, what it judges, defaults) -> Finding: a release's Evidence, or for the monitor kinds (rules/monitor.py) one
#: production window's facts
Check = Callable[[Any, Any, PolicyDefaults], Finding]


@dataclass(frozen=True)
class RuleKind:
    kind: str
    params: type[RuleBase]
    check: Check
    family: str
    dated: bool = False  # the check takes ``today=`` (the evaluation date): sign-offs dated after it do not count


#: the function attribute ``@rule`` sets on a check (read back with ``kind_of``)
_KIND_ATTRIBUTE = "rule_kind"


def rule(kind: str, params: type[RuleBase], *, dated: bool = False) -> Callable[[Check], Check]:
    """Mark ``check`` as the implementation of ``kind``; the registry lists checks explicitly."""

    def mark(check: Check) -> Check:
        family = check.__module__.rsplit(".", 1)[-1]
        setattr(check, _KIND_ATTRIBUTE, RuleKind(kind, params, check, family, dated))
        return check

    return mark


def kind_of(check: Check) -> RuleKind:
    """The registry record ``@rule`` attached to ``check`` (typed, unlike the function attribute itself)."""
    found = getattr(check, _KIND_ATTRIBUTE, None)
    if not isinstance(found, RuleKind):
        raise TypeError(f"{check!r} is not marked with @rule(kind, params)")
    return found


def finding(rule: RuleBase, status: Status, message: str, *, observed: float | None = None,
            threshold: float | None = None, **details: Any) -> Finding:
    metric = getattr(rule, "metric", None)
    if isinstance(metric, str):  # structured: the report picks its slice metrics from this, not from the message
        details.setdefault("metric", metric)
    return Finding(
        # every kind's parameter model declares its ``kind`` literal; RuleBase itself has none
        rule_id=rule.id, kind=rule.kind, status=status, severity=rule.severity,  # type: ignore[attr-defined]
        rmf=list(rule.rmf), observed=observed, threshold=threshold, message=message,
        rationale=rule.rationale, details=details,
    )


def fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"
