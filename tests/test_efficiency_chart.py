"""The efficiency chart colours each bar by the efficiency rule's outcome for that quantity, never by ratio > 1."""

from __future__ import annotations

from builders import OVERALL_B, OVERALL_C, evidence, one, with_sections

from governance.evidence.schema import Efficiency, LatencyStats, ModelEfficiency
from governance.render import charts
from governance.render.view.measurements import efficiency as efficiency_view

LAT = [LatencyStats(batch_size=1, repeats=30, median_ms=1.0, p95_ms=1.2, rows_per_s=1000.0)]
#: a candidate 1/3 smaller (ratio 0.67) and exactly as fast (ratio 1.0)
EFF = Efficiency(device="cpu", hardware="test cpu", method="interleaved",
                 models={"baseline": ModelEfficiency(bytes=1000, bytes_gzip=900, latency=LAT),
                         "candidate": ModelEfficiency(bytes=1000, bytes_gzip=600, latency=LAT)},
                 compression_ratio=1.5, size_reduction=1 / 3, speedup={"1": 1.0})


def _bar_fills(svg: str) -> list[str]:
    return [part.split('fill="')[1].split('"')[0] for part in svg.split("<rect")[1:] if 'height="11"' in part]


def test_bars_take_the_rule_outcome_not_the_sign_of_the_ratio():
    bars = [charts.RatioBar("size (gzip)", 0.6, "fail"), charts.RatioBar("median latency, batch 1", 1.4, "pass"),
            charts.RatioBar("non-zero parameters", 1.2, "not judged")]
    assert _bar_fills(charts.ratio_chart(bars)) == [charts.OUTCOME_COLOURS[o] for o in ("fail", "pass", "not judged")]


def test_a_smaller_candidate_that_misses_its_size_target_is_red_and_an_unjudged_quantity_grey():
    ev = with_sections(evidence(OVERALL_B, OVERALL_C), efficiency=EFF)
    f = one({"kind": "efficiency", "min_size_reduction": 0.5}, ev)  # 33% smaller, 50% required: fail
    assert f.details["judged"] == {"bytes_gzip": "fail"}
    view = efficiency_view(ev, [f])
    assert view is not None
    fills = _bar_fills(str(view["chart"]))
    assert fills == [charts.OUTCOME_COLOURS["fail"], charts.OUTCOME_COLOURS["not judged"]]  # size, latency batch 1
    passing = one({"kind": "efficiency", "min_size_reduction": 0.3, "min_speedup": 0.9}, ev)
    assert passing.details["judged"] == {"bytes_gzip": "pass", "latency:1": "pass"}
    assert _bar_fills(str(efficiency_view(ev, [passing])["chart"])) == [charts.OUTCOME_COLOURS["pass"]] * 2
