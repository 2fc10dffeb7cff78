"""Performance rules: overall drop, floor and ceiling, and the worst slice's drop."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from ..evidence.bootstrap import COUNT_METRICS
from ..evidence.schema import ROLES, Comparison, Evidence
from ..findings import Finding, Status
from ..metrics import BY_MAGNITUDE, HIGHER_IS_BETTER, MetricName, judged, worsening
from ..metrics_regression import SUM_METRICS
from .base import PolicyDefaults, RuleBase, finding, fmt, rule
from .production import undeclared_missing
from .relative import (
    RELATIVE_HELP,
    UNDEFINED_RELATIVE,
    details,
    effective_limit,
    judge,
    limits_text,
    relative,
    require_limit,
)
from .slices import THIN_NAMED, dimensions, select, slice_name, thin_slices, values
from .stats import (
    MAGNITUDE_KEY,
    Correction,
    DecideOn,
    NoInterval,
    comparison,
    confidence,
    drop_interval,
    enough_resamples,
    p_excess,
    reject,
    testing_confidence,
    worse_end,
)

Weighting = Literal["evaluation", "production"]
WEIGHTING_HELP = ("evaluation: the metric on the evaluation rows as they are; production: post-stratified to the "
                  "production sample's cell shares (evidence.production.weighted; count metrics, and the sum "
                  "metrics of regression, only; inconclusive without it)")
#: the metrics that are functions of per-cell counts (classification) or sums (regression): the weightable ones
WEIGHTABLE = (*COUNT_METRICS, *SUM_METRICS)
#: why a production-weighted drop is not judged (templates: metric; share, cells)
NO_PRODUCTION = "the evidence has no production sample (no production: block in the release manifest)"
NO_WEIGHTED = ("the evidence has no production-weighted metrics (no sensitive column of the evaluation data is in "
               "the production file to weight by)")
NOT_COUNT_BASED = ("{metric} is not a function of the per-cell counts or sums, so it cannot be production-weighted "
                   "(those that are: " + ", ".join(WEIGHTABLE) + ")")
#: the metric has no value on this data (template: metric)
UNDEFINED = "{metric} is undefined on this data (e.g. a single class, or a regression target that never varies)"
#: too few production rows to weight to (template: rows, minimum)
TOO_FEW_PRODUCTION = "only {rows} production rows (minimum {minimum}, the policy's min_slice_size)"
UNCOVERED = ("{share:.2%} of the production rows are in cells the evaluation set lacks ({cells}): the weighted "
             "metric is undefined there")
NO_WEIGHTED_METRIC = "{metric} is undefined on the production-weighted evidence"
#: the weighted comparison has no interval (resamples 0, or undefined in every replicate)
NO_WEIGHTED_INTERVAL = "no interval for the production-weighted {metric} (evidence.production.weighted)"


def drop(metric: str, baseline: float, candidate: float) -> float:
    """How much worse the candidate is, in the metric's own units: positive = worse, whatever the direction
    (``mean_error``: a growth of the bias's magnitude)."""
    return worsening(metric, baseline, candidate)


#: a floor on a lower-is-better metric (template: format with metric)
FLOOR_ON_LOWER_IS_BETTER = "{metric} is lower-is-better: use kind metric_ceiling with 'max'"


def _direction(metric: str) -> str:
    if metric in BY_MAGNITUDE:
        return "judged by its magnitude, lower is better"
    return "higher is better" if HIGHER_IS_BETTER[metric] else "lower is better"


def _moved(d: float) -> str:
    return f"worsened by {fmt(d)}" if d > 0 else ("did not change" if d == 0 else f"improved by {fmt(-d)}")


class _Decides(RuleBase):
    decide_on: DecideOn = Field("point", description="point: the estimate; bound: the worse end of its "
                                                     "confidence interval must be within the limit")


class MetricDrop(_Decides):
    """Fails when the candidate's overall metric is worse than the baseline's by more than ``max_drop``
    (absolute, in the metric's units; for lower-is-better metrics a rise is the drop) or by more than
    ``max_relative_drop`` of the baseline's value (give either or both; both must hold). A baseline of 0 leaves
    the relative drop undefined: inconclusive, never pass. ``decide_on: bound`` divides the drop interval's upper
    end by |baseline|. ``weighting: production`` judges the metric post-stratified to the production sample's cell
    shares (``evidence.production.weighted``: the count metrics, and regression's sum metrics) instead: without
    it, or while production has rows in cells the evaluation set lacks, inconclusive, never pass."""

    kind: Literal["metric_drop"]
    metric: MetricName
    max_drop: float | None = Field(None, description="largest allowed absolute worsening, baseline vs candidate")
    max_relative_drop: float | None = Field(None, description=RELATIVE_HELP)
    weighting: Weighting = Field("evaluation", description=WEIGHTING_HELP)

    @model_validator(mode="after")
    def _a_limit(self) -> MetricDrop:
        require_limit(self)
        return self


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
    exceeds ``max_drop`` or ``max_relative_drop`` of that slice's baseline value (either or both; both must hold;
    a judged slice whose baseline is 0 leaves the relative drop undefined: inconclusive unless a slice fails).
    ``by: ["*"]`` means every sensitive column; ``by: [class]`` slices by the true label
    (within a class slice, accuracy is that class's recall). Slices under ``min_slice_size`` rows are not
    judged but named with their observed drop (``thin_slices``); if none can be judged, or a thin slice's
    observed drop exceeds ``max_drop`` while no judged slice fails, the rule is inconclusive, never pass."""

    kind: Literal["slice_metric_drop"]
    metric: MetricName
    by: list[str] = Field(min_length=1, description="sensitive columns; each, and their intersection; "
                                                    "or [class] for the true label")
    max_drop: float | None = Field(None, description="largest allowed absolute worsening in any judged slice")
    max_relative_drop: float | None = Field(None, description=RELATIVE_HELP)
    min_slice_size: int | None = Field(None, ge=1, description="default: the policy's defaults.min_slice_size")
    multiple_comparisons: Correction = Field(
        "none", description="holm / bh: a slice fails only if its drop exceeds its limit significantly after "
                            "correcting for the number of slices tested")

    @model_validator(mode="after")
    def _a_limit(self) -> SliceMetricDrop:
        require_limit(self)
        return self


#: a pass on a binned ROC AUC that the binning could turn into a failure (template: where, slack, budget)
AUC_BINNING_UNSURE = ("ROC AUC is binned here (its exact score tables passed evaluation.roc_auc_exact_budget = "
                      "{budget:,}): {where} is known only to within {slack} of its exact value, enough to cross the "
                      "limit, so it is not judged; raise evaluation.roc_auc_exact_budget to judge it exactly")
#: the same for slices (template: budget, slices: each named with its bound)
AUC_BINNING_UNSURE_SLICES = ("ROC AUC is binned here (its exact score tables passed evaluation.roc_auc_exact_budget "
                             "= {budget:,}): the drops of {slices} are known only to within those bounds of their "
                             "exact values, enough to cross the limit, so they are not judged; raise "
                             "evaluation.roc_auc_exact_budget to judge them exactly")


def _auc_slack(evidence: Evidence, metric: str, dim: str | None = None,
               value: str | None = None) -> tuple[float, float, int] | None:
    """How far binning can move ROC AUC (overall, or one slice): the baseline's and the candidate's bounds on
    |binned - exact| (inf where the evidence has none) and the budget; None when ROC AUC is exact or not the metric.
    A rule passes a binned AUC only if it passes at the worst value within these bounds: never a pass that the exact
    tables would have failed."""
    if metric != "roc_auc":
        return None
    binned = [evidence.models[r].roc_auc_binned for r in ROLES]
    if all(b is None for b in binned):
        return None
    bounds = []
    for b in binned:
        e = None if b is None else b.error_bound if dim is None else b.slices.get(dim, {}).get(value or "")
        bounds.append(math.inf if e is None else e)
    budget = next(b.budget for b in binned if b is not None)
    return bounds[0], bounds[1], budget


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
        limit = effective_limit(rule, t["baseline"])
        if t["drop"] is not None and limit is not None and t["drop"] > limit and t.get("drop_ci_low", 1.0) > 0:
            return t
    return None


def _thin_text(rule: SliceMetricDrop, t: dict, minimum: int) -> str:
    interval = f", drop interval [{fmt(t['drop_ci_low'])}, {fmt(t['drop_ci_high'])}]" if "drop_ci_low" in t else ""
    return THIN_HURT.format(slice=t["slice"], count=t["count"], metric=rule.metric, moved=_moved(t["drop"]),
                            interval=interval, minimum=minimum)


def _ci_text(low: float, high: float, confidence: float) -> str:
    return f"{confidence:.0%} interval [{fmt(low)}, {fmt(high)}]"


def _weighted(rule: MetricDrop, evidence: Evidence,
              minimum: int) -> tuple[Comparison, Comparison | None, float, list[str]] | str:
    """The production-weighted comparison the rule judges, the one whose interval it reads (``mean_error``: of its
    magnitude), their confidence and the columns weighted by; or why there is none (inconclusive, never pass).
    ``minimum``: the fewest production rows whose shares are worth weighting to (the policy's min_slice_size: one
    row would put all the weight on one cell, and its resampled shares would never move)."""
    if rule.metric not in WEIGHTABLE:
        return NOT_COUNT_BASED.format(metric=rule.metric)
    if evidence.production is None:
        return NO_PRODUCTION
    weighted = evidence.production.weighted
    if weighted is None:
        return NO_WEIGHTED
    if evidence.production.rows < minimum:
        return TOO_FEW_PRODUCTION.format(rows=evidence.production.rows, minimum=minimum)
    if why := undeclared_missing(evidence.production, "the production-weighted drop"):
        return why
    if weighted.uncovered_share > 0:
        named = weighted.uncovered_cells[:THIN_NAMED]
        cells = ", ".join("/".join(c) for c in named) + (", ..." if len(weighted.uncovered_cells) > len(named) else "")
        return UNCOVERED.format(share=weighted.uncovered_share, cells=cells)
    comp = weighted.overall.get(rule.metric)
    if comp is None or comp.baseline is None or comp.candidate is None:
        return NO_WEIGHTED_METRIC.format(metric=rule.metric)
    spread = weighted.overall.get(MAGNITUDE_KEY.format(metric=rule.metric)) if rule.metric in BY_MAGNITUDE else comp
    return comp, spread, weighted.confidence, weighted.by


@rule("metric_drop", MetricDrop)
def metric_drop(rule: MetricDrop, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    base, cand, n = _overall(evidence, rule.metric)
    if (thin := _too_thin(rule, rule.metric, n, defaults.min_slice_size)) is not None:
        return thin
    name: str = rule.metric
    weighted: Comparison | None = None
    spread: Comparison | None = None
    how = ""
    if rule.weighting == "production":
        name = f"production-weighted {rule.metric}"
        got = _weighted(rule, evidence, defaults.min_slice_size)
        if isinstance(got, str):
            return finding(rule, Status.INCONCLUSIVE, f"{name} not judged: {got}.", weighting=rule.weighting)
        weighted, spread, weighted_confidence, by = got
        base, cand = weighted.baseline, weighted.candidate
        how = f"; weighted to the production sample's shares of {', '.join(by)}"
    if base is None or cand is None:
        return finding(rule, Status.INCONCLUSIVE, UNDEFINED.format(metric=rule.metric))
    d = drop(rule.metric, base, cand)
    extra: dict[str, float] = {}
    decided, ci_note = d, ""
    if weighted is not None or rule.decide_on == "bound" or evidence.comparisons is not None:
        try:
            if weighted is None:
                low, high = drop_interval(rule.metric, comparison(evidence, rule.metric))
                conf = confidence(evidence)
            elif spread is None or spread.difference_ci is None:
                raise NoInterval(NO_WEIGHTED_INTERVAL.format(metric=rule.metric))
            else:
                assert evidence.production is not None and evidence.production.weighted is not None
                enough_resamples(evidence.production.weighted.resamples, weighted_confidence)
                low, high = drop_interval(rule.metric, spread)
                conf = weighted_confidence
            extra = {"drop_ci_low": low, "drop_ci_high": high}
            ci_note = f", drop {_ci_text(low, high, conf)}"
            if rule.decide_on == "bound":
                decided = worse_end(d, high)
        except LookupError:
            if rule.decide_on == "bound":
                raise
    j = judge(rule, decided, base)
    status = {"fail": Status.FAIL, "inconclusive": Status.INCONCLUSIVE, "pass": Status.PASS}[j.status_word]
    basis = "the upper end of its interval" if rule.decide_on == "bound" else "the point estimate"
    msg = (f"{name} {_moved(d)} ({fmt(base)} -> {fmt(cand)}{ci_note}){how}; decided on {basis}: "
           f"{limits_text(rule, j, rule.metric, direction=_direction(rule.metric))}.")
    if status is Status.PASS and (slack := _auc_slack(evidence, rule.metric)) is not None:
        e_b, e_c, budget = slack
        extra["auc_error_bound"] = e_b + e_c
        if judge(rule, decided + e_b + e_c, base - e_b).status_word != "pass":
            status = Status.INCONCLUSIVE
            msg += " " + AUC_BINNING_UNSURE.format(budget=budget, where="the drop", slack=fmt(e_b + e_c)) + "."
    observed, threshold = j.observed_threshold(rule)
    weighting: dict[str, str] = {"weighting": rule.weighting} if weighted is not None else {}
    return finding(rule, status, msg, observed=observed, threshold=threshold, baseline=base, candidate=cand,
                   drop=d, relative_drop=relative(d, base), decided_on=rule.decide_on, **details(rule, j), **extra,
                   **weighting)


def _limit_rule(rule: MetricFloor | MetricCeiling, evidence: Evidence, defaults: PolicyDefaults,
                limit: float, floor: bool) -> Finding:
    _, cand, n = _overall(evidence, rule.metric)
    if (thin := _too_thin(rule, rule.metric, n, defaults.min_slice_size)) is not None:
        return thin
    if cand is None:
        return finding(rule, Status.INCONCLUSIVE, UNDEFINED.format(metric=rule.metric))
    decided, note, extra = judged(rule.metric, cand), "", dict[str, float]()
    if rule.decide_on == "bound":
        comp = comparison(evidence, rule.metric)  # mean_error: the interval of its magnitude
        assert comp.candidate_ci is not None
        decided = worse_end(decided, comp.candidate_ci.ci_low if floor else comp.candidate_ci.ci_high,
                            higher_is_worse=not floor)
        note = f" ({_ci_text(comp.candidate_ci.ci_low, comp.candidate_ci.ci_high, confidence(evidence))};" \
               f" decided on its {'lower' if floor else 'upper'} end)"
        extra = {"ci_low": comp.candidate_ci.ci_low, "ci_high": comp.candidate_ci.ci_high}
    ok = decided >= limit if floor else decided <= limit
    side = ("at or above", "below") if floor else ("at or below", "above")
    what = "floor" if floor else "ceiling"
    msg = f"candidate {rule.metric} is {fmt(cand)}{note}, {side[0] if ok else side[1]} the {what} of {fmt(limit)}."
    status = Status.PASS if ok else Status.FAIL
    if ok and (slack := _auc_slack(evidence, rule.metric)) is not None:
        _, e_c, budget = slack
        extra["auc_error_bound"] = e_c
        if not (decided - e_c >= limit if floor else decided + e_c <= limit):
            status = Status.INCONCLUSIVE
            msg += " " + AUC_BINNING_UNSURE.format(budget=budget, where="the candidate's value", slack=fmt(e_c)) + "."
    return finding(rule, status, msg, observed=decided, threshold=limit,
                   candidate=cand, decided_on=rule.decide_on, **extra)


@rule("metric_floor", MetricFloor)
def metric_floor(rule: MetricFloor, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    return _limit_rule(rule, evidence, defaults, rule.min, floor=True)


@rule("metric_ceiling", MetricCeiling)
def metric_ceiling(rule: MetricCeiling, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    return _limit_rule(rule, evidence, defaults, rule.max, floor=False)


def _binning_unsure(rule: SliceMetricDrop, evidence: Evidence, rows: list[dict[str, Any]],
                    key: str) -> list[dict[str, Any]]:
    """The judged slices whose binned ROC AUC drop could pass the limit at its worst value within the binning's
    bounds (each row gets ``auc_error_bound``); none when ROC AUC is exact or not the metric."""
    unsure = []
    for r in rows:
        if (slack := _auc_slack(evidence, rule.metric, r["dim"], r["value"])) is None:
            return []
        e_b, e_c, budget = slack
        r["auc_error_bound"] = e_b + e_c
        limit = effective_limit(rule, r["baseline"] - e_b)
        if limit is None or r[key] + e_b + e_c > limit:
            unsure.append({**r, "auc_budget": budget})
    return unsure


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
                       f"{rule.metric} drop per slice not established.",
                       threshold=rule.max_drop if rule.max_drop is not None else rule.max_relative_drop,
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
        row["limit"] = effective_limit(rule, b)  # the absolute drop allowed here (relative: of this baseline)
        if rule.max_relative_drop is not None:
            row["relative_drop"] = relative(d, b)
        rows.append(row)
    # a relative limit on a baseline of 0 is undefined there: such a slice can fail the absolute limit, never pass
    undefined = [r["slice"] for r in rows if rule.max_relative_drop is not None and r["baseline"] == 0]
    testable = [r for r in rows if r["limit"] is not None]
    if corrected:
        conf = testing_confidence(evidence)
        for row in testable:
            row["p_value"] = p_excess(row["drop"], row["drop_ci_low"], row["drop_ci_high"], row["limit"], conf)
        flags = reject([r["p_value"] for r in testable], 1 - conf, rule.multiple_comparisons)
        key = "drop"
    else:
        key = "drop"
        if rule.decide_on == "bound":  # the interval's upper end, never below the point estimate
            key = "decided"
            for r in rows:
                r["decided"] = worse_end(r["drop"], r["drop_ci_high"])
        flags = [r[key] > r["limit"] for r in testable]
    failing = [r for r, f in zip(testable, flags) if f]
    for r in failing:
        r["limits_exceeded"] = judge(rule, r[key], r["baseline"]).exceeded
    worst = max(failing or testable or rows,
                key=lambda r: r[key] - r["limit"] if r["limit"] is not None else -float("inf"))
    ok = not failing
    worst_judged = judge(rule, worst[key], worst["baseline"])
    if rule.max_relative_drop is None:  # absolute only: the wording every earlier verdict used
        allowed, how = fmt(rule.max_drop), f" (absolute; {_direction(rule.metric)})"
    else:
        allowed = " and ".join(([f"{fmt(rule.max_drop)} absolute"] if rule.max_drop is not None else [])
                               + [f"{rule.max_relative_drop:.2%} of the slice's baseline"])
        where = f" in {worst['slice']}"
        how = f" (worst slice: {limits_text(rule, worst_judged, rule.metric, where)}; {_direction(rule.metric)})"
    msg = (f"worst slice {worst['slice']} (n={worst['count']}): {rule.metric} {_moved(worst['drop'])} "
           f"({fmt(worst['baseline'])} -> {fmt(worst['candidate'])}"
           + (f", drop interval [{fmt(worst['drop_ci_low'])}, {fmt(worst['drop_ci_high'])}]" if "drop_ci_low" in worst
              else "")
           + f"); {len(rows)} slice(s) tested, decided on {basis}: "
           + (f"all within the allowed {allowed}" if ok else
              f"{len(failing)} slice(s) beyond the allowed {allowed}")
           + how + (f"; {skipped}." if skipped else "."))
    if undefined:
        msg += (f" {UNDEFINED_RELATIVE.format(metric=rule.metric, where=' in ' + ', '.join(undefined[:THIN_NAMED]))}"
                f"{', ...' if len(undefined) > THIN_NAMED else ''}: not judged on the relative limit.")
    # a judged failure fails; otherwise a thin slice hurt beyond the limit, or a relative drop that is undefined,
    # leaves the rule undecided, not passed
    status = Status.FAIL if failing else Status.INCONCLUSIVE if hurt or undefined else Status.PASS
    if status is Status.PASS and (unsure := _binning_unsure(rule, evidence, testable, "drop" if corrected else key)):
        status = Status.INCONCLUSIVE
        named = ", ".join(f"{r['slice']} (within {fmt(r['auc_error_bound'])})" for r in unsure[:THIN_NAMED])
        msg += " " + AUC_BINNING_UNSURE_SLICES.format(budget=unsure[0]["auc_budget"], slices=named + (
            ", ..." if len(unsure) > THIN_NAMED else "")) + "."
    if hurt:  # named first: it is the reason the decision line quotes
        msg = f"{_thin_text(rule, hurt, minimum)}; {msg}"
    observed, threshold = worst_judged.observed_threshold(rule)
    return finding(rule, status, msg, observed=observed, threshold=threshold, worst_slice=worst["slice"],
                   worst_slice_count=worst["count"], baseline=worst["baseline"], candidate=worst["candidate"],
                   failing_slices=[r["slice"] for r in failing], max_drop=rule.max_drop,
                   max_relative_drop=rule.max_relative_drop, limits_exceeded=worst_judged.exceeded if failing else [],
                   relative_undefined_slices=undefined,
                   slices=[{k: v for k, v in r.items() if k not in ("dim", "value")} for r in rows], **common)
