"""The rule registry: every rule kind, listed explicitly (no registration by import side effect)."""

from __future__ import annotations

from . import agreement, attestation, calibration, efficiency, fairness, performance, robustness
from . import data_checks, documentation, identity, provenance
from .base import PolicyDefaults, RuleBase, RuleKind

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
)

KINDS: dict[str, RuleKind] = {c.rule_kind.kind: c.rule_kind for c in _CHECKS}  # type: ignore[attr-defined]

__all__ = ["KINDS", "PolicyDefaults", "RuleBase", "RuleKind"]
