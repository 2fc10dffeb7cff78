"""The audit report reads in five minutes: page 1 decides, every rule once, RMF as references, a one-page coverage
table, measurements early, charts coloured by outcome, no token split mid-word (issue 11, item 4).

One synthetic release (governance.render.sample, 40 slices, every optional section) with a verdict whose findings
carry the structured details the rules write (``metric``, ``slices``, ``failing_slices``, ``thin_slices``)."""

from __future__ import annotations

import io
import re

import pytest

from governance.findings import Finding, Status, Verdict, decide
from governance.render import RENDERERS, RenderContext, charts
from governance.render.sample import sample_evidence
from governance.render.templating import SHORT_HASH
from governance.render.view import build
from governance.render.view.measurements import MIN_BIN_COUNT

LONG_KIND = "slice_metric_drop"
MAX_PAGES = 15


def _verdict(evidence) -> Verdict:
    b = evidence.models["baseline"].slices["segment"]
    c = evidence.models["candidate"].slices["segment"]
    drops = {v: b[v]["accuracy"] - c[v]["accuracy"] for v in b}
    judged = [v for v in b if v != "segment-01"]
    worst = max(judged, key=lambda v: drops[v])
    limit = drops[worst] - 1e-6  # exactly one slice fails
    slices = [{"slice": f"segment={v}", "drop": drops[v], "count": int(c[v]["count"])} for v in judged]
    findings = [
        Finding(rule_id="PERF-001", kind="metric_drop", status=Status.FAIL, severity="block", rmf=["MEASURE 2.3"],
                observed=0.03, threshold=0.01, message="accuracy worsened by 0.0300, more than the allowed 0.0100.",
                details={"metric": "accuracy", "decided_on": "point"}),
        Finding(rule_id="SLICE-001", kind=LONG_KIND, status=Status.FAIL, severity="block",
                rmf=["MEASURE 2.11", "MANAGE 1.3"], observed=drops[worst], threshold=limit,
                message=f"worst slice segment={worst}: accuracy worsened beyond the allowed limit.",
                details={"metric": "accuracy", "slices": slices, "failing_slices": [f"segment={worst}"],
                         "skipped_too_small": [{"dimension": "segment", "slice": "segment-01", "count": 5}],
                         "thin_slices": [{"slice": "segment=segment-01", "count": 5}], "decided_on": "point"}),
        Finding(rule_id="SIGN-001", kind="attestation", status=Status.FAIL, severity="block", rmf=["GOVERN 2.1"],
                observed=0.0, threshold=1.0, message="missing sign-off by model-owner."),
        Finding(rule_id="DOC-001", kind="documentation", status=Status.INCONCLUSIVE, severity="warn", rmf=[],
                message="no card facts to check."),
    ]
    return Verdict(decision=decide(findings), release=dict(evidence.release), policy={"name": "layout-policy"},
                   evaluated_on=evidence.created_at.date(),
                   summary={s.value: sum(f.status == s for f in findings) for s in Status}, findings=findings)


@pytest.fixture(scope="module")
def report() -> dict:
    from pypdf import PdfReader

    evidence = sample_evidence(slices=40)
    ctx = RenderContext(evidence, _verdict(evidence))
    pdf = RENDERERS["audit_report.pdf"](ctx)
    return {"evidence": evidence, "verdict": ctx.verdict, "html": RENDERERS["audit_report.html"](ctx).decode(),
            "pages": [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]}


def test_report_is_short_and_measurements_come_early(report):
    pages = report["pages"]
    assert len(pages) < MAX_PAGES
    first_measurements = next(i for i, t in enumerate(pages[1:], 2) if "Overall" in t and "Per slice" in t)
    assert first_measurements <= 4


def test_page_one_answers_the_question(report):
    first = " ".join(report["pages"][0].split())
    assert first.startswith("Release gate audit report") and "BLOCKED Blocked by 3 rules:" in first
    for rule_id in ("PERF-001", "SLICE-001", "SIGN-001"):
        assert rule_id in first
    assert "PERF-001 (0.0200 past the limit)" in first  # by what margin
    assert "SIGN-001 (fail)" in first and "1.0000 past the limit" not in " ".join(report["pages"])  # no sign-off margin
    assert "decision blocked" not in first
    assert "Every block rule was judged on the evidence." in first  # what was (not) judged
    assert "Contents" in first


