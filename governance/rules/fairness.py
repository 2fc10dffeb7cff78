"""Fairness rules: the gap between groups for the candidate, and how much pruning widened it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..evidence.schema import Evidence
from ..findings import Finding, Status
from ..metrics import FAIRNESS_HIGHER_IS_WORSE, FairnessName, fairness_gaps, one_vs_rest_rates
from .base import PolicyDefaults, RuleBase, finding, fmt, rule
from .slices import dimensions, select, thin_slices, values

# the per-group rates a gap is made of
_NEEDS = {"demographic_parity": "selection_rate", "equalized_odds": "true_positive_rate"}
# multiclass: the per-group rates each gap compares (equalized odds: the worse of the two)
_RATES = {"demographic_parity": ("selection_rate",), "equalized_odds": ("true_positive_rate", "false_positive_rate")}
NO_CLASS_COUNTS = ("the evidence has no per-class counts for {dim} (it was collected by an older version): "
                   "re-run 'governance check' to judge {metric} one-vs-rest")
UNDEFINED_EVERY_CLASS = "{metric} one-vs-rest is undefined for every class over these groups"
#: a rule whose limits do not fit its metric, or that gives none (templates: format with metric)
DIFFERENCE_LIMITS = "{metric} is a difference (bigger is worse): use 'max' / 'max_increase'"
RATIO_LIMITS = "{metric} is a ratio (smaller is worse): use 'min' / 'max_decrease'"
NO_LIMIT = "give at least one limit: max / max_increase (differences) or min / max_decrease (ratios)"


class FairnessGap(RuleBase):
    """Fails when the candidate's gap between the groups of ``by`` (their intersection; ``*`` = every
    sensitive column) passes ``max`` (differences) / ``min`` (ratios), or pruning widened it by more than
    ``max_increase`` / ``max_decrease``. Computed as fairlearn does; groups under the minimum size are left out.
    Multiclass: one-vs-rest, each class's labels binarised (y == k, prediction == k); the gap is the worst
    class's and the change the largest per-class widening, with the class and group pair named."""

    kind: Literal["fairness_gap"]
    metric: FairnessName
    by: list[str] = Field(min_length=1, description="sensitive columns; groups are their intersection")
    max: float | None = Field(None, description="difference metrics: the candidate's gap must be at most this")
    max_increase: float | None = Field(None, description="difference metrics: the gap may grow by at most this")
    min: float | None = Field(None, description="ratio metrics: the candidate's ratio must be at least this")
    max_decrease: float | None = Field(None, description="ratio metrics: the ratio may shrink by at most this")
    min_slice_size: int | None = Field(None, ge=1, description="groups with fewer rows are left out (reported)")

    @model_validator(mode="after")
    def _limits_fit_metric(self) -> FairnessGap:
        is_difference = FAIRNESS_HIGHER_IS_WORSE[self.metric]
        if is_difference and (self.min is not None or self.max_decrease is not None):
            raise ValueError(DIFFERENCE_LIMITS.format(metric=self.metric))
        if not is_difference and (self.max is not None or self.max_increase is not None):
            raise ValueError(RATIO_LIMITS.format(metric=self.metric))
        if all(getattr(self, k) is None for k in ("max", "max_increase", "min", "max_decrease")):
            raise ValueError(NO_LIMIT)
        return self


