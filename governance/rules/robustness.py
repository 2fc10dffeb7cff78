"""Robustness: pruned networks lose accuracy under input noise faster than on clean data."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..evidence.schema import Evidence
from ..findings import Finding, Status
from .base import PolicyDefaults, RuleBase, finding, fmt, rule


class RobustnessDrop(RuleBase):
    """Fails when, under seeded input perturbation, the candidate loses more accuracy than the baseline by more
    than ``max_extra_drop`` (worst measured level unless ``level`` names one; levels come from
    ``evaluation.robustness`` in the manifest). Only continuous features are perturbed (the evidence lists the
    columns left alone and why); with none to perturb the rule is ``inconclusive``."""

    kind: Literal["robustness_drop"]
    max_extra_drop: float = Field(description="the candidate's accuracy loss under perturbation may exceed the "
                                              "baseline's by at most this (absolute)")
    perturbation: Literal["gaussian", "fgsm"] = "gaussian"
    level: float | None = Field(None, description="one measured level (sigma or epsilon); default: every level")


NOTHING_PERTURBED = ("no continuous feature to perturb, so robustness to input noise was not judged (left alone: "
                     "{left}); list the columns noise makes sense for in the manifest's data.continuous")


@rule("robustness_drop", RobustnessDrop)
def robustness_drop(rule: RobustnessDrop, evidence: Evidence, defaults: PolicyDefaults) -> Finding:
    rob = evidence.robustness
    if rob is None:
        return finding(rule, Status.ERROR, "robustness was not measured (it needs models that can be re-scored on "
                                           "perturbed inputs, not the predictions format, and evaluation.robustness)")
    gaps = {f"{g.perturbation} {g.level:g}": g.why for g in rob.unmeasured if g.perturbation == rule.perturbation
            and (rule.level is None or abs(g.level - rule.level) < 1e-12)}
    if gaps:  # the level the models could not be scored at may be the worst one: never judged without it
        return finding(rule, Status.ERROR, "not measured: " + "; ".join(f"{k}: {v}" for k, v in gaps.items()),
                       unmeasured=gaps)
    levels = [lv for lv in rob.levels if lv.perturbation == rule.perturbation
              and (rule.level is None or abs(lv.level - rule.level) < 1e-12)]
    if not levels:
        measured = ", ".join(f"{lv.perturbation} {lv.level:g}" for lv in rob.levels) or "none"
        return finding(rule, Status.ERROR, f"no {rule.perturbation} perturbation"
                                           f"{'' if rule.level is None else f' at {rule.level:g}'} was measured "
                                           f"(measured: {measured})")
    if not rob.features:
        left = "; ".join(f"{c}: {why}" for c, why in rob.unperturbed.items()) or "the data has no feature columns"
        return finding(rule, Status.INCONCLUSIVE, NOTHING_PERTURBED.format(left=left),
                       unperturbed=dict(rob.unperturbed))
    if min(lv.rows for lv in levels) < defaults.min_slice_size:
        return finding(rule, Status.INCONCLUSIVE, f"only {levels[0].rows} perturbed rows: robustness not judged")
    worst = max(levels, key=lambda lv: lv.extra_drop)
    ok = worst.extra_drop <= rule.max_extra_drop
    unit = "sigma" if rule.perturbation == "gaussian" else "epsilon"
    kept = f"; {len(rob.unperturbed)} left unperturbed" if rob.unperturbed else ""
    msg = (f"under {rule.perturbation} perturbation ({unit} {worst.level:g}, {worst.rows} rows, "
           f"{len(rob.features)} continuous feature(s) perturbed{kept}) the candidate loses "
           f"{fmt(worst.drop['candidate'])} accuracy and the baseline {fmt(worst.drop['baseline'])}: "
           f"{fmt(worst.extra_drop)} extra, {'within' if ok else 'more than'} the allowed "
           f"{fmt(rule.max_extra_drop)} ({len(levels)} level(s) checked).")
    return finding(rule, Status.PASS if ok else Status.FAIL, msg, observed=worst.extra_drop,
                   threshold=rule.max_extra_drop, level=worst.level, levels_checked=len(levels),
                   perturbed=list(rob.features), unperturbed=dict(rob.unperturbed))
