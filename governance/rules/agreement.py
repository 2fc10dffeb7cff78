"""Agreement between baseline and candidate: how often pruning changed the prediction at all."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..evidence.schema import Evidence
from ..findings import Finding, Status
from .base import PolicyDefaults, RuleBase, finding, fmt, rule
from .slices import dimensions


class AgreementRule(RuleBase):
    """Fails when the share of rows where both models predict the same label is below ``min`` (overall), or
    below ``min_per_slice`` in the worst slice of ``by``. The evidence keeps a sample of broken flips."""

    kind: Literal["agreement"]
    min: float = Field(ge=0, le=1, description="share of rows where both models predict the same label")
    by: list[str] | None = Field(None, description="also check each slice of these columns (or [class])")
    min_per_slice: float | None = Field(None, ge=0, le=1, description="per-slice minimum (default: min)")
    min_slice_size: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _per_slice_needs_by(self) -> AgreementRule:
        if self.min_per_slice is not None and not self.by:
            raise ValueError("min_per_slice needs 'by'")
        return self


@rule("agreement", AgreementRule)
def agreement(rule: AgreementRule, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    a = evidence.agreement
    if a.same_prediction is None or a.rows < defaults.min_slice_size:
        return finding(rule, Status.INCONCLUSIVE, f"only {a.rows} rows: agreement not judged", rows=a.rows)
    problems, hurt = [], None
    if a.same_prediction < rule.min:
        problems.append(f"overall agreement {fmt(a.same_prediction)} is below {fmt(rule.min)}")
    head = (f"the models agree on {fmt(a.same_prediction)} of {a.rows} rows ({a.fixed} fixed, {a.broken} broken "
            f"by pruning)")
    details: dict = {"fixed": a.fixed, "broken": a.broken, "broken_examples": a.broken_examples}
    if rule.by:
        minimum, limit = rule.min_slice_size or defaults.min_slice_size, rule.min_per_slice or rule.min
        judged: list[tuple[str, int, float]] = []
        small: list[tuple[str, int, float | None]] = []
        for dim in dimensions(rule.by, evidence):
            for value, stats in a.slices.get(dim, {}).items():
                n = int(stats.get("count") or 0)
                same = stats.get("same_prediction")
                if n >= minimum and same is not None:
                    judged.append((f"{dim}={value}", n, same))
                else:
                    small.append((f"{dim}={value}", n, same))
        ranked = sorted(small, key=lambda t: (t[2] is None, t[2] or 0.0, t[1]))  # the least agreeing thin slice first
        thin = [{"slice": s, "count": n, "same_prediction": v} for s, n, v in ranked]
        details.update(slices_tested=len(judged), skipped_too_small=[s for s, *_ in small], thin_slices=thin)
        low = ranked[0] if ranked and ranked[0][2] is not None and ranked[0][2] < limit else None
        hurt = thin[0] if low else None
        if low:  # a thin slice below the limit is named and leaves the rule undecided, never passed
            head = (f"thin slice {low[0]} (n={low[1]}) agrees on only {fmt(low[2])}, "
                    f"below {fmt(limit)} (not judged: under the minimum of {minimum}); {head}")
        if not judged:
            return finding(rule, Status.INCONCLUSIVE, f"{head}; no slice of {' / '.join(rule.by)} has "
                                                      f"{minimum} rows: per-slice agreement not judged", **details)
        worst = min(judged, key=lambda t: t[2])
        details.update(worst_slice=worst[0], worst_slice_agreement=worst[2])
        if worst[2] < limit:
            problems.append(f"slice {worst[0]} (n={worst[1]}) agrees on only {fmt(worst[2])}, below {fmt(limit)}")
        head += f"; worst of {len(judged)} slices: {worst[0]} at {fmt(worst[2])}"
    if problems:
        return finding(rule, Status.FAIL, f"{head}: {'; '.join(problems)}.", observed=a.same_prediction,
                       threshold=rule.min, **details)
    return finding(rule, Status.INCONCLUSIVE if hurt else Status.PASS,
                   f"{head}: at or above the minimum {fmt(rule.min)}" + (" in every judged slice." if hurt else "."),
                   observed=a.same_prediction, threshold=rule.min, **details)
