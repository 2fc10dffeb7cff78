"""CI views match the decision: a warn rule that fails is no red test in JUnit (junitparser reads it as skipped)
and no red cross in the job summary; on exit 2 ``--json`` still prints JSON and the job summary says why."""

from __future__ import annotations

import json
from pathlib import Path

from builders import OVERALL_B, OVERALL_C, TODAY, evidence, run
from junitparser import Error, Failure, JUnitXml, Skipped, TestSuite

from governance.engine import evaluate
from governance.gate import Outputs, Result
from governance.policy import parse_policy
from governance.render.job_summary import ICON, NOT_BLOCKING_ICON, JobSummary
from governance.render.junit import junit_xml, not_blocking_text

#: accuracy drops 0.015 (0.90 -> 0.885): a zero-tolerance block rule fails, so does its warn twin
RULES = [{"id": "B-1", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.0, "severity": "block"},
         {"id": "W-1", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.0, "severity": "warn"},
         {"id": "I-1", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.0, "severity": "info"},
         {"id": "P-1", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.5, "severity": "block"}]


def _verdict(rules):
    return evaluate(parse_policy({"name": "p", "rules": rules}, Path("p.yaml")), evidence(OVERALL_B, OVERALL_C),
                    TODAY)


def _suite(xml: bytes) -> TestSuite:
    parsed = JUnitXml.fromstring(xml.decode())
    return parsed if isinstance(parsed, TestSuite) else next(iter(parsed))


def _cases(xml: bytes) -> dict[str, list]:
    return {case.name: case.result for case in _suite(xml)}


def test_warn_and_info_failures_are_skipped_not_failed_in_junit():
    verdict = _verdict(RULES)
    xml = junit_xml(verdict)
    cases = _cases(xml)
    assert [type(r) for r in cases["B-1"]] == [Failure]
    for rid in ("W-1", "I-1"):
        (result,) = cases[rid]
        assert isinstance(result, Skipped) and not isinstance(result, (Failure, Error))
        finding = next(f for f in verdict.findings if f.rule_id == rid)
        assert result.message == not_blocking_text(finding) and result.message.startswith("fail (")
    assert cases["P-1"] == []  # passed
    suite = _suite(xml)
    assert (suite.failures, suite.errors, suite.skipped, suite.tests) == (1, 0, 2, 4)


def test_a_shipping_release_with_a_failed_warn_rule_shows_no_failed_test():
    verdict = _verdict(RULES[1:])  # only the warn/info rules fail: the release ships
    assert verdict.decision == "pass"
    suite = _suite(junit_xml(verdict))
    assert suite.failures == 0 and suite.errors == 0
    text = JobSummary().render(Result(evidence(OVERALL_B, OVERALL_C), verdict, Outputs(files={}, out=Path("o"))))
    assert ICON[verdict.findings[0].status] not in text and NOT_BLOCKING_ICON in text


def test_bad_input_still_prints_json_and_writes_the_job_summary(tmp_path, capsys, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    manifest = tmp_path / "release.yaml"
    manifest.write_text("name: x\nversion: 1\n")  # baseline, candidate, data, policy missing
    code, out, err = run(capsys, "check", manifest, "--out", tmp_path / "out", "--json")
    assert code == 2 and err.startswith("error: ")
    doc = json.loads(out)
    assert doc["exit_code"] == 2 and doc["decision"] is None
    assert doc["file"] == str(manifest) and doc["error"] in err
    written = summary.read_text()
    assert "stopped (exit 2)" in written and "bad input" in written and str(manifest) in written


def test_a_ci_log_gets_a_findings_list_that_fits_120_columns_without_split_words():
    from rich.console import Console

    from governance.render.console import LOG_WIDTH, ConsoleSummary

    verdict = _verdict(RULES)
    result = Result(evidence(OVERALL_B, OVERALL_C), verdict, Outputs(files={}, out=Path("o")))
    text = ConsoleSummary(console=Console(force_terminal=False, width=80)).render(result)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= LOG_WIDTH
    words = {w for f in verdict.findings for w in f.message.split()}
    assert all(w in words or not w.isalpha() for line in lines if line.startswith("    ") for w in line.split())
    assert lines[-1].startswith(result.decision_line) and "B-1  FAIL  [block]" in text
    assert len(lines) < 4 * len(verdict.findings) + 4  # a few lines per rule, not a folded table


def test_control_characters_from_the_data_leave_junit_well_formed():
    """A slice value read from a data file can hold any character; ElementTree writes \\x01 raw (not XML)."""
    import xml.etree.ElementTree as ET

    verdict = _verdict(RULES[:1])
    f = verdict.findings[0]
    odd = f.model_copy(update={"message": f.message + " slice group=a\x01b\x1b[31m, \ud800"})
    xml = junit_xml(verdict.model_copy(update={"findings": [odd]}))
    root = ET.fromstring(xml)
    failure = root.find("testcase/failure")
    assert failure is not None and "a\ufffdb\ufffd[31m, \ufffd" in failure.get("message", "")
    assert [type(r) for r in _cases(xml)["B-1"]] == [Failure]
