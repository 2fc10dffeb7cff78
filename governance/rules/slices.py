"""Finding the slices a rule looks at, and which are too small to judge."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from ..evidence.schema import Evidence, MetricValues, Role
from ..metrics import HIGHER_IS_BETTER, worsening
from .stats import NoInterval, comparison, drop_interval

#: how many thin slices a skipped-slices summary names before "..."
THIN_NAMED = 3


#: a rule needs an intersection the evidence skipped as too large (template: name, why, columns)
OVER_BUDGET = ("intersection {name!r} was not formed ({why}): raise evaluation.intersection_budget in the release "
               "manifest, or slice by fewer columns")
#: a rule needs an intersection the manifest did not ask for (template: name, why, columns)
NOT_FORMED = ("intersection {name!r} was not formed (evaluation.intersections forms each column and, by default, "
              "only the full intersection): add [{columns}] to evaluation.intersections in the release manifest")


class MissingDimension(LookupError):
    """A rule names a column the evidence has no slices for (a policy/manifest mismatch)."""


class NoSensitiveColumns(LookupError):
    """``by: ["*"]`` on a release that declares no sensitive columns: nothing to slice."""


def expand(by: list[str], evidence: Evidence) -> list[str]:
    """``*`` stands for every sensitive column of the release, so generic policy packs can slice."""
    if "*" not in by:
        return list(by)
    cols = [c for c in evidence.data.sensitive if c not in by] + [c for c in by if c != "*"]
    if not cols:
        raise NoSensitiveColumns("the release declares no sensitive columns (data.sensitive), so 'by: [\"*\"]' "
                                 "has nothing to slice")
    return cols


def dimensions(by: list[str], evidence: Evidence) -> list[str]:
    """Each ``by`` column's dimension, then their intersection when there are several."""
    by = expand(by, evidence)
    wanted = [[c] for c in by] + ([list(by)] if len(by) > 1 else [])
    names = []
    for cols in wanted:
        name = evidence.dimension_for(cols)
        if name is None:
            known = ", ".join(evidence.data.sensitive) or "none"
            if len(cols) > 1 and set(cols) <= set(evidence.data.sensitive):
                joined = " & ".join(c for c in evidence.data.sensitive if c in cols)
                why = evidence.dimensions_skipped.get(joined)
                raise MissingDimension((OVER_BUDGET if why else NOT_FORMED).format(
                    name=joined, why=why, columns=", ".join(c for c in evidence.data.sensitive if c in cols)))
            raise MissingDimension(f"no slices for {' & '.join(cols)!r} in the evidence (sensitive columns: {known})")
        names.append(name)
    return names


@dataclass
class SliceSelection:
    """Slices of some dimensions split into those judged and those skipped (with why)."""

    judged: list[tuple[str, str]] = field(default_factory=list)  # (dimension, value)
    too_small: list[dict] = field(default_factory=list)
    undefined: list[dict] = field(default_factory=list)

    def skipped_summary(self) -> str:
        parts = []
        if self.too_small:
            named = ", ".join(f"{slice_name(t['dimension'], t['slice'])} n={t['count']}"
                              for t in sorted(self.too_small, key=lambda t: t["count"])[:THIN_NAMED])
            more = ", ..." if len(self.too_small) > THIN_NAMED else ""
            parts.append(f"{len(self.too_small)} slice(s) below the minimum size skipped ({named}{more})")
        if self.undefined:
            parts.append(f"{len(self.undefined)} slice(s) where the metric is undefined skipped")
        return "; ".join(parts)


def select(evidence: Evidence, dims: list[str], min_size: int, metric: str) -> SliceSelection:
    """Judge slices with at least ``min_size`` rows where both models' metric is defined."""
    sel = SliceSelection()
    base = evidence.models["baseline"].slices
    cand = evidence.models["candidate"].slices
    for dim in dims:
        for value, stats in base[dim].items():
            count = int(stats.get("count") or 0)
            label = {"dimension": dim, "slice": value, "count": count}
            if count < min_size:
                sel.too_small.append(label)
            elif stats.get(metric) is None or cand[dim][value].get(metric) is None:
                sel.undefined.append(label)
            else:
                sel.judged.append((dim, value))
    return sel


def thin_slices(evidence: Evidence, sel: SliceSelection, metric: str, *, with_drop: bool = True) -> list[dict]:
    """Every slice under the minimum size with what was observed there, worst drop first, so a thin but badly
    hurt group is named rather than only counted. ``drop`` is directional (positive = the candidate is worse)
    and ``None`` where the metric is undefined in the slice, or when ``with_drop`` is false (a fairness rate,
    whose change is no harm by itself)."""
    rows = []
    for t in sel.too_small:
        dim, value = t["dimension"], t["slice"]
        b = evidence.models["baseline"].slices.get(dim, {}).get(value, {}).get(metric)
        c = evidence.models["candidate"].slices.get(dim, {}).get(value, {}).get(metric)
        d = None
        if with_drop and b is not None and c is not None and metric in HIGHER_IS_BETTER:
            d = worsening(metric, b, c)
        row = {"slice": slice_name(dim, value), "count": t["count"], "baseline": b, "candidate": c, "drop": d}
        if d is not None:
            # the paired interval, where the evidence has one: a thin slice's drop is mostly noise
            with contextlib.suppress(NoInterval):
                row["drop_ci_low"], row["drop_ci_high"] = drop_interval(metric,
                                                                        comparison(evidence, metric, dim, value))
        rows.append(row)
    return sorted(rows, key=lambda r: (r["drop"] is None, -(r["drop"] or 0.0), r["count"], r["slice"]))


def slice_name(dim: str, value: str) -> str:
    return f"{dim}={value}"


def values(evidence: Evidence, role: Role, dim: str, value: str) -> MetricValues:
    return evidence.models[role].slices[dim][value]
