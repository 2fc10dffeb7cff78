"""Drop limits, absolute and relative: ``max_drop`` and ``max_relative_drop`` on every drop rule.

Quantization tools state their tolerance either way (NNCF's ``drop_type=ABSOLUTE``, Intel Neural Compressor's
relative ``tolerable_loss``), so a drop rule takes either limit or both (both must hold). The relative drop is
the directional drop (positive = worse; for lower-is-better metrics a rise) divided by ``|baseline|``: 0.02 =
at most 2% worse than the baseline. Against one baseline value a relative limit is an absolute one of
``max_relative_drop * |baseline|``, so every decision (point, interval bound, corrected tests) compares the
drop with ``effective_limit``, the smaller of the two; the baseline's value is taken as fixed (its own sampling
error is not propagated into the denominator). A baseline of 0 leaves the relative drop undefined: the rule is
then inconclusive unless another limit already fails (fail closed, never pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .base import fmt

#: a drop rule with neither limit (pydantic puts the rule's id and field in front)
NO_DROP_LIMIT = "give max_drop (absolute), max_relative_drop (relative to the baseline) or both"
#: the relative limit cannot be applied (template: metric, where)
UNDEFINED_RELATIVE = "the baseline's {metric} is 0{where}, so a drop relative to it is undefined"
ABSOLUTE, RELATIVE = "max_drop", "max_relative_drop"
RELATIVE_HELP = ("largest allowed worsening relative to the baseline's value (drop / |baseline|; 0.02 = at most "
                 "2% worse); with max_drop, both must hold")


class DropLimits(Protocol):
    """The two limit fields every drop rule's parameter model has."""

    @property
    def max_drop(self) -> float | None: ...

    @property
    def max_relative_drop(self) -> float | None: ...


def require_limit(rule: DropLimits) -> None:
    """Refuse a drop rule without any limit (policy load: exit 2 naming the rule)."""
    if rule.max_drop is None and rule.max_relative_drop is None:
        raise ValueError(NO_DROP_LIMIT)


def relative(drop: float | None, baseline: float | None) -> float | None:
    """``drop / |baseline|``; None where the baseline is 0 or a value is missing."""
    if drop is None or baseline is None or baseline == 0:
        return None
    return drop / abs(baseline)


def effective_limit(rule: DropLimits, baseline: float | None) -> float | None:
    """The absolute drop allowed where the baseline's value is ``baseline``: the smaller of the limits that apply;
    None when only the relative limit is set and it is undefined (baseline 0)."""
    limits = [rule.max_drop] if rule.max_drop is not None else []
    if rule.max_relative_drop is not None and baseline:
        limits.append(rule.max_relative_drop * abs(baseline))
    return min(limits) if limits else None


@dataclass(frozen=True)
class Judged:
    """One decided drop against the rule's limits."""

    drop: float
    relative: float | None
    exceeded: list[str] = field(default_factory=list)  # ABSOLUTE / RELATIVE: the limits the drop passes
    undefined: bool = False  # the relative limit is set but the baseline is 0

    @property
    def status_word(self) -> str:
        return "fail" if self.exceeded else "inconclusive" if self.undefined else "pass"

    def observed_threshold(self, rule: DropLimits) -> tuple[float | None, float | None]:
        """The finding's observed value and threshold, in the units of the limit that decided: the absolute one
        when it is set and failed (or nothing failed), else the relative one."""
        absolute_decides = rule.max_drop is not None and (ABSOLUTE in self.exceeded or not self.exceeded)
        if absolute_decides:
            return self.drop, rule.max_drop
        return self.relative, rule.max_relative_drop


def judge(rule: DropLimits, decided: float, baseline: float) -> Judged:
    """``decided`` (the drop, or its interval's upper end) against each limit the rule sets."""
    rel = relative(decided, baseline)
    exceeded = []
    if rule.max_drop is not None and decided > rule.max_drop:
        exceeded.append(ABSOLUTE)
    if rule.max_relative_drop is not None and rel is not None and rel > rule.max_relative_drop:
        exceeded.append(RELATIVE)
    return Judged(decided, rel, exceeded, undefined=rule.max_relative_drop is not None and rel is None)


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2%}"


def limits_text(rule: DropLimits, j: Judged, metric: str, where: str = "", direction: str | None = None) -> str:
    """Which limit held and which bit, e.g. 'more than the allowed 0.0100 (absolute); 1.67% of the baseline,
    within the allowed 2.00% (relative) (higher is better)'; with the absolute limit alone, the wording of earlier
    verdicts: 'within the allowed 0.0200 (absolute; higher is better)'."""
    if rule.max_relative_drop is None and rule.max_drop is not None:
        how = f"absolute; {direction}" if direction else "absolute"
        return f"{'more than' if ABSOLUTE in j.exceeded else 'within'} the allowed {fmt(rule.max_drop)} ({how})"
    parts = []
    if rule.max_drop is not None:
        parts.append(f"{'more than' if ABSOLUTE in j.exceeded else 'within'} the allowed {fmt(rule.max_drop)} "
                     f"(absolute)")
    if rule.max_relative_drop is not None:
        if j.relative is None:
            parts.append(UNDEFINED_RELATIVE.format(metric=metric, where=where)
                         + f" (relative limit {pct(rule.max_relative_drop)} not applied)")
        else:
            parts.append(f"{pct(j.relative)} of the baseline, "
                         f"{'more than' if RELATIVE in j.exceeded else 'within'} the allowed "
                         f"{pct(rule.max_relative_drop)} (relative)")
    return "; ".join(parts) + (f" ({direction})" if direction else "")


def details(rule: DropLimits, j: Judged) -> dict[str, object]:
    """The finding details a reader (and the report) needs to see which limit bit (``relative_observed``: the
    decided drop, point or bound, over |baseline|)."""
    return {"max_drop": rule.max_drop, "max_relative_drop": rule.max_relative_drop, "relative_observed": j.relative,
            "limits_exceeded": list(j.exceeded), "relative_undefined": j.undefined}
