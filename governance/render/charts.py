"""Charts as small inline SVG, drawn in Python at render time: no images, no JavaScript, no network.

Every label that comes from data (slice names, metric names) is XML-escaped here, so a chart can be
marked safe for the autoescaping HTML templates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

BASELINE = "#7a7a7a"
CANDIDATE = "#1f5fa8"
WORSE = "#b3261e"
GRID = "#d9d9d9"
FONT = "font-family=\"DejaVu Sans, Arial, sans-serif\""


def _n(x: float) -> str:
    """Compact coordinates keep the SVG small."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, s: str, *, size: float = 9, anchor: str = "start", fill: str = "#222",
          weight: str = "normal") -> str:
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"'
            f'{" font-weight=" + quoteattr(weight) if weight != "normal" else ""}>{escape(s)}</text>')


def _nice_range(lo: float, hi: float) -> tuple[float, float, float]:
    """A padded axis range and a tick step of 1, 2 or 5 x 10^k."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        lo, hi = 0.0, 1.0
    if hi - lo < 1e-9:
        lo, hi = lo - 0.05, hi + 0.05
    span = hi - lo
    raw = span / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


def _ticks(lo: float, hi: float, step: float) -> list[float]:
    out, t = [], lo
    while t <= hi + step * 1e-6:
        out.append(round(t, 10))
        t += step
    return out


def _fmt_tick(v: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{v:.{decimals}f}"


def _svg(width: float, height: float, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}" '
            f'viewBox="0 0 {_n(width)} {_n(height)}" role="img" {FONT}>'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


#: colour of a slice by the rule's outcome for it (never by the sign of the change)
OUTCOME_COLOURS = {"pass": "#1a7f37", "fail": WORSE, "thin": "#b7791f", "not judged": BASELINE}


@dataclass(frozen=True)
class DropPoint:
    """One slice in a drop chart: how much worse the candidate is (positive = worse), its interval, the outcome."""

    label: str
    drop: float | None
    ci: tuple[float, float] | None = None
    outcome: str = "not judged"  # pass | fail | thin | not judged: the rule's decision for this slice
    count: int | None = None


def drop_chart(points: list[DropPoint], metric: str, limit: float | None, *, width: float = 640) -> str:
    """Each slice's drop in ``metric`` (candidate worse = right of 0) with its interval whisker, against the
    rule's limit (a dashed line); each slice is coloured by the rule's outcome for it."""
    label_w, value_w, row_h, top = 170.0, 118.0, 12.0, 26.0
    plot_l, plot_r = label_w, width - value_w
    values = [0.0] + [p.drop for p in points if p.drop is not None]
    values += [v for p in points if p.ci for v in p.ci]
    if limit is not None:
        values.append(limit)
    lo, hi, step = _nice_range(min(values), max(values))
    height = top + row_h * len(points) + 22

    def x(v: float) -> float:
        return plot_l + (v - lo) / (hi - lo) * (plot_r - plot_l)

    body, lx = [], plot_l
    for name in ("pass", "fail", "thin", "not judged"):
        if any(p.outcome == name for p in points):
            body.append(f'<circle cx="{_n(lx)}" cy="10" r="4" fill="{OUTCOME_COLOURS[name]}"/>')
            body.append(_text(lx + 7, 13, name, size=8))
            lx += 20 + 5.2 * len(name)
    body.append(_text(width - 4, 13, f"drop in {metric}" + ("" if limit is None else f" · limit {limit:g}"),
                      anchor="end", weight="bold"))
    axis_y = top + row_h * len(points) + 2
    for t in _ticks(lo, hi, step):
        body.append(f'<line x1="{_n(x(t))}" y1="{_n(top - 6)}" x2="{_n(x(t))}" y2="{_n(axis_y)}" '
                    f'stroke="{GRID}" stroke-width="0.6"/>')
        body.append(_text(x(t), axis_y + 11, _fmt_tick(t, step), size=8, anchor="middle", fill="#555"))
    body.append(f'<line x1="{_n(x(0))}" y1="{_n(top - 6)}" x2="{_n(x(0))}" y2="{_n(axis_y)}" stroke="#555" '
                f'stroke-width="0.8"/>')
    if limit is not None:
        body.append(f'<line x1="{_n(x(limit))}" y1="{_n(top - 6)}" x2="{_n(x(limit))}" y2="{_n(axis_y)}" '
                    f'stroke="{WORSE}" stroke-width="1" stroke-dasharray="4 2"/>')
    for i, p in enumerate(points):
        cy = top + row_h * i + row_h / 2
        colour = OUTCOME_COLOURS.get(p.outcome, BASELINE)
        label = p.label if len(p.label) <= 30 else p.label[:29] + "…"
        body.append(_text(label_w - 6, cy + 3, label, anchor="end"))
        if p.ci is not None:
            body.append(f'<line x1="{_n(x(p.ci[0]))}" y1="{_n(cy)}" x2="{_n(x(p.ci[1]))}" y2="{_n(cy)}" '
                        f'stroke="{colour}" stroke-width="1.2"/>')
        if p.drop is not None:
            body.append(f'<circle cx="{_n(x(p.drop))}" cy="{_n(cy)}" r="3.2" fill="{colour}" '
                        f'data-outcome={quoteattr(p.outcome)}/>')
        shown = "n/a" if p.drop is None else f"{p.drop:+.3f}".replace("-", "\u2212")
        if p.ci is not None:
            shown += f" [{p.ci[0]:+.3f}, {p.ci[1]:+.3f}]".replace("-", "\u2212")
        body.append(_text(width - 4, cy + 3, shown, size=7.5, anchor="end", fill=colour))
    return _svg(width, height, body, f"drop in {metric} by slice against the rule's limit")


@dataclass(frozen=True)
class Curve:
    name: str
    colour: str
    points: list[tuple[float, float, int]]  # (mean confidence, accuracy, count)


def reliability_chart(curves: list[Curve], score: str, *, size: float = 250) -> str:
    """Reliability diagram: observed frequency against mean predicted score per bin; the diagonal is perfect."""
    pad_l, pad_b, pad_t, pad_r = 38.0, 32.0, 22.0, 10.0
    w = pad_l + size + pad_r
    h = pad_t + size + pad_b

    def x(v: float) -> float:
        return pad_l + v * size

    def y(v: float) -> float:
        return pad_t + (1 - v) * size

    body = []
    for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        body.append(f'<line x1="{_n(x(t))}" y1="{_n(y(0))}" x2="{_n(x(t))}" y2="{_n(y(1))}" stroke="{GRID}" '
                    f'stroke-width="0.6"/>')
        body.append(f'<line x1="{_n(x(0))}" y1="{_n(y(t))}" x2="{_n(x(1))}" y2="{_n(y(t))}" stroke="{GRID}" '
                    f'stroke-width="0.6"/>')
        body.append(_text(x(t), y(0) + 11, f"{t:.1f}", size=8, anchor="middle", fill="#555"))
        body.append(_text(x(0) - 4, y(t) + 3, f"{t:.1f}", size=8, anchor="end", fill="#555"))
    body.append(f'<line x1="{_n(x(0))}" y1="{_n(y(0))}" x2="{_n(x(1))}" y2="{_n(y(1))}" stroke="#999" '
                f'stroke-dasharray="3 3"/>')
    body.append(_text(x(0.5), h - 4, f"mean predicted ({score})", size=8, anchor="middle"))
    body.append(f'<text x="10" y="{_n(y(0.5))}" font-size="8" text-anchor="middle" '
                f'transform="rotate(-90 10 {_n(y(0.5))})">observed frequency</text>')
    lx = pad_l
    for c in curves:
        pts = [(m, a) for m, a, n in c.points if n > 0]
        if pts:
            body.append(f'<polyline fill="none" stroke="{c.colour}" stroke-width="1.3" points="'
                        + " ".join(f"{_n(x(m))},{_n(y(a))}" for m, a in pts) + '"/>')
            body += [f'<circle cx="{_n(x(m))}" cy="{_n(y(a))}" r="2.4" fill="{c.colour}"/>' for m, a in pts]
            if c.name == "candidate":  # the rows behind each point: a bin of a few rows zig-zags by chance
                body += [_text(x(m), y(a) - 5, f"n={n}", size=6, anchor="middle", fill=c.colour)
                         for m, a, n in c.points if n > 0]
        body.append(f'<rect x="{_n(lx)}" y="6" width="10" height="8" fill="{c.colour}"/>')
        body.append(_text(lx + 13, 13, c.name, size=8))
        lx += 13 + 6.5 * len(c.name) + 12
    return _svg(w, h, body, "reliability diagram")


@dataclass(frozen=True)
class RatioBar:
    """One bar of the efficiency chart: candidate / baseline, and the efficiency rules' outcome for it."""

    label: str
    ratio: float
    outcome: str = "not judged"  # pass | fail | not judged (no efficiency rule limits this quantity)


