"""Efficiency: the savings that justified pruning, as measured, never as claimed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..evidence.schema import Evidence
from ..findings import Finding, Status
from .base import PolicyDefaults, RuleBase, finding, fmt, rule


class EfficiencyRule(RuleBase):
    """Fails when the measured savings fall short: sparsity, gzip-compressed size reduction, speedup or latency
    at ``batch_size`` (baseline and candidate timed interleaved on the same machine)."""

    kind: Literal["efficiency"]
    min_sparsity: float | None = Field(None, ge=0, le=1, description="candidate's fraction of zero parameters")
    min_size_reduction: float | None = Field(None, le=1, description="1 - candidate/baseline gzip-compressed size")
    min_speedup: float | None = Field(None, gt=0, description="baseline median latency / candidate median latency")
    max_latency_ms: float | None = Field(None, gt=0, description="candidate median latency at batch_size")
    batch_size: int = Field(1, ge=1, description="the measured batch size that speed and latency refer to")

    @model_validator(mode="after")
    def _a_limit(self) -> "EfficiencyRule":
        if all(v is None for v in (self.min_sparsity, self.min_size_reduction, self.min_speedup, self.max_latency_ms)):
            raise ValueError("give at least one of min_sparsity, min_size_reduction, min_speedup, max_latency_ms")
        return self


@rule("efficiency", EfficiencyRule)
def efficiency(rule: EfficiencyRule, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    eff = evidence.efficiency
    if eff is None:
        return finding(rule, Status.ERROR, "efficiency was not measured in this evidence")
    cand = eff.models["candidate"]
    checks: list[tuple[str, float | None, float, bool]] = []  # (what, observed, limit, higher is better)
    if rule.min_sparsity is not None:
        checks.append((f"sparsity ({cand.sparsity_scope or 'scope not stated'})", cand.sparsity, rule.min_sparsity, True))
    if rule.min_size_reduction is not None:
        checks.append(("compressed size reduction", eff.size_reduction, rule.min_size_reduction, True))
    if rule.min_speedup is not None:
        checks.append((f"measured speedup at batch {rule.batch_size}", eff.speedup.get(str(rule.batch_size)),
                       rule.min_speedup, True))
    if rule.max_latency_ms is not None:
        lat = next((l.median_ms for l in cand.latency if l.batch_size == rule.batch_size), None)
        checks.append((f"median latency at batch {rule.batch_size} (ms)", lat, rule.max_latency_ms, False))
    missing = [what for what, value, *_ in checks if value is None]
    if missing:
        return finding(rule, Status.ERROR, f"not measured: {', '.join(missing)}")
    failed = [(w, v, lim, hib) for w, v, lim, hib in checks if (v < lim if hib else v > lim)]  # type: ignore[operator]
    parts = [f"{w} {fmt(v)} ({'>=' if hib else '<='} {fmt(lim)} required)" for w, v, lim, hib in checks]
    msg = "; ".join(parts) + f" on {eff.hardware}."
    first = (failed or checks)[0]
    if failed:
        return finding(rule, Status.FAIL, f"efficiency below target: {msg}", observed=first[1], threshold=first[2],
                       failed=[w for w, *_ in failed])
    return finding(rule, Status.PASS, f"efficiency as required: {msg}", observed=first[1], threshold=first[2])
