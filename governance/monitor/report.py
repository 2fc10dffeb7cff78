"""The monitor's outputs: monitor.json (every window's findings and the series of each watched quantity),
junit.xml (the deciding window, one testcase per rule) and monitor.html (one inline-SVG time-series chart per
watched quantity with its limit drawn; no JavaScript, no network)."""

from __future__ import annotations

import math
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

from ..evidence.schema import FileRef
from ..findings import Finding, Status, Verdict, not_judged_clause
from ..render.charts import GRID, WORSE, _fmt_tick, _n, _nice_range, _svg, _text, _ticks
from ..rules.monitor import DIRECTION
from .contract import MonitoringContract
from .state import MonitorState

REPORT_VERSION: Literal["1"] = "1"
STATUS_COLOURS = {"pass": "#1a7f37", "fail": WORSE, "inconclusive": "#7a7a7a", "error": "#7a3e9d",
                  "waived": "#b7791f"}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WindowResult(_Model):
    """One window's decision and findings."""

    name: str
    file: FileRef
    rows: int
    labelled: int
    decision: Literal["pass", "blocked"]
    findings: list[Finding]


class Series(_Model):
    """One watched quantity (a rule's observed value) over the windows, oldest first, with its limit."""

    rule_id: str
    kind: str
    quantity: str
    direction: Literal["max", "min"] | None = Field(description="max: the value must stay at or below the limit; "
                                                                "min: at or above")
    values: list[float | None]
    limits: list[float | None]
    statuses: list[Status]


class MonitorReport(_Model):
    """monitor.json: the decision on the windows given in this run and the history they were judged in."""

    schema_version: Literal["1"] = REPORT_VERSION
    release: dict[str, str]
    candidate_sha256: str
    contract_sha256: str
    policy: str
    decision: Literal["pass", "blocked"] = Field(
        description="the decision on the windows given in this run (exit 0 / 1): blocked when any of them alerts")
    decision_line: str
    decided: list[str] = Field(default_factory=list, description="the windows this run decided on: those given with "
                                                                 "--window (new, or already in the state), oldest "
                                                                 "first; earlier windows are shown, not re-decided")
    windows: list[WindowResult] = Field(description="every window in the state, oldest first")
    series: list[Series]
    skipped: list[str] = Field(default_factory=list, description="windows given again (already in the state): not "
                                                                 "counted twice")


def decision_line(verdict: Verdict) -> str:
    """'PASS: window W is within the contract' or 'ALERT on window W: RULE, ...' (plus rules not judged)."""
    window = verdict.release.get("window", "?")
    clause = not_judged_clause(verdict)
    if verdict.decision == "pass":
        return f"PASS: window {window} is within the contract" + (f", but {clause}" if clause else "")
    head = f"ALERT on window {window}: {', '.join(f.rule_id for f in verdict.blocking)}"
    return head + (f"; {not_judged_clause(verdict, verb=False)}" if clause else "")


def _series(verdicts: list[Verdict]) -> list[Series]:
    out = []
    for i, f in enumerate(verdicts[-1].findings if verdicts else []):
        column = [v.findings[i] for v in verdicts]
        out.append(Series(rule_id=f.rule_id, kind=f.kind, quantity=str(f.details.get("quantity", f.kind)),
                          direction=next((g.details[DIRECTION] for g in column if DIRECTION in g.details), None),
                          values=[g.observed for g in column], limits=[g.threshold for g in column],
                          statuses=[g.status for g in column]))
    return out


def deciding(verdicts: list[Verdict], decided: list[int]) -> list[Verdict]:
    """The verdicts the run's decision rests on: every alerting one among the windows ``decided`` (indices into
    ``verdicts``), else the newest of them. A catch-up run over several windows, or a retry of a window already in
    the state, must alert on a bad window even when a later one is clean."""
    alerts = [verdicts[i] for i in decided if verdicts[i].decision != "pass"]
    return alerts or [verdicts[decided[-1] if decided else -1]]


def build_report(contract: MonitoringContract, contract_sha256: str, state: MonitorState, verdicts: list[Verdict],
                 skipped: list[str], decided: list[int]) -> MonitorReport:
    windows = [WindowResult(name=w.name, file=w.file, rows=w.overall.rows, labelled=w.overall.labelled,
                            decision=v.decision, findings=v.findings) for w, v in zip(state.windows, verdicts)]
    basis = deciding(verdicts, decided)
    return MonitorReport(release=contract.release, candidate_sha256=contract.candidate_sha256,
                         contract_sha256=contract_sha256, policy=str(verdicts[-1].policy.get("name", "")),
                         decision=basis[0].decision, decision_line="; ".join(decision_line(v) for v in basis),
                         decided=[state.windows[i].name for i in decided],
                         windows=windows, series=_series(verdicts), skipped=skipped)


