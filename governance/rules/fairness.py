"""Fairness rules: the gap between groups for the candidate, and how much pruning widened it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..evidence.schema import Evidence
from ..findings import Finding, Status
from ..metrics import FAIRNESS_HIGHER_IS_WORSE, FAIRNESS_METRICS, fairness_gaps
from .base import PolicyDefaults, RuleBase, finding, fmt, rule
from .slices import dimensions, select, values

FairnessName = Literal[FAIRNESS_METRICS]  # type: ignore[valid-type]
# the per-group rates a gap is made of
_NEEDS = {"demographic_parity": "selection_rate", "equalized_odds": "true_positive_rate"}


class FairnessGap(RuleBase):
    """Fails when the candidate's gap between the groups of ``by`` (their intersection; ``*`` = every
    sensitive column) passes ``max`` (differences) / ``min`` (ratios), or pruning widened it by more than
    ``max_increase`` / ``max_decrease``. Computed as fairlearn does; groups under the minimum size are left out."""

    kind: Literal["fairness_gap"]
    metric: FairnessName
    by: list[str] = Field(min_length=1, description="sensitive columns; groups are their intersection")
    max: float | None = Field(None, description="difference metrics: the candidate's gap must be at most this")
    max_increase: float | None = Field(None, description="difference metrics: the gap may grow by at most this")
    min: float | None = Field(None, description="ratio metrics: the candidate's ratio must be at least this")
    max_decrease: float | None = Field(None, description="ratio metrics: the ratio may shrink by at most this")
    min_slice_size: int | None = Field(None, ge=1, description="groups with fewer rows are left out (reported)")

    @model_validator(mode="after")
    def _limits_fit_metric(self) -> "FairnessGap":
        is_difference = FAIRNESS_HIGHER_IS_WORSE[self.metric]
        if is_difference and (self.min is not None or self.max_decrease is not None):
            raise ValueError(f"{self.metric} is a difference (bigger is worse): use 'max' / 'max_increase'")
        if not is_difference and (self.max is not None or self.max_increase is not None):
            raise ValueError(f"{self.metric} is a ratio (smaller is worse): use 'min' / 'max_decrease'")
        if all(getattr(self, k) is None for k in ("max", "max_increase", "min", "max_decrease")):
            raise ValueError("give at least one limit: max / max_increase (differences) or min / max_decrease (ratios)")
        return self


@rule("fairness_gap", FairnessGap)
def fairness_gap(rule: FairnessGap, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    if evidence.task != "binary_classification":
        return finding(rule, Status.INCONCLUSIVE, f"not applicable: {rule.metric} is defined for binary "
                                                  f"classification, this release is {evidence.task}")
    minimum = rule.min_slice_size or defaults.min_slice_size
    dim = dimensions(rule.by, evidence)[-1]  # the intersection (or the single column)
    needed = _NEEDS[rule.metric.rsplit("_", 1)[0]]
    sel = select(evidence, [dim], minimum, needed)
    if rule.metric.startswith("equalized_odds"):
        sel_fpr = select(evidence, [dim], minimum, "false_positive_rate")
        keep = set(sel.judged) & set(sel_fpr.judged)
        sel.undefined += [u for u in sel_fpr.undefined if (u["dimension"], u["slice"]) in set(sel.judged)]
        sel.judged = [j for j in sel.judged if j in keep]
    common = {"dimension": dim, "min_slice_size": minimum, "groups_compared": len(sel.judged),
              "skipped_too_small": sel.too_small, "skipped_undefined": sel.undefined, "decided_on": "point"}
    if len(sel.judged) < 2:
        return finding(rule, Status.INCONCLUSIVE,
                       f"fewer than two groups of {dim} could be compared ({sel.skipped_summary() or 'one group'}): "
                       f"{rule.metric} not established.", **common)
    gaps = {
        role: fairness_gaps({v: values(evidence, role, d, v) for d, v in sel.judged})[rule.metric]
        for role in ("baseline", "candidate")
    }
    base, cand = gaps["baseline"], gaps["candidate"]
    if cand is None or base is None:
        return finding(rule, Status.INCONCLUSIVE, f"{rule.metric} is undefined for these groups", **common)
    problems = []
    is_difference = FAIRNESS_HIGHER_IS_WORSE[rule.metric]
    change = cand - base if is_difference else base - cand  # positive = worse
    if is_difference:
        if rule.max is not None and cand > rule.max:
            problems.append(f"gap {fmt(cand)} exceeds the maximum {fmt(rule.max)}")
        if rule.max_increase is not None and change > rule.max_increase:
            problems.append(f"it grew by {fmt(change)}, more than the allowed {fmt(rule.max_increase)}")
        limit = rule.max
    else:
        if rule.min is not None and cand < rule.min:
            problems.append(f"ratio {fmt(cand)} is below the minimum {fmt(rule.min)}")
        if rule.max_decrease is not None and change > rule.max_decrease:
            problems.append(f"it shrank by {fmt(change)}, more than the allowed {fmt(rule.max_decrease)}")
        limit = rule.min
    # observed and threshold are the same quantity: the gap itself, or its change when only that is limited
    observed, threshold = (cand, limit) if limit is not None else (
        change, rule.max_increase if is_difference else rule.max_decrease)
    head = (f"{rule.metric} over {len(sel.judged)} groups of {dim}: candidate {fmt(cand)} "
            f"(baseline {fmt(base)})")
    skipped = sel.skipped_summary()
    tail = f"; {skipped}." if skipped else "."
    if problems:
        return finding(rule, Status.FAIL, f"{head}: {'; '.join(problems)}{tail}", observed=observed,
                       threshold=threshold, baseline=base, change=change, **common)
    return finding(rule, Status.PASS, f"{head}, within limits{tail}", observed=observed, threshold=threshold,
                   baseline=base, change=change, **common)
