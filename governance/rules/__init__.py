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
    identity,
    performance,
    provenance,
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
)

KINDS: dict[str, RuleKind] = {kind_of(c).kind: kind_of(c) for c in _CHECKS}

__all__ = ["KINDS", "PolicyDefaults", "RuleBase", "RuleKind"]