def report_json(report: MonitorReport) -> bytes:
    return report.model_dump_json(indent=2).encode() + b"\n"


def series_chart(s: Series, windows: list[str], *, width: float = 640, height: float = 190) -> str:
    """One quantity over the windows: a line with a point per window (coloured by the rule's outcome) and the
    rule's limit as a dashed red line."""
    left, right, top, bottom = 52.0, 12.0, 24.0, 40.0
    finite = [v for v in [*s.values, *s.limits] if v is not None and math.isfinite(v)]
    lo, hi, step = _nice_range(min(finite, default=0.0), max(finite, default=1.0))
    n = len(windows)

    def x(i: int) -> float:
        return left + (width - left - right) * (0.5 if n == 1 else i / (n - 1))

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - lo) / (hi - lo))

    bound = {"max": "at most", "min": "at least"}.get(s.direction or "", "")
    limits = {v for v in s.limits if v is not None}
    shown = f" {next(iter(limits)):.4g}" if len(limits) == 1 else ""
    body = [_text(4, 13, f"{s.rule_id}: {s.quantity}", weight="bold"),
            _text(width - 4, 13, f"limit: {bound}{shown}" if limits else "no limit", size=8, anchor="end",
                  fill=WORSE)]
    for t in _ticks(lo, hi, step):
        body.append(f'<line x1="{_n(left)}" y1="{_n(y(t))}" x2="{_n(width - right)}" y2="{_n(y(t))}" '
                    f'stroke="{GRID}" stroke-width="0.6"/>')
        body.append(_text(left - 4, y(t) + 3, _fmt_tick(t, step), size=8, anchor="end", fill="#555"))
    limit_pts = [(x(i), y(v)) for i, v in enumerate(s.limits) if v is not None and math.isfinite(v)]
    if len(limit_pts) == 1:
        limit_pts = [(left, limit_pts[0][1]), (width - right, limit_pts[0][1])]
    if limit_pts:
        pts = " ".join(f"{_n(a)},{_n(b)}" for a, b in limit_pts)
        body.append(f'<polyline class="limit" points="{pts}" fill="none" stroke="{WORSE}" stroke-width="1.2" '
                    f'stroke-dasharray="5 3"/>')
    line = [(x(i), y(v)) for i, v in enumerate(s.values) if v is not None and math.isfinite(v)]
    if len(line) > 1:
        body.append(f'<polyline class="values" points="{" ".join(f"{_n(a)},{_n(b)}" for a, b in line)}" '
                    f'fill="none" stroke="#1f5fa8" stroke-width="1.4"/>')
    for i, (v, st) in enumerate(zip(s.values, s.statuses)):
        if v is not None and math.isfinite(v):
            body.append(f'<circle cx="{_n(x(i))}" cy="{_n(y(v))}" r="3.2" fill="{STATUS_COLOURS[st.value]}" '
                        f'data-status={quoteattr(st.value)}><title>{escape(windows[i])}: {v:.4f} '
                        f'({escape(st.value)})</title></circle>')
        else:
            body.append(_text(x(i), height - bottom - 4, "n/a", size=7, anchor="middle", fill="#7a7a7a"))
    every = max(1, math.ceil(n / 8))
    for i, name in enumerate(windows):
        if i % every == 0 or i == n - 1:
            label = name if len(name) <= 22 else name[:21] + "…"
            anchor = "middle" if n == 1 or 0 < i < n - 1 else ("start" if i == 0 else "end")
            body.append(_text(x(i), height - bottom + 14, label, size=7.5, anchor=anchor, fill="#333"))
    return _svg(width, height, body, f"{s.rule_id} {s.quantity} over {n} windows against its limit")


def report_html(report: MonitorReport, contract: MonitoringContract) -> bytes:
    from ..render.templating import render

    names = [w.name for w in report.windows]
    charts = [{"series": s, "svg": Markup(series_chart(s, names))} for s in report.series]
    given = [w for w in report.windows if w.name in set(report.decided)] or report.windows[-1:]
    shown = [w for w in given if w.decision != "pass"] or given[-1:]  # as the decision: the alerts, else the newest
    context: dict[str, Any] = {"report": report, "contract": contract, "charts": charts,
                               "shown": shown, "version": _version()}
    return render("monitor.html.j2", context, None).encode()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pruning-governance")
    except PackageNotFoundError:
        return "unknown"
