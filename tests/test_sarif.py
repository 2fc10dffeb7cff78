"""governance.sarif for code scanning: valid SARIF 2.1.0 (the OASIS schema), locations relative to the repository
(an inherited pack rule at the extends: line that pulled it in), stable fingerprints, and only what needs a look
as results (passing rules are listed in the invocation)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from builders import make_release, write_yaml

from governance.gate import CheckOptions, DecisionOptions, check, evaluate
from governance.policy import load_policy

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-2.1.0-rtm.5.json").read_text())
TEAM_RULE = {"id": "TEAM-001", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.0, "severity": "block",
             "rmf": ["MEASURE 2.3"]}


def _sarif(result) -> dict:
    doc = json.loads(result.outputs.files["governance.sarif"])
    jsonschema.validate(doc, SCHEMA)  # raises with the failing path when the document is not SARIF 2.1.0
    return doc


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)  # what marks a git top level
    return repo


def _team_policy(folder: Path, extends: str = "builtin:nist-ai-rmf") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_yaml(folder / "team.yaml", {"name": "team", "extends": extends, "rules": [TEAM_RULE]})


def _locations(doc: dict) -> dict[str, dict]:
    out = {}
    for r in doc["runs"][0]["results"]:
        loc = r["locations"][0]["physicalLocation"]
        out[r["ruleId"]] = {"uri": loc["artifactLocation"]["uri"], "line": loc["region"]["startLine"],
                            "inherited_from": r["properties"].get("inherited_from")}
    return out


def test_inherited_pack_rules_sit_at_the_extends_line_of_the_repositorys_policy(noise_evidence, tmp_path):
    repo = _repo(tmp_path)
    policy = _team_policy(repo / "governance")
    result = evaluate(noise_evidence, policy)  # default root: the policy's git top level
    doc = _sarif(result)
    locations = _locations(doc)
    lines = policy.read_text().splitlines()
    extends_line = next(i for i, line in enumerate(lines, 1) if line.startswith("extends:"))
    assert locations, "a failing evaluation reports results"
    for rule_id, where in locations.items():
        assert where["uri"] == "governance/team.yaml", where  # relative to the repository, never a machine path
        if rule_id == "TEAM-001":
            assert "TEAM-001" in lines[where["line"] - 1] and where["inherited_from"] is None
        else:
            assert where["line"] == extends_line and where["inherited_from"] == "builtin:nist-ai-rmf"
    text = json.dumps(doc)
    assert "site-packages" not in text and "file://" not in text and str(tmp_path) not in text


def test_only_rules_that_need_a_look_are_results_and_fingerprints_are_stable(noise_evidence, tmp_path):
    policy = _team_policy(_repo(tmp_path) / "p")
    first, second = (_sarif(evaluate(noise_evidence, policy)) for _ in range(2))
    statuses = {f.rule_id: f.status.value for f in evaluate(noise_evidence, policy).verdict.findings}
    results = first["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {rid for rid, s in statuses.items() if s != "pass"}
    assert first["runs"][0]["invocations"][0]["properties"]["passed"] == [
        rid for rid, s in statuses.items() if s == "pass"]
    prints = [r["partialFingerprints"]["governanceFinding/v1"] for r in results]
    assert len(set(prints)) == len(prints)  # one per rule
    assert prints == [r["partialFingerprints"]["governanceFinding/v1"] for r in second["runs"][0]["results"]]


def test_a_chain_of_extends_places_pack_rules_at_the_last_line_inside_the_repository(noise_evidence, tmp_path):
    repo = _repo(tmp_path)
    org = write_yaml(repo / "org.yaml", {"name": "org", "extends": "builtin:nist-ai-rmf", "rules": []})
    team = _team_policy(repo / "teams" / "a", extends="../../org.yaml")
    assert load_policy(team).rules  # the chain resolves
    where = _locations(_sarif(evaluate(noise_evidence, team)))
    inherited = {rid: w for rid, w in where.items() if rid != "TEAM-001"}
    assert inherited and all(w["uri"] == "org.yaml" and w["line"] == 2 for w in inherited.values()), inherited
    assert org.read_text().splitlines()[1].startswith("extends:")


def test_sarif_root_option_and_no_repository(noise_evidence, tmp_path):
    policy = _team_policy(tmp_path / "plain" / "policies")  # no .git anywhere above: relative to the policy's folder
    assert {w["uri"] for w in _locations(_sarif(evaluate(noise_evidence, policy))).values()} == {"team.yaml"}
    root = tmp_path / "plain"
    options = DecisionOptions(sarif_root=root)
    assert {w["uri"] for w in _locations(_sarif(evaluate(noise_evidence, policy, options=options))).values()} == {
        "policies/team.yaml"}
    elsewhere = DecisionOptions(sarif_root=tmp_path / "unrelated")  # the policy is not under it: no location at all
    doc = _sarif(evaluate(noise_evidence, policy, options=elsewhere))
    assert all("locations" not in r for r in doc["runs"][0]["results"])


def test_a_builtin_policy_named_by_the_manifest_is_located_at_its_policy_line(release_dir, tmp_path):
    repo = _repo(tmp_path)
    manifest = make_release(release_dir, repo, policy="builtin:nist-ai-rmf")
    result = check(manifest, options=CheckOptions())
    where = _locations(_sarif(result))
    line = next(i for i, text in enumerate(manifest.read_text().splitlines(), 1) if text.startswith("policy:"))
    assert where and {(w["uri"], w["line"], w["inherited_from"]) for w in where.values()} == {
        ("rel/release.yaml", line, "builtin:nist-ai-rmf")}


@pytest.mark.parametrize("bad", ["/etc/passwd", "C:\\\\build\\\\policy.yaml", "../outside.yaml"])
def test_a_machine_path_in_an_old_verdict_is_never_published(noise_evidence, tmp_path, bad):
    from governance.render.sarif import sarif

    verdict = evaluate(noise_evidence, _team_policy(_repo(tmp_path) / "p")).verdict
    policy = {**verdict.policy, "locations": {f.rule_id: {"file": bad, "line": 3} for f in verdict.findings}}
    doc = json.loads(sarif(verdict.model_copy(update={"policy": policy})))
    jsonschema.validate(doc, SCHEMA)
    assert all("locations" not in r for r in doc["runs"][0]["results"])
