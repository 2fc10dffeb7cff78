"""Performance rules: overall drop, floor and ceiling, and the worst slice's drop."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..evidence.schema import Evidence
from ..findings import Finding, Status
from ..metrics import HIGHER_IS_BETTER, MetricName
from .base import PolicyDefaults, RuleBase, finding, fmt, rule
from .slices import dimensions, select, slice_name, thin_slices, values
from .stats import Correction, DecideOn, comparison, confidence, drop_interval, p_excess, reject


def drop(metric: str, baseline: float, candidate: float) -> float:
    """How much worse the candidate is, in the metric's own units: positive = worse, whatever the direction."""
    return baseline - candidate if HIGHER_IS_BETTER[metric] else candidate - baseline


#: a floor on a lower-is-better metric (template: format with metric)
FLOOR_ON_LOWER_IS_BETTER = "{metric} is lower-is-better: use kind metric_ceiling with 'max'"


def _direction(metric: str) -> str:
    return "higher is better" if HIGHER_IS_BETTER[metric] else "lower is better"


def _moved(d: float) -> str:
    return f"worsened by {fmt(d)}" if d > 0 else ("did not change" if d == 0 else f"improved by {fmt(-d)}")


class _Decides(RuleBase):
    decide_on: DecideOn = Field("point", description="point: the estimate; bound: the worse end of its "
                                                     "confidence interval must be within the limit")


class MetricDrop(_Decides):
    """Fails when the candidate's overall metric is worse than the baseline's by more than ``max_drop``
    (absolute, in the metric's units; for lower-is-better metrics a rise is the drop)."""

    kind: Literal["metric_drop"]
    metric: MetricName
    max_drop: float = Field(description="largest allowed absolute worsening, baseline vs candidate")


class MetricFloor(_Decides):
    """Fails when the candidate's overall metric (higher-is-better) is below ``min``."""

    kind: Literal["metric_floor"]
    metric: MetricName
    min: float = Field(description="the candidate's metric must be at least this")

    @model_validator(mode="after")
    def _higher_is_better(self) -> MetricFloor:
        if not HIGHER_IS_BETTER[self.metric]:
            raise ValueError(FLOOR_ON_LOWER_IS_BETTER.format(metric=self.metric))
        return self


class MetricCeiling(_Decides):
    """Fails when the candidate's overall metric (lower-is-better) is above ``max``."""

    kind: Literal["metric_ceiling"]
    metric: MetricName
    max: float = Field(description="the candidate's metric must be at most this")

    @model_validator(mode="after")
    def _lower_is_better(self) -> MetricCeiling:
        if HIGHER_IS_BETTER[self.metric]:
            raise ValueError(f"{self.metric} is higher-is-better: use kind metric_floor with 'min'")
        return self


class SliceMetricDrop(_Decides):
    """Fails when, in the worst judged slice of each ``by`` column (and of their intersection), the drop
    exceeds ``max_drop``. ``by: ["*"]`` means every sensitive column; ``by: [class]`` slices by the true label
    (within a class slice, accuracy is that class's recall). Slices under ``min_slice_size`` rows are not
    judged but named with their observed drop (``thin_slices``); if none can be judged, or a thin slice's
    observed drop exceeds ``max_drop`` while no judged slice fails, the rule is inconclusive, never pass."""

    kind: Literal["slice_metric_drop"]
    metric: MetricName
    by: list[str] = Field(min_length=1, description="sensitive columns; each, and their intersection; "
                                                    "or [class] for the true label")
    max_drop: float = Field(description="largest allowed absolute worsening in any judged slice")
    min_slice_size: int | None = Field(None, ge=1, description="default: the policy's defaults.min_slice_size")
    multiple_comparisons: Correction = Field(
        "none", description="holm / bh: a slice fails only if its drop exceeds max_drop significantly after "
                            "correcting for the number of slices tested")


def _overall(evidence: Evidence, metric: str) -> tuple[float | None, float | None, int]:
    b = evidence.models["baseline"].overall
    c = evidence.models["candidate"].overall
    return b.get(metric), c.get(metric), int(c.get("count") or 0)


def _too_thin(rule: RuleBase, metric: str, n: int, minimum: int) -> Finding | None:
    if n < minimum:
        return finding(rule, Status.INCONCLUSIVE,
                       f"only {n} rows were evaluated, fewer than the minimum of {minimum}: {metric} not judged",
                       rows=n, min_slice_size=minimum)
    return None


