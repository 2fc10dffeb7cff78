"""Named groups: chosen slices of one dimension, each judged on its own, which must have been measured.

``slice_metric_drop`` judges whatever slices a dimension happens to have, under one limit; a pruned LLM's capability
groups need their own limits (LLM-KICK: knowledge-intensive tasks fail first, at sparsities where reasoning and
reading still hold), one rule per limit, and a group that was not measured must not pass by its absence.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal

from pydantic import Field

from ..evidence.schema import Evidence
from ..findings import Finding, Status
from ..metrics import MetricName
from .base import PolicyDefaults, RuleBase, finding, fmt, rule
from .performance import drop
from .slices import dimensions, slice_name
from .stats import DecideOn, NoInterval, comparison, drop_interval, worse_end

#: a group the rule names that the evidence has no slice for (template: slice, dim)
GROUP_MISSING = "{slice}: not measured (no such slice of {dim} in the evidence)"
#: a group under the minimum size (template: slice, count, minimum)
GROUP_THIN = "{slice} (n={count}): not judged, under the minimum of {minimum}"


class GroupDrop(RuleBase):
    """Fails when any of the named ``slices`` of dimension ``by`` loses more than ``max_drop`` (absolute), however
    the average does; lm_eval: ``by: [capability]``, ``slices: [knowledge]``, one rule per limit. A named slice
    missing from the evidence, under ``min_slice_size`` or with the metric undefined is inconclusive, never pass.
    Where the evidence has them, the finding quotes each slice's paired interval and (task lm_eval) its exact
    McNemar p-value and flips."""

    kind: Literal["group_drop"]
    metric: MetricName = Field("accuracy", description="the metric compared (default accuracy)")
    by: list[str] = Field(min_length=1, max_length=1, description="one slice dimension, e.g. [capability]: a "
                                                                  "sensitive column; task lm_eval: task, group or "
                                                                  "capability")
    slices: list[str] = Field(min_length=1, description="the slice values judged, each on its own (e.g. "
                                                        "[knowledge]); each must be measured")
    max_drop: float = Field(description="largest allowed absolute worsening in each named slice")
    min_slice_size: int | None = Field(None, ge=1, description="default: the policy's defaults.min_slice_size")
    decide_on: DecideOn = Field("point", description="point: the estimate; bound: the worse end of its "
                                                     "confidence interval must be within the limit")


def _judge(rule: GroupDrop, evidence: Evidence, dim: str, value: str, limit: float) -> dict[str, Any]:
    b = evidence.models["baseline"].slices[dim][value].get(rule.metric)
    c = evidence.models["candidate"].slices[dim][value].get(rule.metric)
    row: dict[str, Any] = {"slice": slice_name(dim, value), "baseline": b, "candidate": c, "limit": limit,
                           "count": int(evidence.models["candidate"].slices[dim][value].get("count") or 0)}
    if b is None or c is None:
        return row
    row["drop"] = d = drop(rule.metric, b, c)
    if rule.decide_on == "bound":
        row["drop_ci_low"], row["drop_ci_high"] = drop_interval(rule.metric, comparison(evidence, rule.metric, dim,
                                                                                        value))
    else:
        with contextlib.suppress(NoInterval):
            row["drop_ci_low"], row["drop_ci_high"] = drop_interval(rule.metric,
                                                                    comparison(evidence, rule.metric, dim, value))
    if evidence.lm_eval is not None and (test := evidence.lm_eval.slices.get(dim, {}).get(value)) is not None:
        row.update(mcnemar_p=test.mcnemar_p, fixed=test.fixed, broken=test.broken)
    row["decided"] = worse_end(d, row["drop_ci_high"]) if rule.decide_on == "bound" else d
    row["fails"] = row["decided"] > limit
    return row


def _text(row: dict[str, Any]) -> str:
    extra = []
    if "drop_ci_low" in row:
        extra.append(f"drop interval [{fmt(row['drop_ci_low'])}, {fmt(row['drop_ci_high'])}]")
    if row.get("mcnemar_p") is not None:
        extra.append(f"McNemar p={row['mcnemar_p']:.3g}, {row['broken']} broken / {row['fixed']} fixed")
    verdict = "more than" if row["fails"] else "within"
    return (f"{row['slice']} (n={row['count']}) dropped {fmt(row['drop'])} ({fmt(row['baseline'])} -> "
            f"{fmt(row['candidate'])}{'; ' + '; '.join(extra) if extra else ''}), {verdict} the allowed "
            f"{fmt(row['limit'])}")


@rule("group_drop", GroupDrop)
def group_drop(rule: GroupDrop, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    minimum = rule.min_slice_size or defaults.min_slice_size
    dim = dimensions(rule.by, evidence)[0]
    present = evidence.models["baseline"].slices.get(dim, {})
    judged: list[dict[str, Any]] = []
    unjudged: list[str] = []
    for value in rule.slices:
        name = slice_name(dim, value)
        if value not in present:
            unjudged.append(GROUP_MISSING.format(slice=name, dim=dim))
            continue
        count = int(present[value].get("count") or 0)
        if count < minimum:
            unjudged.append(GROUP_THIN.format(slice=name, count=count, minimum=minimum))
            continue
        row = _judge(rule, evidence, dim, value, rule.max_drop)
        if "drop" not in row:
            unjudged.append(f"{name}: {rule.metric} undefined")
            continue
        judged.append(row)
    failing = [r for r in judged if r["fails"]]
    basis = "the upper end of each drop interval" if rule.decide_on == "bound" else "point estimates"
    parts = [_text(r) for r in sorted(judged, key=lambda r: (not r["fails"], -r["decided"]))] + unjudged
    msg = f"{rule.metric} per {dim}, decided on {basis}: " + "; ".join(parts) + "."
    status = Status.FAIL if failing else Status.INCONCLUSIVE if unjudged else Status.PASS
    worst = max(failing or judged, key=lambda r: r["decided"], default=None)
    return finding(rule, status, msg, observed=worst["decided"] if worst else None,
                   threshold=rule.max_drop, worst_slice=worst["slice"] if worst else None,
                   failing_slices=[r["slice"] for r in failing], not_judged=unjudged, min_slice_size=minimum,
                   decided_on=rule.decide_on, slices=[{k: v for k, v in r.items() if k != "fails"} for r in judged])