def ratio_chart(rows: list[RatioBar], *, width: float = 520) -> str:
    """Candidate / baseline ratios as bars with a reference line at 1 (below 1: smaller, cheaper or faster),
    coloured by the outcome of the rule that judges the quantity (a legend says which colour is which)."""
    label_w, value_w, row_h, top = 190.0, 56.0, 18.0, 24.0
    hi = max([1.2] + [r.ratio for r in rows if math.isfinite(r.ratio)]) * 1.05
    plot_l, plot_r = label_w, width - value_w
    height = top + row_h * len(rows) + 24

    def x(v: float) -> float:
        return plot_l + min(max(v, 0.0), hi) / hi * (plot_r - plot_l)

    body = []
    lx = plot_l
    for name in ("pass", "fail", "not judged"):
        if any(r.outcome == name for r in rows):
            body.append(f'<rect x="{_n(lx)}" y="4" width="10" height="8" fill="{OUTCOME_COLOURS[name]}"/>')
            label = "no rule" if name == "not judged" else f"rule: {name}"
            body.append(_text(lx + 14, 12, label, size=8))
            lx += 24 + 5.2 * len(label)
    for i, bar in enumerate(rows):
        cy = top + row_h * i
        body.append(_text(label_w - 6, cy + 12, bar.label, anchor="end"))
        body.append(f'<rect x="{_n(plot_l)}" y="{_n(cy + 3)}" width="{_n(x(bar.ratio) - plot_l)}" height="11" '
                    f'fill="{OUTCOME_COLOURS.get(bar.outcome, BASELINE)}"/>')
        body.append(_text(x(bar.ratio) + 4, cy + 12, f"{bar.ratio:.2f}×", size=8))
    axis_y = top + row_h * len(rows) + 2
    body.append(f'<line x1="{_n(x(1))}" y1="{_n(top - 4)}" x2="{_n(x(1))}" y2="{_n(axis_y)}" stroke="#222" '
                f'stroke-dasharray="3 2"/>')
    body.append(_text(x(1), axis_y + 11, "1× (baseline)", size=8, anchor="middle", fill="#555"))
    return _svg(width, height, body, "candidate / baseline ratios")