@rule("fairness_gap", FairnessGap)
def fairness_gap(rule: FairnessGap, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    minimum = rule.min_slice_size or defaults.min_slice_size
    dim = dimensions(rule.by, evidence)[-1]  # the intersection (or the single column)
    if evidence.task == "regression":
        return _regression(rule, evidence, dim, minimum)
    if evidence.task != "binary_classification":
        return _multiclass(rule, evidence, dim, minimum)
    needed = _NEEDS[rule.metric.rsplit("_", 1)[0]]
    sel = select(evidence, [dim], minimum, needed)
    if rule.metric.startswith("equalized_odds"):
        sel_fpr = select(evidence, [dim], minimum, "false_positive_rate")
        keep = set(sel.judged) & set(sel_fpr.judged)
        sel.undefined += [u for u in sel_fpr.undefined if (u["dimension"], u["slice"]) in set(sel.judged)]
        sel.judged = [j for j in sel.judged if j in keep]
    common: dict[str, Any] = {"dimension": dim, "min_slice_size": minimum, "groups_compared": len(sel.judged),
              "skipped_too_small": sel.too_small, "skipped_undefined": sel.undefined, "decided_on": "point",
              "thin_slices": thin_slices(evidence, sel, needed, with_drop=False)}  # named, with their rates
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


def _regression(rule: FairnessGap, evidence: Evidence, dim: str, minimum: int) -> Finding:
    """task: regression, ``mae_difference``: the largest MAE difference between the judged groups of ``dim`` (the
    candidate's, and its growth from the baseline's), with the two groups it lies between named."""
    sel = select(evidence, [dim], minimum, "mae")
    common: dict[str, Any] = {"dimension": dim, "min_slice_size": minimum, "groups_compared": len(sel.judged),
                              "skipped_too_small": sel.too_small, "skipped_undefined": sel.undefined,
                              "decided_on": "point", "thin_slices": thin_slices(evidence, sel, "mae")}
    skipped = sel.skipped_summary()
    if len(sel.judged) < 2:
        return finding(rule, Status.INCONCLUSIVE, f"fewer than two groups of {dim} could be compared "
                                                  f"({skipped or 'one group'}): {rule.metric} not established.",
                       **common)
    maes = {role: {v: float(values(evidence, role, d, v)["mae"] or 0.0) for d, v in sel.judged}
            for role in ("baseline", "candidate")}
    gaps = {role: max(m.values()) - min(m.values()) for role, m in maes.items()}
    cand_mae = maes["candidate"]
    hi, lo = max(cand_mae, key=cand_mae.__getitem__), min(cand_mae, key=cand_mae.__getitem__)
    base, cand = gaps["baseline"], gaps["candidate"]
    change = cand - base
    problems = []
    if rule.max is not None and cand > rule.max:
        problems.append(f"gap {fmt(cand)} exceeds the maximum {fmt(rule.max)}")
    if rule.max_increase is not None and change > rule.max_increase:
        problems.append(f"it grew by {fmt(change)}, more than the allowed {fmt(rule.max_increase)}")
    observed, threshold = (cand, rule.max) if rule.max is not None else (change, rule.max_increase)
    head = (f"{rule.metric} over {len(sel.judged)} groups of {dim}: candidate {fmt(cand)} (MAE {fmt(cand_mae[hi])} "
            f"for {dim}={hi} vs {fmt(cand_mae[lo])} for {dim}={lo}; baseline {fmt(base)})")
    tail = f"; {skipped}." if skipped else "."
    common.update(groups={"high": [hi, cand_mae[hi]], "low": [lo, cand_mae[lo]]})
    body = f"{head}: {'; '.join(problems)}{tail}" if problems else f"{head}, within limits{tail}"
    return finding(rule, Status.FAIL if problems else Status.PASS, body, observed=observed, threshold=threshold,
                   baseline=base, change=change, **common)


def _pair(groups: dict[str, dict[str, float | None]], metric: str) -> dict:
    """The two groups a class's gap lies between: the rate that decides it (equalized odds: TPR or FPR, whichever
    is worse, as fairlearn's worst case picks), with its highest and lowest group."""
    is_difference = FAIRNESS_HIGHER_IS_WORSE[metric]
    best: dict | None = None
    for rate in _RATES[metric.rsplit("_", 1)[0]]:
        vals = {g: v for g, r in groups.items() if (v := r.get(rate)) is not None}
        if not vals:
            continue
        hi, lo = max(vals, key=vals.__getitem__), min(vals, key=vals.__getitem__)
        gap = vals[hi] - vals[lo]
        ratio = vals[lo] / vals[hi] if vals[hi] else float("nan")
        score = gap if is_difference else -ratio  # larger = worse
        if best is None or score > best["score"]:
            best = {"score": score, "rate": rate, "high": [hi, vals[hi]], "low": [lo, vals[lo]]}
    if best is None:
        return {}
    best.pop("score")
    return best


def _say_pair(pair: dict, dim: str) -> str:
    if not pair:
        return "no groups"
    (hi, vhi), (lo, vlo) = pair["high"], pair["low"]
    return f"{pair['rate'].replace('_', ' ')} {fmt(vhi)} for {dim}={hi} vs {fmt(vlo)} for {dim}={lo}"


def _multiclass(rule: FairnessGap, evidence: Evidence, dim: str, minimum: int) -> Finding:
    """One-vs-rest: each class's gap from its binarised labels; the worst class decides."""
    found = {role: evidence.models[role].class_counts.get(dim) for role in ("baseline", "candidate")}
    counts = {role: c for role, c in found.items() if c is not None}
    if len(counts) < len(found):
        return finding(rule, Status.INCONCLUSIVE, NO_CLASS_COUNTS.format(dim=dim, metric=rule.metric), dimension=dim)
    sel = select(evidence, [dim], minimum, "count")  # one-vs-rest rates come from the class counts
    base = evidence.models["baseline"].slices[dim]
    judged = [(value, int(base[value]["count"] or 0)) for _, value in sel.judged]
    common: dict[str, Any] = {"dimension": dim, "min_slice_size": minimum, "groups_compared": len(judged),
              "skipped_too_small": sel.too_small, "skipped_undefined": sel.undefined, "decided_on": "point",
              "one_vs_rest": True, "thin_slices": thin_slices(evidence, sel, "accuracy", with_drop=False)}
    skipped = sel.skipped_summary()
    if len(judged) < 2:
        return finding(rule, Status.INCONCLUSIVE,
                       f"fewer than two groups of {dim} could be compared ({skipped or 'one group'}): "
                       f"{rule.metric} not established.", **common)
    rates = {role: one_vs_rest_rates({v: (n, c[v].true, c[v].predicted, c[v].correct) for v, n in judged})
             for role, c in counts.items()}
    is_difference = FAIRNESS_HIGHER_IS_WORSE[rule.metric]
    per_class: dict[str, dict] = {}
    undefined: list[str] = []
    for k, label in enumerate(evidence.data.classes):
        b = fairness_gaps(rates["baseline"][k])[rule.metric]
        c = fairness_gaps(rates["candidate"][k])[rule.metric]
        if b is None or c is None:
            undefined.append(label)
            continue
        per_class[label] = {"baseline": b, "candidate": c, "change": c - b if is_difference else b - c,
                            "groups": _pair(rates["candidate"][k], rule.metric)}
    common.update(classes_compared=len(per_class), classes_undefined=undefined, per_class=per_class)
    if not per_class:
        return finding(rule, Status.INCONCLUSIVE, UNDEFINED_EVERY_CLASS.format(metric=rule.metric), **common)
    pick = max if is_difference else min
    worst = pick(per_class, key=lambda label: per_class[label]["candidate"])
    widest = max(per_class, key=lambda label: per_class[label]["change"])
    cand, change = per_class[worst]["candidate"], per_class[widest]["change"]
    base = pick(v["baseline"] for v in per_class.values())
    problems = []
    # the widest class's groups, when it is not the worst class (whose groups the head names)
    where = "" if widest == worst else f" ({_say_pair(per_class[widest]['groups'], dim)})"
    if is_difference:
        if rule.max is not None and cand > rule.max:
            problems.append(f"gap {fmt(cand)} exceeds the maximum {fmt(rule.max)}")
        if rule.max_increase is not None and change > rule.max_increase:
            problems.append(f"class {widest!r} grew by {fmt(change)}, more than the allowed "
                            f"{fmt(rule.max_increase)}{where}")
        limit = rule.max
    else:
        if rule.min is not None and cand < rule.min:
            problems.append(f"ratio {fmt(cand)} is below the minimum {fmt(rule.min)}")
        if rule.max_decrease is not None and change > rule.max_decrease:
            problems.append(f"class {widest!r} shrank by {fmt(change)}, more than the allowed "
                            f"{fmt(rule.max_decrease)}{where}")
        limit = rule.min
    observed, threshold = (cand, limit) if limit is not None else (
        change, rule.max_increase if is_difference else rule.max_decrease)
    head = (f"{rule.metric} one-vs-rest over {len(judged)} groups of {dim}, worst of {len(per_class)} classes: "
            f"candidate {fmt(cand)} for class {worst!r} ({_say_pair(per_class[worst]['groups'], dim)}; "
            f"baseline worst {fmt(base)}, largest change {fmt(change)} for class {widest!r})")
    notes = [n for n in (skipped, f"undefined for class(es) {', '.join(map(repr, undefined))}" if undefined else "")
             if n]
    tail = f"; {'; '.join(notes)}." if notes else "."
    common.update(worst_class=worst, widest_class=widest)
    status = Status.FAIL if problems else Status.PASS
    body = f"{head}: {'; '.join(problems)}{tail}" if problems else f"{head}, within limits{tail}"
    return finding(rule, status, body, observed=observed, threshold=threshold, baseline=base, change=change,
                   **common)
