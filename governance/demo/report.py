"""The demo's summary: one row per candidate, from the evidence and verdict the gate returned."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..findings import decision_line

if TYPE_CHECKING:
    from ..evidence.schema import Evidence
    from ..findings import Verdict

#: rule kinds that decide on slices of the data (groups, classes), not on the overall average
SLICE_KINDS = ("slice_metric_drop", "fairness_gap")
#: rule kinds that decide on the overall average
OVERALL_KINDS = ("metric_drop", "metric_floor", "metric_ceiling")
#: rules about the release rather than the pruning: the data (provenance, leakage, personal data), the
#: documentation and the human sign-off. They decide the same way for every candidate of the demo.
RELEASE_KINDS = ("provenance", "leakage", "pii_scan", "documentation", "attestation")
#: the evidence's dimension that slices by the true label
CLASS = "class"


@dataclass(frozen=True)
class Row:
    name: str
    folder: Path
    decision: str
    sparsity: float | None  # fraction of zeros over the evidence's sparsity scope
    sparsity_scope: str | None
    parameters: int | None
    baseline_parameters: int | None
    accuracy_drop: float | None  # baseline - candidate (positive: worse)
    drop_ci: tuple[float, float] | None
    worst_slice: str | None  # the worst single-attribute slice of the sensitive columns
    worst_slice_count: int | None
    worst_slice_drop: float | None
    worst_slice_ci: tuple[float, float] | None
    worst_class: str | None  # the worst class (accuracy within a class is its recall)
    worst_class_count: int | None
    worst_class_drop: float | None
    worst_class_ci: tuple[float, float] | None
    hardware: str | None  # where latency was timed
    ece_change: float | None  # candidate - baseline
    gzip_bytes: int | None
    baseline_gzip_bytes: int | None
    speedup: float | None
    speedup_batch: str | None
    blocking: list[tuple[str, str, str]]  # (rule id, kind, message)
    line: str  # the decision line every output states (findings.decision_line), not-judged rules included

    @property
    def measured_blocking(self) -> list[tuple[str, str, str]]:
        """The blocking findings about what pruning did to the model (measured on both models)."""
        return [b for b in self.blocking if b[1] not in RELEASE_KINDS]

    @property
    def release_blocking(self) -> list[tuple[str, str, str]]:
        """The blocking findings about the data, the documentation or the sign-off."""
        return [b for b in self.blocking if b[1] in RELEASE_KINDS]


def _drop(comparison) -> tuple[float | None, tuple[float, float] | None]:
    """accuracy drop (baseline - candidate) and its interval, from a Comparison (difference = cand - base)."""
    if comparison is None or comparison.difference is None:
        return None, None
    ci = comparison.difference_ci
    return -comparison.difference, ((-ci.ci_high, -ci.ci_low) if ci is not None else None)


def worst_slice(ev: Evidence, columns: list[str], min_slice_size: int
                ) -> tuple[str, str, int, float, tuple[float, float] | None] | None:
    """(column, value, rows, accuracy drop, its interval) of the slice of ``columns`` with at least
    ``min_slice_size`` rows whose accuracy dropped most (baseline - candidate); None when none qualifies."""
    cand, base = ev.models["candidate"], ev.models["baseline"]
    worst: tuple[str, str, int, float, tuple[float, float] | None] | None = None
    for column in columns:
        for value, stats in cand.slices.get(column, {}).items():
            count = stats.get("count") or 0
            if count < min_slice_size:
                continue
            comp = ev.comparisons.slices.get(column, {}).get(value, {}).get("accuracy") if ev.comparisons else None
            d, ci = _drop(comp)
            if d is None:
                b, c = base.slices[column][value].get("accuracy"), stats.get("accuracy")
                d = b - c if b is not None and c is not None else None
            if d is not None and (worst is None or d > worst[3]):
                worst = (column, value, int(count), d, ci)
    return worst


def row(name: str, folder: Path, ev: Evidence, verdict: Verdict, min_slice_size: int) -> Row:
    """The candidate's row: sparsity, drops with intervals, worst slice and class, size, speed, blocking rules."""
    cand, base = ev.models["candidate"], ev.models["baseline"]
    eff = ev.efficiency
    sparsity: float | None
    if eff is not None and eff.models["candidate"].sparsity is not None:
        sparsity, scope = eff.models["candidate"].sparsity, eff.models["candidate"].sparsity_scope
        params, base_params = eff.models["candidate"].parameters, eff.models["baseline"].parameters
    else:
        params, base_params = cand.description.get("parameters"), base.description.get("parameters")
        nonzero = cand.description.get("nonzero_parameters")
        sparsity = 1 - nonzero / params if params and nonzero is not None else None
        scope = "all parameter tensors"
    overall = ev.comparisons.overall.get("accuracy") if ev.comparisons else None
    drop, drop_ci = _drop(overall)
    if drop is None:
        b, c = base.overall.get("accuracy"), cand.overall.get("accuracy")
        drop = b - c if b is not None and c is not None else None

    def worst_of(columns: list[str]) -> tuple:
        found = worst_slice(ev, columns, min_slice_size)
        return (None, None, None, None) if found is None else (f"{found[0]}={found[1]}", *found[2:])

    worst = worst_of(list(ev.data.sensitive))  # single-attribute slices; intersections are in the reports
    worst_cls = worst_of([CLASS]) if CLASS in cand.slices else (None, None, None, None)

    ece_change = None
    if ev.calibration is not None:
        b, c = ev.calibration.models["baseline"].ece, ev.calibration.models["candidate"].ece
        ece_change = c - b if b is not None and c is not None else None
    speedup = speedup_batch = None
    if eff is not None and eff.speedup:
        speedup_batch = max(eff.speedup, key=int)
        speedup = eff.speedup[speedup_batch]
    return Row(
        name=name, folder=folder, decision=verdict.decision, sparsity=sparsity, sparsity_scope=scope,
        parameters=params, baseline_parameters=base_params, accuracy_drop=drop, drop_ci=drop_ci,
        worst_slice=worst[0], worst_slice_count=worst[1], worst_slice_drop=worst[2], worst_slice_ci=worst[3],
        worst_class=worst_cls[0], worst_class_count=worst_cls[1], worst_class_drop=worst_cls[2],
        worst_class_ci=worst_cls[3], hardware=eff.hardware if eff is not None else None,
        ece_change=ece_change,
        gzip_bytes=eff.models["candidate"].bytes_gzip if eff is not None else None,
        baseline_gzip_bytes=eff.models["baseline"].bytes_gzip if eff is not None else None,
        speedup=speedup, speedup_batch=speedup_batch,
        blocking=[(f.rule_id, f.kind, f.message) for f in verdict.blocking],
        line=decision_line(verdict),
    )


