"""Waivers, policy inheritance, human sign-off and the tamper-evident trail, through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from builders import run
from conftest import write_yaml

from governance.hashing import sha256_file
from governance.trail import OUTPUT_CHANGED, SIGNATURE_MISMATCH


@pytest.fixture()
def rel(release_dir, tmp_path) -> Path:
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    return d


def _verdict(out: Path) -> dict:
    return json.loads((out / "verdict.json").read_text())


def _finding(out: Path, rule: str) -> dict:
    return next(f for f in _verdict(out)["findings"] if f["rule_id"] == rule)


WAIVER = {"rule": "PERF-001", "reason": "accepted for the Q4 cost target", "approved_by": "Jane Roe (risk)",
          "expires": "2026-12-31"}


def test_active_waiver_turns_a_failure_into_waived_and_ships(rel, tmp_path, capsys):
    policy = yaml.safe_load((rel / "policy.yaml").read_text())
    policy["rules"] = [r for r in policy["rules"] if r["id"] in ("PERF-001", "PERF-002")]
    policy["waivers"] = [WAIVER]
    write_yaml(rel / "policy.yaml", policy)
    code, _, _ = run(capsys, "check", rel / "release-harsh.yaml", "--out", tmp_path / "a", "--today", "2026-11-25")
    assert code == 0
    f = _finding(tmp_path / "a", "PERF-001")
    assert f["status"] == "waived" and "Jane Roe" in f["message"] and f["details"]["waived_status"] == "fail"
    assert _verdict(tmp_path / "a")["waivers"][0]["state"] == "applied"
    # the same waiver, a day after it expired: ignored and reported, the release is blocked again
    code, _, _ = run(capsys, "check", rel / "release-harsh.yaml", "--out", tmp_path / "b", "--today", "2027-01-01")
    assert code == 1
    assert _finding(tmp_path / "b", "PERF-001")["status"] == "fail"
    assert _finding(tmp_path / "b", "PERF-001")["details"]["expired_waiver"]["state"] == "expired"
    assert _verdict(tmp_path / "b")["waivers"][0]["state"] == "expired"


def test_scoped_waiver_covers_only_its_slices(rel, tmp_path, capsys):
    run(capsys, "check", rel / "release-harsh.yaml", "--out", tmp_path / "x")
    failing = _finding(tmp_path / "x", "FAIR-001")["details"]["failing_slices"]
    assert failing
    waivers = {"waivers": [{**WAIVER, "rule": "FAIR-001", "scope": failing[:1]}]}
    write_yaml(rel / "waivers.yaml", waivers)
    run(capsys, "evaluate", "--evidence", tmp_path / "x" / "evidence.json", "--policy", rel / "policy.yaml",
        "--waivers", rel / "waivers.yaml", "--today", "2026-11-25", "--out", tmp_path / "y")
    expected = "waived" if len(failing) == 1 else "fail"
    assert _finding(tmp_path / "y", "FAIR-001")["status"] == expected
    write_yaml(rel / "waivers.yaml", {"waivers": [{**WAIVER, "rule": "FAIR-001", "scope": failing}]})
    run(capsys, "evaluate", "--evidence", tmp_path / "x" / "evidence.json", "--policy", rel / "policy.yaml",
        "--waivers", rel / "waivers.yaml", "--today", "2026-11-25", "--out", tmp_path / "z")
    assert _finding(tmp_path / "z", "FAIR-001")["status"] == "waived"


def test_waiver_naming_an_unknown_rule_is_a_lint_error(rel, tmp_path, capsys):
    policy = yaml.safe_load((rel / "policy.yaml").read_text())
    policy["waivers"] = [{**WAIVER, "rule": "PERF-999"}]
    write_yaml(rel / "policy.yaml", policy)
    code, _, err = run(capsys, "policy", "lint", rel / "policy.yaml")
    assert code == 2 and "PERF-999" in err and "policy.yaml" in err
    write_yaml(rel / "waivers.yaml", {"waivers": [{**WAIVER, "rule": "NOPE-1"}]})
    policy["waivers"] = []
    write_yaml(rel / "policy.yaml", policy)
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "o",
                       "--waivers", rel / "waivers.yaml")
    assert code == 2 and "waivers.yaml" in err and "waivers[0].rule" in err and "NOPE-1" in err
    assert not (tmp_path / "o").exists()


def test_waiver_without_expiry_is_rejected(rel, capsys):
    policy = yaml.safe_load((rel / "policy.yaml").read_text())
    policy["waivers"] = [{k: v for k, v in WAIVER.items() if k != "expires"}]
    write_yaml(rel / "policy.yaml", policy)
    code, _, err = run(capsys, "policy", "lint", rel / "policy.yaml")
    assert code == 2 and "expires" in err


def test_extends_replaces_by_id_adds_and_disables(rel, tmp_path, capsys):
    write_yaml(rel / "team.yaml", {
        "name": "team", "extends": "policy.yaml", "disable": ["FAIR-002"],
        "rules": [{"id": "PERF-001", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.5},
                  {"id": "TEAM-1", "kind": "metric_floor", "metric": "accuracy", "min": 0.1}]})
    from governance.policy import load_policy

    policy = load_policy(rel / "team.yaml")
    assert [r.id for r in policy.rules] == ["PERF-001", "PERF-002", "FAIR-001", "TEAM-1"]
    assert policy.rules[0].max_drop == 0.5 and policy.name == "team"
    write_yaml(rel / "loop.yaml", {"name": "loop", "extends": "loop.yaml", "rules": []})
    code, _, err = run(capsys, "policy", "lint", rel / "loop.yaml")
    assert code == 2 and "loop" in err
    write_yaml(rel / "nist-team.yaml", {"name": "t", "extends": "builtin:nist-ai-rmf", "rules": []})
    assert load_policy(rel / "nist-team.yaml").rules


@pytest.mark.parametrize("child,field,message", [
    # the second P1 silently replaced the first (a dict keyed by id): a strict block rule became info and passed
    ({"rules": [{"id": "PERF-001", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.0},
                {"id": "PERF-001", "kind": "metric_drop", "metric": "accuracy", "max_drop": 0.9, "severity": "info"}]},
     "rules[1] (PERF-001).id", "rule id 'PERF-001' is used twice"),
    ({"rules": [None]}, "rules[0]", "expected a mapping (one rule), found NoneType"),
    ({"rules": [], "waivers": 5}, "waivers", "must be a list"),
    ({"rules": [], "extends": ""}, "extends", "must be a policy path or builtin:NAME"),
])
def test_a_child_policy_that_the_merge_would_collapse_or_drop_is_refused(rel, capsys, child, field, message):
    write_yaml(rel / "team.yaml", {"name": "team", "extends": "policy.yaml", **child})
    code, _, err = run(capsys, "policy", "lint", rel / "team.yaml")
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "team.yaml" in err and field in err and message in err


def test_keygen_never_replaces_a_key_and_creates_the_private_one_0600(tmp_path, capsys, monkeypatch):
    import os
    import stat

    from governance.trail import KEY_EXISTS, KEY_NAMED_PUBLIC

    key = tmp_path / "keys" / "k.pem"
    monkeypatch.setattr(os, "umask", lambda mask: 0)  # a umask of 0 would have made it 0666 until the chmod
    assert run(capsys, "keygen", key)[0] == 0
    monkeypatch.undo()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes(), (tmp_path / "keys" / "k.pub.pem").read_bytes()
    for target in (key, tmp_path / "keys" / "k.pub.pem"):
        code, _, err = run(capsys, "keygen", target)
        assert code == 2 and (KEY_EXISTS in err or KEY_NAMED_PUBLIC in err), err
    assert (key.read_bytes(), (tmp_path / "keys" / "k.pub.pem").read_bytes()) == before
    assert run(capsys, "keygen", key, "--force")[0] == 0 and key.read_bytes() != before[0]


def test_star_slices_every_sensitive_column(rel, tmp_path, capsys):
    policy = yaml.safe_load((rel / "policy.yaml").read_text())
    policy["rules"] = [{"id": "S-1", "kind": "slice_metric_drop", "metric": "accuracy", "by": ["*"], "max_drop": 1}]
    write_yaml(rel / "policy.yaml", policy)
    run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "o")
    assert _finding(tmp_path / "o", "S-1")["details"]["slices_tested"] == 3 + 2 + 6  # group, region, group & region


def test_signed_outputs_verify_and_any_changed_byte_is_named(rel, tmp_path, capsys):
    assert run(capsys, "keygen", tmp_path / "keys" / "k.pem")[0] == 0
    out = tmp_path / "out"
    code, _, _ = run(capsys, "check", rel / "release.yaml", "--out", out, "--sign-key", tmp_path / "keys" / "k.pem")
    assert code == 0 and (out / "verdict.sig").exists()
    verdict = _verdict(out)
    assert {"evidence.json", "policy", "manifest"} <= set(verdict["inputs"])
    code, stdout, _ = run(capsys, "verify", out, "--public-key", tmp_path / "keys" / "k.pub.pem")
    assert code == 0 and "signature holds" in stdout

    junit = out / "junit.xml"
    junit.write_bytes(junit.read_bytes().replace(b"PERF-001", b"PERF-00X", 1))
    code, _, err = run(capsys, "verify", out, "--public-key", tmp_path / "keys" / "k.pub.pem")
    assert code == 1 and OUTPUT_CHANGED.format(name="junit.xml") in err

    code, _, _ = run(capsys, "check", rel / "release.yaml", "--out", out, "--sign-key", tmp_path / "keys" / "k.pem")
    data = rel / "eval.csv"
    raw = bytearray(data.read_bytes())
    raw[-3] = ord("0") if raw[-3] != ord("0") else ord("1")
    data.write_bytes(bytes(raw))
    code, _, err = run(capsys, "verify", out)
    assert code == 1 and "eval.csv" in err and "changed since it was evaluated" in err


def test_a_forged_checksums_file_fails_the_signature(rel, tmp_path, capsys):
    run(capsys, "keygen", tmp_path / "k.pem")
    out = tmp_path / "out"
    run(capsys, "check", rel / "release.yaml", "--out", out, "--sign-key", tmp_path / "k.pem")
    # an attacker edits verdict.json and recomputes its checksum: the signature no longer matches
    verdict = out / "verdict.json"
    verdict.write_text(verdict.read_text().replace('"decision": "pass"', '"decision": "pass" '))
    listing = json.loads((out / "checksums.json").read_text())
    listing["files"]["verdict.json"] = sha256_file(verdict)
    (out / "checksums.json").write_text(json.dumps(listing))
    code, _, err = run(capsys, "verify", out, "--public-key", tmp_path / "k.pub.pem")
    assert code == 1 and SIGNATURE_MISMATCH in err and "the signature does NOT hold" in err
    assert "no --public-key" not in err  # it said "signature not checked (no --public-key)" with the key given
    # an input entry edited into something that is not a file record crashed verify (exit 3) before the signature
    data = json.loads(verdict.read_text())
    data["inputs"]["policy"] = {"path": 5, "sha256": None, "evil": 1}
    verdict.write_text(json.dumps(data))
    listing["files"]["verdict.json"] = sha256_file(verdict)
    (out / "checksums.json").write_text(json.dumps(listing))
    code, _, err = run(capsys, "verify", out, "--public-key", tmp_path / "k.pub.pem")
    assert code == 1 and "inputs.policy is not a file record" in err and SIGNATURE_MISMATCH in err
    run(capsys, "keygen", tmp_path / "other.pem")
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "o2", "--sign-key",
                       tmp_path / "other.pub.pem")
    assert code == 2 and "--sign-key" in err
