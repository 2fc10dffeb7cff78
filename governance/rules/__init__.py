"""The rule registry: every rule kind, listed explicitly (no registration by import side effect)."""

from __future__ import annotations

from . import (
    agreement,
    attestation,
    calibration,
    data_checks,
    documentation,
    efficiency,
    fairness,
    groups,
    identity,
    performance,
    production,
    provenance,
    quality,
    representativeness,
    robustness,
)
from .base import PolicyDefaults, RuleBase, RuleKind, kind_of

_CHECKS = (
    performance.metric_drop,
    performance.metric_floor,
    performance.metric_ceiling,
    performance.slice_metric_drop,
    fairness.fairness_gap,
    agreement.agreement,
    calibration.calibration,
    robustness.robustness_drop,
    efficiency.efficiency,
    identity.distinct_models,
    attestation.attestation,
    provenance.provenance,
    data_checks.leakage,
    data_checks.pii_scan,
    documentation.documentation,
    groups.group_drop,
    quality.data_quality,
    production.production_agreement,
    production.label_free_performance,
    representativeness.representativeness,
)

KINDS: dict[str, RuleKind] = {kind_of(c).kind: kind_of(c) for c in _CHECKS}


def plugin_kinds() -> dict:
    """Kind -> ``plugins.Plugin`` for the installed third-party rule kinds (governance/rules/plugins.py)."""
    from .plugins import installed

    return installed(frozenset(KINDS))


def rule_kind(kind: str) -> RuleKind:
    """The built-in or plugin kind named ``kind`` (KeyError when neither has it)."""
    if kind in KINDS:
        return KINDS[kind]
    return plugin_kinds()[kind].kind


__all__ = ["KINDS", "PolicyDefaults", "RuleBase", "RuleKind", "plugin_kinds", "rule_kind"]
