"""Performance rules: overall drop, floor and ceiling, and the worst slice's drop."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..evidence.schema import Evidence
from ..findings import Finding, Status
from ..metrics import HIGHER_IS_BETTER, METRICS
from .base import PolicyDefaults, RuleBase, finding, fmt, rule
from .slices import dimensions, select, slice_name, values

MetricName = Literal[METRICS]  # type: ignore[valid-type]


def drop(metric: str, baseline: float, candidate: float) -> float:
    """How much worse the candidate is, in the metric's own units: positive = worse, whatever the direction."""
    return baseline - candidate if HIGHER_IS_BETTER[metric] else candidate - baseline


def _direction(metric: str) -> str:
    return "higher is better" if HIGHER_IS_BETTER[metric] else "lower is better"


class MetricDrop(RuleBase):
    kind: Literal["metric_drop"]
    metric: MetricName
    max_drop: float = Field(description="largest allowed absolute worsening, baseline vs candidate")


class MetricFloor(RuleBase):
    kind: Literal["metric_floor"]
    metric: MetricName
    min: float = Field(description="the candidate's metric must be at least this")

    @model_validator(mode="after")
    def _higher_is_better(self) -> "MetricFloor":
        if not HIGHER_IS_BETTER[self.metric]:
            raise ValueError(f"{self.metric} is lower-is-better: use kind metric_ceiling with 'max'")
        return self


class MetricCeiling(RuleBase):
    kind: Literal["metric_ceiling"]
    metric: MetricName
    max: float = Field(description="the candidate's metric must be at most this")

    @model_validator(mode="after")
    def _lower_is_better(self) -> "MetricCeiling":
        if HIGHER_IS_BETTER[self.metric]:
            raise ValueError(f"{self.metric} is higher-is-better: use kind metric_floor with 'min'")
        return self


class SliceMetricDrop(RuleBase):
    kind: Literal["slice_metric_drop"]
    metric: MetricName
    by: list[str] = Field(min_length=1, description="sensitive columns; each, and their intersection")
    max_drop: float = Field(description="largest allowed absolute worsening in any judged slice")
    min_slice_size: int | None = Field(None, ge=1, description="default: the policy's defaults.min_slice_size")


def _overall(evidence: Evidence, metric: str) -> tuple[float | None, float | None, int]:
    b = evidence.models["baseline"].overall
    c = evidence.models["candidate"].overall
    return b.get(metric), c.get(metric), int(c.get("count") or 0)  # type: ignore[return-value]


def _too_thin(rule: RuleBase, metric: str, n: int, minimum: int) -> Finding | None:
    if n < minimum:
        return finding(rule, Status.INCONCLUSIVE,
                       f"only {n} rows were evaluated, fewer than the minimum of {minimum}: {metric} not judged",
                       rows=n, min_slice_size=minimum)
    return None


@rule("metric_drop", MetricDrop)
def metric_drop(rule: MetricDrop, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    base, cand, n = _overall(evidence, rule.metric)
    if (thin := _too_thin(rule, rule.metric, n, defaults.min_slice_size)) is not None:
        return thin
    if base is None or cand is None:
        return finding(rule, Status.INCONCLUSIVE, f"{rule.metric} is undefined on this data (e.g. a single class)")
    d = drop(rule.metric, base, cand)
    ok = d <= rule.max_drop
    msg = (f"{rule.metric} {'worsened' if d > 0 else 'changed'} by {fmt(d)} ({fmt(base)} -> {fmt(cand)}), "
           f"{'within' if ok else 'more than'} the allowed {fmt(rule.max_drop)} "
           f"(absolute; {_direction(rule.metric)}).")
    return finding(rule, Status.PASS if ok else Status.FAIL, msg, observed=d, threshold=rule.max_drop,
                   baseline=base, candidate=cand, decided_on="point")


@rule("metric_floor", MetricFloor)
def metric_floor(rule: MetricFloor, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    _, cand, n = _overall(evidence, rule.metric)
    if (thin := _too_thin(rule, rule.metric, n, defaults.min_slice_size)) is not None:
        return thin
    if cand is None:
        return finding(rule, Status.INCONCLUSIVE, f"{rule.metric} is undefined on this data (e.g. a single class)")
    ok = cand >= rule.min
    msg = f"candidate {rule.metric} is {fmt(cand)}, {'at or above' if ok else 'below'} the floor of {fmt(rule.min)}."
    return finding(rule, Status.PASS if ok else Status.FAIL, msg, observed=cand, threshold=rule.min,
                   decided_on="point")


@rule("metric_ceiling", MetricCeiling)
def metric_ceiling(rule: MetricCeiling, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    _, cand, n = _overall(evidence, rule.metric)
    if (thin := _too_thin(rule, rule.metric, n, defaults.min_slice_size)) is not None:
        return thin
    if cand is None:
        return finding(rule, Status.INCONCLUSIVE, f"{rule.metric} is undefined on this data (e.g. a single class)")
    ok = cand <= rule.max
    msg = f"candidate {rule.metric} is {fmt(cand)}, {'at or below' if ok else 'above'} the ceiling of {fmt(rule.max)}."
    return finding(rule, Status.PASS if ok else Status.FAIL, msg, observed=cand, threshold=rule.max,
                   decided_on="point")


@rule("slice_metric_drop", SliceMetricDrop)
def slice_metric_drop(rule: SliceMetricDrop, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    minimum = rule.min_slice_size or defaults.min_slice_size
    sel = select(evidence, dimensions(rule.by, evidence), minimum, rule.metric)
    skipped = sel.skipped_summary()
    common = {"min_slice_size": minimum, "slices_tested": len(sel.judged), "skipped_too_small": sel.too_small,
              "skipped_undefined": sel.undefined, "decided_on": "point"}
    if not sel.judged:
        return finding(rule, Status.INCONCLUSIVE,
                       f"no slice of {' / '.join(rule.by)} could be judged ({skipped}): "
                       f"{rule.metric} drop per slice not established.", threshold=rule.max_drop, **common)
    drops = []
    for dim, value in sel.judged:
        b = values(evidence, "baseline", dim, value)[rule.metric]
        c = values(evidence, "candidate", dim, value)[rule.metric]
        drops.append((drop(rule.metric, b, c), dim, value, b, c))  # type: ignore[arg-type]
    worst = max(drops, key=lambda t: t[0])
    d, dim, value, b, c = worst
    ok = d <= rule.max_drop
    count = int(values(evidence, "candidate", dim, value).get("count") or 0)
    msg = (f"worst slice {slice_name(dim, value)} (n={count}): {rule.metric} "
           f"{'worsened' if d > 0 else 'changed'} by {fmt(d)} ({fmt(b)} -> {fmt(c)}), "
           f"{'within' if ok else 'more than'} the allowed {fmt(rule.max_drop)} "
           f"(absolute; {_direction(rule.metric)}); {len(sel.judged)} slice(s) tested"
           + (f"; {skipped}." if skipped else "."))
    failing = [slice_name(x[1], x[2]) for x in drops if x[0] > rule.max_drop]
    return finding(rule, Status.PASS if ok else Status.FAIL, msg, observed=d, threshold=rule.max_drop,
                   worst_slice=slice_name(dim, value), worst_slice_count=count, baseline=b, candidate=c,
                   failing_slices=failing, **common)
