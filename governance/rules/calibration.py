"""Calibration: pruning can make probabilities over- or under-confident even when labels barely change."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..evidence.schema import Evidence
from ..findings import Finding, Status
from .base import PolicyDefaults, RuleBase, finding, fmt, rule


class CalibrationRule(RuleBase):
    """Fails when the candidate's expected calibration error exceeds ``max_ece`` or rose by more than
    ``max_ece_increase`` (same equal-width bins for both models; ``evaluation.calibration_bins``)."""

    kind: Literal["calibration"]
    max_ece: float | None = Field(None, ge=0, description="the candidate's expected calibration error at most this")
    max_ece_increase: float | None = Field(None, description="the ECE may grow by at most this versus the baseline")

    @model_validator(mode="after")
    def _a_limit(self) -> CalibrationRule:
        if self.max_ece is None and self.max_ece_increase is None:
            raise ValueError("give max_ece and/or max_ece_increase")
        return self


@rule("calibration", CalibrationRule)
def calibration(rule: CalibrationRule, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    cal = evidence.calibration
    if cal is None:
        return finding(rule, Status.ERROR, "calibration was not measured in this evidence")
    base, cand = cal.models["baseline"], cal.models["candidate"]
    if cand.count < defaults.min_slice_size or base.ece is None or cand.ece is None:
        return finding(rule, Status.INCONCLUSIVE, f"only {cand.count} rows: calibration not judged")
    change = cand.ece - base.ece
    problems = []
    if rule.max_ece is not None and cand.ece > rule.max_ece:
        problems.append(f"ECE {fmt(cand.ece)} exceeds {fmt(rule.max_ece)}")
    if rule.max_ece_increase is not None and change > rule.max_ece_increase:
        problems.append(f"it rose by {fmt(change)}, more than the allowed {fmt(rule.max_ece_increase)}")
    head = (f"expected calibration error ({cal.bins} equal-width bins of the {cal.score}): candidate "
            f"{fmt(cand.ece)}, baseline {fmt(base.ece)}; Brier {fmt(cand.brier)} vs {fmt(base.brier)}")
    details = {"baseline": base.ece, "change": change, "brier_baseline": base.brier, "brier_candidate": cand.brier,
               "bins": cal.bins}
    # observed and threshold are always the same quantity: the ECE, or its change when only that is limited
    observed, threshold = (cand.ece, rule.max_ece) if rule.max_ece is not None else (change, rule.max_ece_increase)
    if problems:
        return finding(rule, Status.FAIL, f"{head}: {'; '.join(problems)}.", observed=observed,
                       threshold=threshold, **details)
    return finding(rule, Status.PASS, f"{head}: within limits.", observed=observed, threshold=threshold, **details)
