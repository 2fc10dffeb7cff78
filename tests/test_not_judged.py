"""Fail closed on what was not judged: each rule's ``on_inconclusive`` stance, the verdict's ``not_judged``
list and the one-line decision in every output, and thin slices that are named instead of passed.
Each stance has a failing case and a passing twin."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml
from builders import OVERALL_B, OVERALL_C, evidence, rates
from conftest import write_yaml

from governance.cli import main
from governance.engine import evaluate
from governance.errors import InputError
from governance.evidence.schema import Comparison, Comparisons, Interval
from governance.findings import ExitCode, Status, decision_line, exit_code
from governance.policy import Waiver, parse_policy
from governance.render import RenderContext
from governance.render.documents import audit_report_html
from governance.render.junit import junit_xml
from governance.render.sample import sample_evidence
from governance.render.sarif import sarif
from governance.rules.performance import THIN_HURT

TODAY = date(2026, 11, 25)
DROP = {"id": "R-1", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.02, "severity": "block"}
THIN = evidence({**OVERALL_B, "count": 10}, {**OVERALL_C, "count": 10})  # 10 rows: under the minimum of 30
ENOUGH = evidence(OVERALL_B, OVERALL_C)  # 1000 rows, accuracy drop 0.015: within 0.02


def verdict(rules: list[dict], ev, defaults: dict | None = None, waivers=()):
    policy = parse_policy({"name": "p", "defaults": defaults or {"min_slice_size": 30}, "rules": rules},
                          path=Path(__file__))
    return evaluate(policy, ev, TODAY, waivers)


# --- the stance, through the pure engine ---------------------------------------------------------------
def test_block_stance_blocks_an_inconclusive_rule_and_its_judged_twin_passes():
    v = verdict([{**DROP, "on_inconclusive": "block"}], THIN)
    f = v.findings[0]
    assert f.status == Status.INCONCLUSIVE and f.on_inconclusive == "block" and f.blocks
    assert v.decision == "blocked" and exit_code(v) == ExitCode.BLOCKED
    assert [(n.rule_id, n.status, n.on_inconclusive, n.blocks) for n in v.not_judged] == \
        [("R-1", Status.INCONCLUSIVE, "block", True)]
    assert "only 10 rows" in v.not_judged[0].reason
    assert decision_line(v).startswith("BLOCKED by R-1; 1 block rule not judged: R-1 (only 10 rows")
    twin = verdict([{**DROP, "on_inconclusive": "block"}], ENOUGH)
    assert twin.decision == "pass" and twin.not_judged == [] and decision_line(twin) == "PASS: the candidate may ship"


def test_warn_stance_reports_not_judged_without_blocking_and_its_failing_twin_blocks():
    v = verdict([{**DROP, "on_inconclusive": "warn"}], THIN)
    assert v.decision == "pass" and not v.findings[0].blocks
    assert [(n.rule_id, n.on_inconclusive, n.blocks) for n in v.not_judged] == [("R-1", "warn", False)]
    assert decision_line(v).startswith("PASS, but 1 block rule was not judged: R-1 (only 10 rows")
    # the stance covers only "not judged": a judged failure still blocks
    failing = verdict([{**DROP, "max_drop": 0.01, "on_inconclusive": "warn"}], ENOUGH)
    assert failing.decision == "blocked" and failing.not_judged == []


def test_pass_stance_accepts_but_still_lists_and_an_error_blocks_regardless():
    v = verdict([{**DROP, "on_inconclusive": "pass"}], THIN)
    assert v.decision == "pass" and v.not_judged[0].on_inconclusive == "pass"
    assert "not judged" in decision_line(v)
    # a rule that cannot be applied (a column the evidence has no slices for) is an error: it blocks
    broken = verdict([{"id": "S-1", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["zip"],
                       "max_drop": 0.1, "on_inconclusive": "pass"}], ENOUGH)
    assert broken.decision == "blocked"
    assert [(n.rule_id, n.status, n.blocks) for n in broken.not_judged] == [("S-1", Status.ERROR, True)]


def test_policy_default_is_block_and_a_rule_overrides_it():
    assert verdict([DROP], THIN, defaults={"min_slice_size": 30}).decision == "blocked"  # no stance given: block
    relaxed = {"min_slice_size": 30, "on_inconclusive": "warn"}
    assert verdict([DROP], THIN, defaults=relaxed).decision == "pass"
    assert verdict([{**DROP, "on_inconclusive": "block"}], THIN, defaults=relaxed).decision == "blocked"


def test_only_block_severity_rules_block_or_count_as_not_judged():
    v = verdict([{**DROP, "severity": "warn", "on_inconclusive": "block"}], THIN)
    assert v.findings[0].status == Status.INCONCLUSIVE and v.findings[0].on_inconclusive == "block"
    assert v.decision == "pass" and v.not_judged == [] and decision_line(v) == "PASS: the candidate may ship"


def test_a_waiver_covers_a_blocking_inconclusive_and_the_verdict_still_says_it_was_not_judged():
    waiver = Waiver(rule="R-1", reason="re-run on the full set next week", approved_by="Jane Roe (risk)",
                    expires=date(2026, 12, 31))
    v = verdict([DROP], THIN, waivers=[waiver])
    assert v.decision == "pass" and v.findings[0].status == Status.WAIVED
    assert v.findings[0].details["waived_status"] == "inconclusive"
    assert [(n.rule_id, n.status, n.blocks) for n in v.not_judged] == [("R-1", Status.WAIVED, False)]
    expired = Waiver(rule="R-1", reason="old", approved_by="Jane Roe (risk)", expires=date(2026, 1, 1))
    assert verdict([DROP], THIN, waivers=[expired]).decision == "blocked"


def test_an_unknown_stance_is_bad_input():
    with pytest.raises(InputError, match="on_inconclusive"):
        verdict([{**DROP, "on_inconclusive": "maybe"}], THIN)
    with pytest.raises(InputError, match="on_inconclusive"):
        verdict([DROP], THIN, defaults={"on_inconclusive": "ignore"})


# --- thin slices are named, and a badly hurt one is never a pass ---------------------------------------
SLICES_B = {"g": {"a": rates(500, 0.90), "b": rates(300, 0.88), "c": rates(20, 0.95), "d": rates(12, 0.90)}}
HURT = {"g": {"a": rates(500, 0.89), "b": rates(300, 0.87), "c": rates(20, 0.50), "d": rates(12, 0.80)}}
UNHURT = {"g": {**HURT["g"], "c": rates(20, 0.94), "d": rates(12, 0.90)}}
SLICE = {"id": "S-1", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["g"], "max_drop": 0.05,
         "severity": "block"}


def test_a_thin_slice_that_lost_more_than_the_limit_makes_the_rule_inconclusive_and_is_named():
    v = verdict([SLICE], evidence(OVERALL_B, OVERALL_C, SLICES_B, HURT))
    f = v.findings[0]
    assert f.status == Status.INCONCLUSIVE and f.blocks and v.decision == "blocked"
    assert [(t["slice"], t["count"]) for t in f.details["thin_slices"]] == [("g=c", 20), ("g=d", 12)]  # worst first
    worst = f.details["thin_slices"][0]
    assert (worst["baseline"], worst["candidate"]) == (0.95, 0.50) and worst["drop"] == pytest.approx(0.45)
    named = THIN_HURT.format(slice="g=c", count=20, metric="accuracy", moved="worsened by 0.4500", interval="",
                             minimum=30)
    assert f.message.startswith(named) and "2 slice(s) tested" in f.message
    line = decision_line(v)
    assert "g=c (only" not in line
    assert line.startswith("BLOCKED by S-1; 1 block rule not judged: S-1 (thin slice g=c (n=20)")


def test_thin_slices_within_the_limit_are_listed_and_the_rule_passes():
    f = verdict([SLICE], evidence(OVERALL_B, OVERALL_C, SLICES_B, UNHURT)).findings[0]
    assert f.status == Status.PASS and "thin slice" not in f.message
    assert {t["slice"] for t in f.details["thin_slices"]} == {"g=c", "g=d"}
    assert "g=d n=12" in f.message  # the skipped slices are named, not only counted


def test_a_judged_failure_still_fails_when_a_thin_slice_is_hurt_too():
    failing = {"g": {**HURT["g"], "b": rates(300, 0.70)}}
    f = verdict([SLICE], evidence(OVERALL_B, OVERALL_C, SLICES_B, failing)).findings[0]
    assert f.status == Status.FAIL and f.details["failing_slices"] == ["g=b"] and "thin slice g=c" in f.message


def _with_drop_intervals(ev, intervals: dict[str, tuple[float, float]]):
    """The evidence with paired intervals of candidate - baseline accuracy for the slices of g."""
    def comp(value: str) -> Comparison:
        b = ev.models["baseline"].slices["g"][value]["accuracy"]
        c = ev.models["candidate"].slices["g"][value]["accuracy"]
        low, high = intervals.get(value, (c - b, c - b))
        return Comparison(baseline=b, candidate=c, difference=c - b, difference_ci=Interval(ci_low=low, ci_high=high))
    slices = {"g": {v: {"accuracy": comp(v)} for v in ev.models["baseline"].slices["g"]}}
    return ev.model_copy(update={"comparisons": Comparisons(method="test", resamples=200, seed=0, confidence=0.95,
                                                            overall={}, slices=slices)})


def test_a_thin_drop_indistinguishable_from_no_change_is_listed_but_a_clear_one_is_not_passed():
    # d (n=12) lost 0.10, but its paired interval reaches 0 (one changed row): noise, so the rule passes
    noisy = _with_drop_intervals(evidence(OVERALL_B, OVERALL_C, SLICES_B, {"g": {**UNHURT["g"], "d": rates(12, 0.80)}}),
                                 {"d": (-0.35, 0.0)})
    f = verdict([SLICE], noisy).findings[0]
    assert f.status == Status.PASS and f.details["thin_slices"][0]["slice"] == "g=d"
    assert (f.details["thin_slices"][0]["drop_ci_low"], f.details["thin_slices"][0]["drop_ci_high"]) == (0.0, 0.35)
    # c (n=20) lost 0.45 and its interval excludes no change: not judged, named with the interval
    clear = _with_drop_intervals(evidence(OVERALL_B, OVERALL_C, SLICES_B, HURT),
                                 {"c": (-0.65, -0.25), "d": (-0.35, 0.0)})
    f = verdict([SLICE], clear).findings[0]
    assert f.status == Status.INCONCLUSIVE
    assert f.message.startswith("thin slice g=c (n=20): accuracy worsened by 0.4500, drop interval [0.2500, 0.6500]")


def test_when_every_slice_is_thin_the_hurt_one_leads_the_message():
    f = verdict([{**SLICE, "min_slice_size": 1000}], evidence(OVERALL_B, OVERALL_C, SLICES_B, HURT)).findings[0]
    assert f.status == Status.INCONCLUSIVE and f.message.startswith("thin slice g=c (n=20)")
    assert f.observed == pytest.approx(0.45)


# --- renderers ------------------------------------------------------------------------------------------
def test_junit_makes_a_blocking_inconclusive_a_failure_and_a_warned_one_skipped():
    rules = [DROP, {**DROP, "id": "W-1", "on_inconclusive": "warn"}]
    suite = ET.fromstring(junit_xml(verdict(rules, THIN)))
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    failure = cases["R-1"].find("failure")
    assert failure is not None and failure.get("type") == "inconclusive"
    assert failure.get("message").startswith("not judged (on_inconclusive: block, blocks the release)")
    skipped = cases["W-1"].find("skipped")
    assert skipped is not None and cases["W-1"].find("failure") is None
    assert skipped.get("message").startswith("not judged (on_inconclusive: warn, does not block)")
    assert (suite.get("failures"), suite.get("skipped")) == ("1", "1")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["not_judged"] == "2" and props["decision_line"].startswith("BLOCKED by R-1; 2 block rules")


def test_sarif_levels_follow_the_stance():
    rules = [DROP, {**DROP, "id": "W-1", "on_inconclusive": "warn"}, {**DROP, "id": "A-1", "on_inconclusive": "pass"}]
    run = json.loads(sarif(verdict(rules, THIN)))["runs"][0]
    got = {r["ruleId"]: (r["kind"], r["level"]) for r in run["results"]}
    # an accepted not-judged rule (on_inconclusive: pass) is no alert: it is listed in the invocation instead
    assert got == {"R-1": ("fail", "error"), "W-1": ("fail", "warning")}
    assert run["invocations"][0]["properties"]["not_judged_accepted"] == ["A-1"]
    assert all(r["message"]["text"].startswith("not judged") for r in run["results"])
    assert [n["rule_id"] for n in run["properties"]["not_judged"]] == ["R-1", "W-1", "A-1"]
    judged = json.loads(sarif(verdict(rules, ENOUGH)))["runs"][0]
    assert judged["results"] == [] and judged["properties"]["not_judged"] == []
    assert judged["invocations"][0]["properties"]["passed"] == ["R-1", "W-1", "A-1"]


PAGE_ONE_END = '<h2 id="rules">'  # page 1 of the report: decision, blocking rules, facts, contents


def test_audit_report_page_one_states_how_many_block_rules_were_not_judged():
    ev = sample_evidence(slices=3)
    rules = [DROP, {**DROP, "id": "W-1", "on_inconclusive": "warn"}]
    page1 = audit_report_html(RenderContext(ev, verdict(rules, ev, defaults={"min_slice_size": 10 ** 6})))
    page1 = page1.decode().split(PAGE_ONE_END)[0]
    assert "2 block rules were not judged" in page1
    assert "W-1</b> (inconclusive; on_inconclusive: warn, does not block)" in page1
    judged = audit_report_html(RenderContext(ev, verdict(rules, ev, defaults={"min_slice_size": 1}))).decode()
    assert "not judged" not in judged.split(PAGE_ONE_END)[0]
    assert "Every block rule was judged on the evidence." in judged


# --- end to end: a 5-row evaluation set is not a pass --------------------------------------------------
@pytest.fixture()
def tiny(release_dir, tmp_path) -> Path:
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    pd.read_csv(d / "eval.csv").head(5).to_csv(d / "eval.csv", index=False)
    return d


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_five_evaluation_rows_block_with_the_not_judged_line(tiny, tmp_path, capsys, monkeypatch):
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, err = run(capsys, "check", tiny / "release.yaml", "--out", tmp_path / "out", "--json")
    assert code == 1, err
    data = json.loads(out)
    assert data["decision"] == "blocked" and data["exit_code"] == 1
    ids = {n["rule_id"] for n in data["not_judged"]}
    assert {"PERF-001", "PERF-002", "FAIR-001"} <= ids and set(data["blocking"]) >= {"PERF-001", "PERF-002"}
    assert all(n["on_inconclusive"] == "block" and n["blocks"] for n in data["not_judged"])
    assert data["line"].startswith("BLOCKED by ") and "block rules not judged: PERF-001 (only 5 rows" in data["line"]
    verdict_json = json.loads((tmp_path / "out" / "verdict.json").read_text())
    assert [n["rule_id"] for n in verdict_json["not_judged"]] == [n["rule_id"] for n in data["not_judged"]]
    assert "not judged" in summary.read_text() and "PERF-001: not judged (inconclusive; blocks)" in summary.read_text()
    # --quiet prints the same line, on one line
    code, out, _ = run(capsys, "check", tiny / "release.yaml", "--out", tmp_path / "out2", "--quiet")
    assert code == 1 and out.count("\n") == 1 and "block rules not judged: PERF-001 (only 5 rows" in out


def test_five_rows_under_a_warn_stance_pass_but_say_what_was_not_judged(tiny, tmp_path, capsys):
    policy = yaml.safe_load((tiny / "policy.yaml").read_text())
    write_yaml(tiny / "policy.yaml", {**policy, "defaults": {**policy["defaults"], "on_inconclusive": "warn"}})
    code, out, err = run(capsys, "check", tiny / "release.yaml", "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    assert out.startswith("PASS, but ") and "block rules were not judged: PERF-001 (only 5 rows" in out


def test_fairness_names_the_groups_it_left_out_with_their_rates():
    base = {"g": {"a": rates(500, 0.9, tpr=0.80, fpr=0.10), "b": rates(300, 0.9, tpr=0.75, fpr=0.12),
                  "c": rates(15, 0.9, tpr=0.70, fpr=0.10)}}
    cand = {"g": {**base["g"], "c": rates(15, 0.9, tpr=0.20, fpr=0.10)}}
    rule = {"id": "F-1", "kind": "fairness_gap", "metric": "equalized_odds_difference", "by": ["g"],
            "max_increase": 0.05, "severity": "block"}
    f = verdict([rule], evidence(OVERALL_B, OVERALL_C, base, cand)).findings[0]
    assert f.status == Status.PASS and "g=c n=15" in f.message
    assert f.details["thin_slices"] == [{"slice": "g=c", "count": 15, "baseline": 0.70, "candidate": 0.20,
                                         "drop": None}]