def _pt(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f}"


def _ci(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f" [{ci[0] * 100:+.1f}, {ci[1] * 100:+.1f}]"


def _kb(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 1024:,.0f} KB"


def table(rows: list[Row], title: str):
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    columns: tuple[tuple[str, Literal["left", "right"], int | None], ...] = (
        ("candidate", "left", 12), ("sparsity", "right", None), ("accuracy drop, pt\n[95% CI]", "right", None),
        ("worst group / worst class\ndrop, pt [95% CI]", "left", None), ("ECE\nchange", "right", None),
        ("size\n(gzip)", "right", None), ("speedup", "right", None), ("decision", "left", None),
        ("blocked by", "left", None))
    for col, justify, width in columns:
        t.add_column(col, justify=justify, overflow="fold", min_width=width)
    for r in rows:
        sparsity = "n/a" if r.sparsity is None else f"{r.sparsity:.1%}"
        if r.parameters and r.baseline_parameters and r.parameters != r.baseline_parameters:
            sparsity += f"\n{r.parameters:,} params ({r.parameters / r.baseline_parameters - 1:+.0%})"
        worst = "\n".join(
            f"{name} (n={count:,}): {_pt(drop)}{_ci(ci)}"
            for name, count, drop, ci in ((r.worst_slice, r.worst_slice_count, r.worst_slice_drop, r.worst_slice_ci),
                                          (r.worst_class, r.worst_class_count, r.worst_class_drop, r.worst_class_ci))
            if name is not None) or "n/a"
        size = _kb(r.gzip_bytes)
        if r.gzip_bytes and r.baseline_gzip_bytes:
            size += f"\n({r.gzip_bytes / r.baseline_gzip_bytes - 1:+.0%})"
        speed = "n/a" if r.speedup is None else f"{r.speedup:.2f}x\n@{r.speedup_batch} rows"
        decision = "[bold green]PASS[/]" if r.decision == "pass" else "[bold red]BLOCKED[/]"
        blocked = ", ".join(rule for rule, _, _ in r.measured_blocking) or "no pruning rule"
        if r.release_blocking:
            blocked += "\n+ " + ", ".join(rule for rule, _, _ in r.release_blocking)
        t.add_row(r.name, sparsity, f"{_pt(r.accuracy_drop)}\n{_ci(r.drop_ci).strip()}", worst,
                  "n/a" if r.ece_change is None else f"{r.ece_change:+.4f}", size, speed, decision, blocked or "-")
    return t


def story(rows: list[Row], policy_name: str, slice_rules: list[str]) -> list[str]:
    """What the numbers say, in sentences; never more than they measured."""
    lines = []
    by_slice = [r for r in rows if r.measured_blocking
                and not any(kind in OVERALL_KINDS for _, kind, _ in r.measured_blocking)]
    for r in rows:
        measured = r.measured_blocking
        if r in by_slice:
            rule, _, message = next((b for b in measured if b[1] in SLICE_KINDS), measured[0])
            more = f" (and {len(measured) - 1} more rule(s))" if len(measured) > 1 else ""
            lines.append(f"{r.name} looks fine on average (accuracy drop {_pt(r.accuracy_drop)} pt overall, every "
                         f"overall rule passes), yet {rule}{more} blocks it: {message}")
        elif measured:
            rule, _, message = measured[0]
            more = f" (and {len(measured) - 1} more rule(s))" if len(measured) > 1 else ""
            lines.append(f"{r.name} is blocked by {rule}{more}: {message}")
        elif r.release_blocking:
            lines.append(f"{r.name} passes every rule about what pruning did (overall, slices, classes, fairness, "
                         f"calibration, agreement, robustness, efficiency).")
        else:
            lines.append(f"{r.name} passes: it may ship under {policy_name}.")
    if not any(any(kind in SLICE_KINDS for _, kind, _ in r.measured_blocking) for r in rows):
        passing = [r for r in rows if not r.measured_blocking and r.worst_slice_drop is not None]
        worst = max(passing, key=lambda r: r.worst_slice_drop or 0.0, default=None)  # all defined (filtered)
        if slice_rules:
            why = f"the slice rules of {policy_name} ({', '.join(slice_rules)}) passed for every candidate"
        else:
            why = f"the policy {policy_name} has no slice or fairness rules, so slices are measured but not gated"
        line = f"No candidate was blocked for a slice reason on these numbers: {why}."
        if worst is not None:
            line += (f" The largest single-attribute slice drop among the candidates that pass the measured rules "
                     f"is {worst.name}'s {_pt(worst.worst_slice_drop)} pt for {worst.worst_slice} "
                     f"(n={worst.worst_slice_count:,}"
                     f"{', 95% CI' + _ci(worst.worst_slice_ci) if worst.worst_slice_ci else ''}).")
        lines.append(line)
    elif not by_slice:
        lines.append("Every candidate blocked by a slice rule is also blocked by an overall rule here: "
                     "on these numbers the slices did not change a decision on their own.")
    for r in rows:  # a dense layer of the baseline's shape runs as fast with zeros in it: say so, not "faster"
        same_shape = r.parameters is not None and r.parameters == r.baseline_parameters
        if same_shape and r.speedup is not None and not 0.8 <= r.speedup <= 1.25:
            lines.append(f"{r.name}'s measured speedup of {r.speedup:.2f}x is most likely timing noise: its layers "
                         f"have the baseline's shapes and dense CPU kernels do not skip zeros (see the load average "
                         f"above; its audit report has the latency distribution).")
    release_rules: dict[str, tuple[str, str, list[str]]] = {}  # rule -> (kind, first message, candidates)
    for r in rows:
        for rule, kind, message in r.release_blocking:
            release_rules.setdefault(rule, (kind, message, []))[2].append(r.name)
    for rule, (kind, message, names) in release_rules.items():
        who = "Every candidate" if len(names) == len(rows) else ", ".join(names)
        if kind == "attestation":
            lines.append(f"{who} also lacks the human sign-off the pack requires ({rule}): a model owner approves one "
                         f"exact candidate file in the release manifest's approvals (docs/quickstart.md, step 6); "
                         f"the demo measures, it cannot approve.")
        else:
            lines.append(f"{who} is also blocked by {rule} ({kind}), about the release's data or documentation rather "
                         f"than the pruning: {message}")
    return lines