#: the clause naming a thin slice whose observed drop passes the limit: thin slices are never silently passed
THIN_HURT = "thin slice {slice} (n={count}): {metric} {moved}{interval} (not judged: under the minimum of {minimum})"


def _thin_hurt(rule: SliceMetricDrop, thin: list[dict]) -> dict | None:
    """The worst thin slice whose observed drop exceeds the rule's limit and, where the evidence has its paired
    interval, is distinguishable from no change (the interval excludes 0): one changed prediction in a slice of
    four rows is a 25-point "drop" that says nothing. Without an interval the point estimate decides."""
    for t in thin:  # sorted worst first
        if t["drop"] is not None and t["drop"] > rule.max_drop and t.get("drop_ci_low", 1.0) > 0:
            return t
    return None


def _thin_text(rule: SliceMetricDrop, t: dict, minimum: int) -> str:
    interval = f", drop interval [{fmt(t['drop_ci_low'])}, {fmt(t['drop_ci_high'])}]" if "drop_ci_low" in t else ""
    return THIN_HURT.format(slice=t["slice"], count=t["count"], metric=rule.metric, moved=_moved(t["drop"]),
                            interval=interval, minimum=minimum)


def _ci_text(low: float, high: float, confidence: float) -> str:
    return f"{confidence:.0%} interval [{fmt(low)}, {fmt(high)}]"


