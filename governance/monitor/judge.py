"""The monitor policy (a YAML file of monitor rules) and the decision on one window: findings and a verdict.

The same engine pieces as a release decision (frozen Findings with a Status, the rule's ``on_inconclusive``
stance, waivers, ``decide`` and the exit-code table), over ``rules.monitor.MONITOR_KINDS`` instead of the
release kinds. Pure: no I/O once the policy is loaded.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import InputError
from ..evidence.profile import feature_distances
from ..findings import Finding, Status, Verdict, decide
from ..policy import Waiver, unique_ids
from ..rules.base import PolicyDefaults, finding
from ..rules.monitor import (
    MONITOR_KINDS,
    EstimatedPerformanceRule,
    FeatureDriftRule,
    RealizedPerformanceRule,
    ScoreDriftRule,
    ShadowAgreementRule,
    WindowFacts,
)
from .contract import MonitoringContract
from .window import WindowSummary, reference_profile

MonitorRule = Annotated[
    FeatureDriftRule | ScoreDriftRule | RealizedPerformanceRule | EstimatedPerformanceRule | ShadowAgreementRule,
    Field(discriminator="kind"),
]

#: a rule whose kind is no monitor kind (template: kind, known)
UNKNOWN_MONITOR_KIND = "unknown monitor rule kind {kind!r} (monitor kinds: {known})"
#: what the default monitor policy is called
DEFAULT_POLICY = "builtin:monitor"


class MonitorPolicy(BaseModel):
    """A monitor policy: rules of the monitor kinds, with the release policies' defaults and waivers."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    description: str | None = None
    defaults: PolicyDefaults = Field(default_factory=PolicyDefaults)
    rules: list[MonitorRule] = Field(min_length=1)
    waivers: list[Waiver] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[Any]) -> list[Any]:
        return unique_ids(rules)


def is_monitor_policy(data: Any) -> bool:
    """A policy mapping whose rules all have monitor kinds (``governance policy lint`` tells the two apart)."""
    rules = data.get("rules") if isinstance(data, dict) else None
    return (isinstance(rules, list) and bool(rules)
            and all(isinstance(r, dict) and r.get("kind") in MONITOR_KINDS for r in rules))


def load_monitor_policy(ref: str | Path) -> tuple[MonitorPolicy, Path]:
    """A monitor policy file or ``builtin:NAME``; bad input names the file, the rule and the key."""
    from ..policy import resolve_policy_ref
    from ..yamlfile import line_of, read_yaml, validation_error

    path = resolve_policy_ref(str(ref), None, None, "--policy")
    data, node = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(path, None, "expected a YAML mapping for a monitor policy")
    for i, r in enumerate(data.get("rules") or [] if isinstance(data.get("rules"), list) else []):
        kind = r.get("kind") if isinstance(r, dict) else None
        if kind not in MONITOR_KINDS:
            line = line_of(node, ("rules", i, "kind"))
            where = f"rules[{i}].kind" + (f" (line {line})" if line else "")
            raise InputError(path, where, UNKNOWN_MONITOR_KIND.format(kind=kind, known=", ".join(MONITOR_KINDS)))
    try:
        return MonitorPolicy.model_validate(data), path
    except ValidationError as exc:
        raise validation_error(path, exc, data, node, MonitorPolicy) from None


def window_facts(contract: MonitoringContract, window: WindowSummary) -> WindowFacts:
    """The facts the rules judge: the window's feature distances to the reference are computed here, once."""
    from ..evidence.profile import FeatureProfile

    reference = reference_profile(contract)
    distances = None
    if reference is not None and window.profile is not None:
        distances = feature_distances(reference, FeatureProfile.from_json(window.profile))
    return WindowFacts(contract, window, distances)


def _run(rule: Any, facts: WindowFacts, policy: MonitorPolicy) -> Finding:
    """One rule, its stance recorded; a rule that cannot be applied fails closed as ``error``."""
    try:
        out = MONITOR_KINDS[rule.kind].check(rule, facts, policy.defaults)
    except (LookupError, TypeError, ValueError, ZeroDivisionError) as exc:
        out = finding(rule, Status.ERROR, f"cannot apply rule: {exc.__class__.__name__}: {exc}")
    return out.model_copy(update={"on_inconclusive": rule.on_inconclusive or policy.defaults.on_inconclusive})


def judge(policy: MonitorPolicy, contract: MonitoringContract, window: WindowSummary, today: date) -> Verdict:
    """The decision on one window: ``blocked`` (exit 1: retrain or roll back) iff a block rule fails, errs, or is
    inconclusive under the ``block`` stance."""
    from ..engine import apply_waivers

    facts = window_facts(contract, window)
    findings = [_run(r, facts, policy) for r in policy.rules]
    findings, waiver_states = apply_waivers(findings, policy.waivers, today)
    counts = Counter(f.status.value for f in findings)
    return Verdict(decision=decide(findings), release={**contract.release, "window": window.name},
                   policy={"name": policy.name}, evaluated_on=today,
                   summary={s.value: counts.get(s.value, 0) for s in Status}, findings=findings,
                   waivers=waiver_states)
