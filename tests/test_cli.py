"""The CLI contract: exit codes, outputs written atomically, one-line errors for bad input."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from builders import edit, run
from conftest import write_yaml

from governance.cli import main
from governance.evidence.collect import SAME_FILE_WARNING
from governance.yamlfile import UNKNOWN_KEY

OUTPUTS = {"evidence.json", "verdict.json", "junit.xml", "model_card.md", "model_card.html", "audit_report.html",
           "audit_report.pdf", "checksums.json", "governance.sarif", "bom.cdx.json", "monitoring.json"}


@pytest.fixture()
def rel(release_dir, tmp_path) -> Path:
    """A private copy of the release, safe to break."""
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    return d


def test_passing_release_exits_0_and_writes_every_output(rel, tmp_path, capsys):
    code, out, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 0, err
    assert {p.name for p in (tmp_path / "out").iterdir()} == OUTPUTS
    verdict = json.loads((tmp_path / "out" / "verdict.json").read_text())
    assert verdict["decision"] == "pass"
    assert {f["rule_id"] for f in verdict["findings"]} == {"PERF-001", "PERF-002", "FAIR-001", "FAIR-002"}
    for f in verdict["findings"]:
        assert set(f) >= {"rule_id", "kind", "status", "severity", "rmf", "observed", "threshold", "message"}
    evidence = json.loads((tmp_path / "out" / "evidence.json").read_text())
    assert set(evidence["models"]) == {"baseline", "candidate"}
    assert "accuracy" in evidence["models"]["candidate"]["overall"]
    assert set(evidence["models"]["candidate"]["slices"]) == {"group", "region", "group & region", "class"}
    assert "a & north" in evidence["models"]["candidate"]["slices"]["group & region"]
    assert len(evidence["inputs"]["data"]["sha256"]) == 64
    assert "PASS" in out


def test_blocked_release_exits_1_and_names_the_worst_slice(rel, tmp_path, capsys):
    code, out, _ = run(capsys, "check", rel / "release-harsh.yaml", "--out", tmp_path / "out")
    assert code == 1
    verdict = json.loads((tmp_path / "out" / "verdict.json").read_text())
    assert verdict["decision"] == "blocked"
    fair = next(f for f in verdict["findings"] if f["rule_id"] == "FAIR-001")
    assert fair["status"] == "fail" and "worst slice group=" in fair["message"]
    assert "BLOCKED by PERF-001" in out


def test_junit_has_one_testcase_per_rule_with_failures(rel, tmp_path, capsys):
    run(capsys, "check", rel / "release-harsh.yaml", "--out", tmp_path / "out")
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"PERF-001", "PERF-002", "FAIR-001", "FAIR-002"}
    assert cases["PERF-001"].find("failure") is not None
    assert cases["PERF-002"].find("failure") is None
    assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases.values())


def test_evaluate_redecides_from_saved_evidence(rel, tmp_path, capsys):
    run(capsys, "check", rel / "release-harsh.yaml", "--out", tmp_path / "a")
    policy = yaml.safe_load((rel / "policy.yaml").read_text())
    policy["rules"] = [r for r in policy["rules"] if r["id"] == "PERF-002"]  # only the rule that passes
    write_yaml(tmp_path / "lenient.yaml", policy)
    code, _, _ = run(capsys, "evaluate", "--evidence", tmp_path / "a" / "evidence.json",
                     "--policy", rel / "policy.yaml", "--out", tmp_path / "b")
    assert code == 1
    first = json.loads((tmp_path / "a" / "verdict.json").read_text())["findings"]
    again = json.loads((tmp_path / "b" / "verdict.json").read_text())["findings"]
    assert first == again
    code, _, _ = run(capsys, "evaluate", "--evidence", tmp_path / "a" / "evidence.json",
                     "--policy", tmp_path / "lenient.yaml", "--out", tmp_path / "c")
    assert code == 0


def test_same_file_as_baseline_and_candidate_is_warned_loudly(rel, tmp_path, capsys):
    edit(rel / "release.yaml", candidate={"path": "baseline.skops", "format": "skops"})
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 0
    assert SAME_FILE_WARNING in err
    assert json.loads((tmp_path / "out" / "evidence.json").read_text())["warnings"]


# --- bad input: one line naming file and field, exit 2, no traceback, nothing written --------------
def _bad(capsys, rel, tmp_path, *extra) -> str:
    out = tmp_path / "out"
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", out, *extra)
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists() or not any(out.iterdir())
    return err


def test_malformed_manifest_yaml(rel, tmp_path, capsys):
    (rel / "release.yaml").write_text("name: x\nbaseline: {path: [unclosed\n")
    err = _bad(capsys, rel, tmp_path)
    assert "release.yaml" in err and "malformed YAML" in err and "line" in err


def test_unknown_manifest_key_names_field_and_line(rel, tmp_path, capsys):
    edit(rel / "release.yaml", colour="blue")
    err = _bad(capsys, rel, tmp_path)
    assert "release.yaml" in err and "colour" in err and "unknown key" in err and "line" in err


def test_unknown_rule_kind(rel, tmp_path, capsys):
    policy = yaml.safe_load((rel / "policy.yaml").read_text())
    policy["rules"][1]["kind"] = "vibes_check"
    write_yaml(rel / "policy.yaml", policy)
    err = _bad(capsys, rel, tmp_path)
    assert "policy.yaml" in err and "rules[1] (PERF-002).kind" in err and "vibes_check" in err


def test_unknown_rule_key_and_bad_rmf_reference(rel, tmp_path, capsys):
    policy = yaml.safe_load((rel / "policy.yaml").read_text())
    policy["rules"][0]["max_dorp"] = 0.1
    write_yaml(rel / "policy.yaml", policy)
    err = _bad(capsys, rel, tmp_path)
    assert "rules[0] (PERF-001).max_dorp" in err and UNKNOWN_KEY.format(key="max_dorp") in err
    policy["rules"][0].pop("max_dorp")
    policy["rules"][0]["rmf"] = ["MEASURE 9.9"]
    write_yaml(rel / "policy.yaml", policy)
    err = _bad(capsys, rel, tmp_path)
    assert "rmf" in err and "MEASURE 9.9" in err


def test_policy_slicing_by_a_column_that_is_not_sensitive(rel, tmp_path, capsys):
    policy = yaml.safe_load((rel / "policy.yaml").read_text())
    policy["rules"][2]["by"] = ["zipcode"]
    write_yaml(rel / "policy.yaml", policy)
    err = _bad(capsys, rel, tmp_path)
    assert "policy.yaml" in err and "FAIR-001" in err and "zipcode" in err


def test_missing_column(rel, tmp_path, capsys):
    edit(rel / "release.yaml", data={"path": "eval.csv", "target": "label", "sensitive": ["group", "gender"]})
    err = _bad(capsys, rel, tmp_path)
    assert "release.yaml" in err and "data.sensitive" in err and "gender" in err


def test_missing_file(rel, tmp_path, capsys):
    (rel / "pruned.skops").unlink()
    err = _bad(capsys, rel, tmp_path)
    assert "candidate.path" in err and "not found" in err


def test_untrusted_skops_type(rel, tmp_path, capsys):
    import skops.io as sio
    from sklearn.tree import DecisionTreeClassifier

    df = pd.read_csv(rel / "eval.csv")
    tree = DecisionTreeClassifier(max_depth=3).fit(df[["x0", "x1", "x2", "x3"]], df["label"])
    sio.dump(tree, rel / "pruned.skops")
    err = _bad(capsys, rel, tmp_path)
    assert "candidate.trusted_types" in err and "sklearn.tree._tree.Tree" in err


def test_pickle_needs_trust(rel, tmp_path, capsys):
    import pickle

    import skops.io as sio

    model = sio.load(rel / "pruned.skops")
    (rel / "pruned.pkl").write_bytes(pickle.dumps(model))
    edit(rel / "release.yaml", candidate={"path": "pruned.pkl", "format": "pickle"})
    err = _bad(capsys, rel, tmp_path)
    assert "candidate.format" in err and "--trust-pickle" in err
    code, _, _ = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "trusted", "--trust-pickle")
    assert code == 0


def test_pickle_posing_as_skops(rel, tmp_path, capsys):
    import pickle

    (rel / "pruned.skops").write_bytes(pickle.dumps({"not": "a model"}))
    err = _bad(capsys, rel, tmp_path)
    assert "pruned.skops" in err and "skops" in err


def test_nan_scores(rel, tmp_path, capsys):
    n = len(pd.read_csv(rel / "eval.csv"))
    scores = np.full(n, 0.7)
    scores[123] = np.nan
    pd.DataFrame({"score": scores}).to_csv(rel / "scores.csv", index=False)
    edit(rel / "release.yaml", candidate={"path": "scores.csv", "format": "predictions"})
    err = _bad(capsys, rel, tmp_path)
    assert "scores.csv" in err and ("NaN" in err or "missing" in err)


def test_target_value_the_models_never_predict(rel, tmp_path, capsys):
    df = pd.read_csv(rel / "eval.csv")
    df.loc[10, "label"] = 7
    df.to_csv(rel / "eval.csv", index=False)
    err = _bad(capsys, rel, tmp_path)
    assert "eval.csv" in err and "label" in err and "'7'" in err and "row 11" in err


def test_empty_slice_data_has_no_rows(rel, tmp_path, capsys):
    (rel / "eval.csv").write_text("x0,x1,x2,x3,group,region,label\n")
    err = _bad(capsys, rel, tmp_path)
    assert "eval.csv" in err and "no rows" in err


def test_internal_error_exits_3_without_traceback(rel, tmp_path, capsys, monkeypatch):
    import governance.engine

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(governance.engine, "evaluate", boom)
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 3 and "kaboom" in err and "Traceback" not in err and "--debug" in err
    code, _, err = run(capsys, "--debug", "check", rel / "release.yaml", "--out", tmp_path / "out")
    assert code == 3 and "Traceback" in err


def test_policy_lint_and_explain(rel, capsys):
    code, out, _ = run(capsys, "policy", "lint", rel / "policy.yaml")
    assert code == 0 and "ok (4 rules)" in out
    code, out, _ = run(capsys, "policy", "explain", rel / "policy.yaml")
    assert code == 0 and "MEASURE 2.3" in out and "human attestation" in out
    code, out, _ = run(capsys, "policy", "lint", "builtin:nist-ai-rmf")
    assert code == 0


def test_schema_command_prints_json_schema(capsys):
    code, out, _ = run(capsys, "schema", "evidence")
    schema = json.loads(out)
    assert code == 0 and "models" in schema["properties"]


def test_sarif_lists_each_finding_at_its_rule_in_the_policy(rel, tmp_path, capsys, monkeypatch):
    from sarif_pydantic import Sarif

    monkeypatch.chdir(rel)
    run(capsys, "check", rel / "release-harsh.yaml", "--out", tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "governance.sarif").read_text())
    Sarif.model_validate(doc)
    assert doc["version"] == "2.1.0"
    results = {r["ruleId"]: r for r in doc["runs"][0]["results"]}
    assert set(results) == {"PERF-001", "FAIR-001"}  # passing rules are not results (not alerts)
    assert results["PERF-001"]["kind"] == "fail" and results["PERF-001"]["level"] == "error"
    assert doc["runs"][0]["invocations"][0]["properties"]["passed"] == ["PERF-002", "FAIR-002"]
    policy_lines = (rel / "policy.yaml").read_text().splitlines()
    for rule_id, result in results.items():
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == "policy.yaml"
        assert rule_id in policy_lines[loc["region"]["startLine"] - 1]


def test_json_summary_and_github_step_summary(rel, tmp_path, capsys, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = run(capsys, "check", rel / "release-harsh.yaml", "--out", tmp_path / "out", "--json")
    data = json.loads(out)
    assert code == 1 == data["exit_code"] and data["decision"] == "blocked" and "PERF-001" in data["blocking"]
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "**BLOCKED** by PERF-001" in text and "| FAIR-002 |" in text


def test_every_command_has_help_with_an_example(capsys):
    import argparse

    from governance.cli import build_parser

    def walk(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, path + [name])
        yield path, parser

    for path, parser in walk(build_parser(), []):
        if path:
            assert parser.epilog and "example:" in parser.epilog and "governance" in parser.epilog, path
    code, out, _ = run(capsys, "--version")
    assert code == 0 and "pruning-governance" in out


@pytest.mark.parametrize("text", ["20260601", "2026-W22-1", "2026-6-1", "2026-02-30", "yesterday"])
def test_today_takes_yyyy_mm_dd_only(rel, tmp_path, capsys, text):
    """Python 3.11 reads 20260601 and week dates too: a mistyped --today would silently date the verdict."""
    code = main(["check", str(rel / "release.yaml"), "--out", str(tmp_path / "o"), "--today", text])
    assert code == 2 and "not a date (YYYY-MM-DD)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