@rule("metric_drop", MetricDrop)
def metric_drop(rule: MetricDrop, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    base, cand, n = _overall(evidence, rule.metric)
    if (thin := _too_thin(rule, rule.metric, n, defaults.min_slice_size)) is not None:
        return thin
    if base is None or cand is None:
        return finding(rule, Status.INCONCLUSIVE, f"{rule.metric} is undefined on this data (e.g. a single class)")
    d = drop(rule.metric, base, cand)
    extra: dict[str, float] = {}
    decided, ci_note = d, ""
    if rule.decide_on == "bound" or evidence.comparisons is not None:
        try:
            low, high = drop_interval(rule.metric, comparison(evidence, rule.metric))
            conf = confidence(evidence)
            extra = {"drop_ci_low": low, "drop_ci_high": high}
            ci_note = f", drop {_ci_text(low, high, conf)}"
            if rule.decide_on == "bound":
                decided = high
        except LookupError:
            if rule.decide_on == "bound":
                raise
    ok = decided <= rule.max_drop
    basis = "the upper end of its interval" if rule.decide_on == "bound" else "the point estimate"
    msg = (f"{rule.metric} {_moved(d)} ({fmt(base)} -> {fmt(cand)}{ci_note}); decided on {basis}: "
           f"{'within' if ok else 'more than'} the allowed {fmt(rule.max_drop)} (absolute; {_direction(rule.metric)}).")
    return finding(rule, Status.PASS if ok else Status.FAIL, msg, observed=decided, threshold=rule.max_drop,
                   baseline=base, candidate=cand, drop=d, decided_on=rule.decide_on, **extra)


def _limit_rule(rule: MetricFloor | MetricCeiling, evidence: Evidence, defaults: PolicyDefaults,
                limit: float, floor: bool) -> Finding:
    _, cand, n = _overall(evidence, rule.metric)
    if (thin := _too_thin(rule, rule.metric, n, defaults.min_slice_size)) is not None:
        return thin
    if cand is None:
        return finding(rule, Status.INCONCLUSIVE, f"{rule.metric} is undefined on this data (e.g. a single class)")
    decided, note, extra = cand, "", dict[str, float]()
    if rule.decide_on == "bound":
        comp = comparison(evidence, rule.metric)
        assert comp.candidate_ci is not None
        decided = comp.candidate_ci.ci_low if floor else comp.candidate_ci.ci_high
        note = f" ({_ci_text(comp.candidate_ci.ci_low, comp.candidate_ci.ci_high, confidence(evidence))};" \
               f" decided on its {'lower' if floor else 'upper'} end)"
        extra = {"ci_low": comp.candidate_ci.ci_low, "ci_high": comp.candidate_ci.ci_high}
    ok = decided >= limit if floor else decided <= limit
    side = ("at or above", "below") if floor else ("at or below", "above")
    what = "floor" if floor else "ceiling"
    msg = f"candidate {rule.metric} is {fmt(cand)}{note}, {side[0] if ok else side[1]} the {what} of {fmt(limit)}."
    return finding(rule, Status.PASS if ok else Status.FAIL, msg, observed=decided, threshold=limit,
                   candidate=cand, decided_on=rule.decide_on, **extra)


@rule("metric_floor", MetricFloor)
def metric_floor(rule: MetricFloor, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    return _limit_rule(rule, evidence, defaults, rule.min, floor=True)


@rule("metric_ceiling", MetricCeiling)
def metric_ceiling(rule: MetricCeiling, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    return _limit_rule(rule, evidence, defaults, rule.max, floor=False)


@rule("slice_metric_drop", SliceMetricDrop)
def slice_metric_drop(rule: SliceMetricDrop, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    minimum = rule.min_slice_size or defaults.min_slice_size
    sel = select(evidence, dimensions(rule.by, evidence), minimum, rule.metric)
    skipped = sel.skipped_summary()
    corrected = rule.multiple_comparisons != "none"
    basis = (f"{rule.multiple_comparisons}-corrected one-sided tests" if corrected
             else "upper ends of the drop intervals" if rule.decide_on == "bound" else "point estimates")
    thin = thin_slices(evidence, sel, rule.metric)
    hurt = _thin_hurt(rule, thin)
    common: dict[str, Any] = {
        "min_slice_size": minimum, "slices_tested": len(sel.judged), "skipped_too_small": sel.too_small,
        "thin_slices": thin, "skipped_undefined": sel.undefined, "decided_on": rule.decide_on,
        "multiple_comparisons": rule.multiple_comparisons}
    if not sel.judged:
        return finding(rule, Status.INCONCLUSIVE,
                       (f"{_thin_text(rule, hurt, minimum)}; " if hurt else "")
                       + f"no slice of {' / '.join(rule.by)} could be judged ({skipped}): "
                       f"{rule.metric} drop per slice not established.", threshold=rule.max_drop,
                       observed=hurt["drop"] if hurt else None, **common)
    rows: list[dict[str, Any]] = []
    for dim, value in sel.judged:
        b = values(evidence, "baseline", dim, value)[rule.metric]
        c = values(evidence, "candidate", dim, value)[rule.metric]
        d = drop(rule.metric, b, c)  # type: ignore[arg-type]  # judged slices have the metric defined (select)
        row: dict[str, Any] = {
            "slice": slice_name(dim, value), "dim": dim, "value": value, "baseline": b, "candidate": c,
            "drop": d, "count": int(values(evidence, "candidate", dim, value).get("count") or 0)}
        if rule.decide_on == "bound" or corrected:
            row["drop_ci_low"], row["drop_ci_high"] = drop_interval(rule.metric,
                                                                    comparison(evidence, rule.metric, dim, value))
        rows.append(row)
    if corrected:
        conf = confidence(evidence)
        for row in rows:
            row["p_value"] = p_excess(row["drop"], row["drop_ci_low"], row["drop_ci_high"], rule.max_drop, conf)
        flags = reject([r["p_value"] for r in rows], 1 - conf, rule.multiple_comparisons)
        key = "drop"
    else:
        key = "drop_ci_high" if rule.decide_on == "bound" else "drop"
        flags = [r[key] > rule.max_drop for r in rows]
    failing = [r for r, f in zip(rows, flags) if f]
    worst = max(failing or rows, key=lambda r: r[key])
    ok = not failing
    msg = (f"worst slice {worst['slice']} (n={worst['count']}): {rule.metric} {_moved(worst['drop'])} "
           f"({fmt(worst['baseline'])} -> {fmt(worst['candidate'])}"
           + (f", drop interval [{fmt(worst['drop_ci_low'])}, {fmt(worst['drop_ci_high'])}]" if "drop_ci_low" in worst
              else "")
           + f"); {len(rows)} slice(s) tested, decided on {basis}: "
           + (f"all within the allowed {fmt(rule.max_drop)}" if ok else
              f"{len(failing)} slice(s) beyond the allowed {fmt(rule.max_drop)}")
           + f" (absolute; {_direction(rule.metric)})" + (f"; {skipped}." if skipped else "."))
    # a judged failure fails; otherwise a thin slice hurt beyond the limit leaves the rule undecided, not passed
    status = Status.FAIL if failing else Status.INCONCLUSIVE if hurt else Status.PASS
    if hurt:  # named first: it is the reason the decision line quotes
        msg = f"{_thin_text(rule, hurt, minimum)}; {msg}"
    return finding(rule, status, msg, observed=worst[key] if not corrected else worst["drop"],
                   threshold=rule.max_drop, worst_slice=worst["slice"], worst_slice_count=worst["count"],
                   baseline=worst["baseline"], candidate=worst["candidate"],
                   failing_slices=[r["slice"] for r in failing],
                   slices=[{k: v for k, v in r.items() if k not in ("dim", "value")} for r in rows], **common)