def test_every_rule_appears_once_in_full_and_rmf_is_a_reference_table(report):
    html = report["html"]
    for f in report["verdict"].findings:
        assert html.count(f'id="rule-{f.rule_id}"') == 1, f.rule_id
        assert html.count(f.message) == (2 if f.rule_id in ("PERF-001", "SLICE-001", "SIGN-001") else 1)  # + blocking
    refs = html.split('<h2 id="rmf">')[1].split("<h2")[0]
    assert '<a href="#rule-SLICE-001">SLICE-001</a>' in refs and "MANAGE 1.3, MEASURE 2.11" not in refs
    assert "worst slice" not in refs  # references only, not the findings again


def test_rmf_coverage_fits_on_one_page(report):
    (page,) = [t for t in report["pages"] if "The policy's rules check" in t]
    flat = " ".join(page.split())
    table = flat.split("The policy's rules check")[1]
    for fn in ("GOVERN", "MAP", "MEASURE", "MANAGE"):
        assert re.search(rf"{fn} \d+ of \d+", table), fn  # every function's row is on this page
    assert "MANAGE 1.1, 1.2" in table or "MANAGE 1.2" in table  # the last row's attestation list too


def test_no_token_splits_mid_word(report):
    text = "\n".join(report["pages"])
    tokens = [LONG_KIND, "metric_drop", "attestation", "documentation", "balanced_accuracy", "human attestation"]
    for token in tokens:
        for k in range(2, len(token) - 1):
            if token[k - 1] in "_. " or token[k] == " ":
                continue  # a break after _ or . (<wbr>) or at a space is allowed
            assert f"{token[:k]}\n{token[k:]}" not in text, f"{token} split as {token[:k]}|{token[k:]}"


def test_charts_colour_each_slice_by_the_rules_outcome_not_by_sign(report):
    ctx = build(report["evidence"], report["verdict"], None, None)
    (chart,) = ctx["slice_charts"]
    assert chart["rule_id"] == "SLICE-001" and chart["limit"] is not None
    assert chart["outcomes"].count("fail") == 1 and chart["outcomes"].count("thin") == 1
    svg = str(chart["svg"])
    worse_but_passing = [r for r in ctx["slices"][0]["rows"]
                         if r["metrics"]["accuracy"]["worse"] and not r["thin"]]
    assert len(worse_but_passing) > 1  # candidates worse than the baseline that the rule still passes
    fills = re.findall(r'fill="(#[0-9a-f]+)" data-outcome="(\w[\w ]*)"', svg)
    assert {o for _, o in fills} == {"pass", "fail", "thin"}
    for colour, outcome in fills:
        assert colour == charts.OUTCOME_COLOURS[outcome]
    assert svg.count('data-outcome="pass"') == len(chart["outcomes"]) - 2  # worse-but-passing slices are not red
    assert "stroke-dasharray" in svg  # the limit line


def test_calibration_hides_thin_bins_and_shows_counts(report):
    ctx = build(report["evidence"], report["verdict"], None, None)
    cal = report["evidence"].calibration.models["candidate"].reliability
    shown = [n for m, a, n in zip(cal.mean_confidence, cal.accuracy, cal.count)
             if m is not None and a is not None and n >= MIN_BIN_COUNT]
    svg = str(ctx["calibration"]["chart"])
    for n in shown:
        assert f"n={n}<" in svg


def test_hashes_are_shortened_at_one_width(report):
    shortened = re.findall(r"\b([0-9a-f]{6,64})…", report["html"])
    assert shortened and {len(h) for h in shortened} == {SHORT_HASH}


def test_table_of_contents_links_to_every_section(report):
    html = report["html"]
    toc = html.split('<nav class="toc">')[1].split("</nav>")[0]
    anchors = re.findall(r'href="#([\w-]+)"', toc)
    assert len(anchors) >= 8
    for anchor in anchors:
        assert f'id="{anchor}"' in html, anchor
