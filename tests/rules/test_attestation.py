"""attestation: each named role signs off this exact candidate file (its sha256), dated, by a named person."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from builders import REF, TODAY, edit, evidence, one, run, with_sections, write_yaml

from governance.evidence.schema import FileRef
from governance.findings import Status
from governance.hashing import sha256_file
from governance.rules.attestation import FUTURE_DATED, OTHER_CANDIDATE

CANDIDATE = FileRef(path="pruned.skops", sha256="c" * 64, bytes=10)
RULE = {"kind": "attestation", "roles": ["model-owner", "risk-officer"]}


def _signed(*approvals: dict):
    ten = {"count": 10, "accuracy": 0.9}
    return with_sections(evidence(ten, ten), inputs={"baseline": REF, "candidate": CANDIDATE},
                         approvals=list(approvals))


def _sign(role: str, sha: str = "c" * 64, when: str = "2026-11-20") -> dict:
    return {"role": role, "name": "Dana Whitfield", "date": when, "statement": "I approve.", "candidate_sha256": sha}


def test_attestation_passes_when_every_role_signed_the_evaluated_candidate():
    f = one(RULE, _signed(_sign("model-owner"), _sign("risk-officer")))
    assert f.status == Status.PASS and f.details["missing"] == []
    assert "model-owner (Dana Whitfield, 2026-11-20)" in f.message


def test_attestation_fails_on_a_missing_role_a_stale_hash_or_a_future_date():
    missing = one(RULE, _signed(_sign("model-owner")))
    assert missing.status == Status.FAIL and missing.details["missing"] == ["risk-officer"]
    stale = one(RULE, _signed(_sign("model-owner"), _sign("risk-officer", sha="0" * 64)))
    assert stale.status == Status.FAIL and stale.details["stale_roles"] == ["risk-officer"]
    assert OTHER_CANDIDATE in stale.message
    future = one(RULE, _signed(_sign("model-owner"), _sign("risk-officer", when="2026-12-01")))
    assert future.status == Status.FAIL
    assert FUTURE_DATED.format(date="2026-12-01", today=TODAY.isoformat()) in future.message


@pytest.fixture()
def rel(release_dir, tmp_path) -> Path:
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    return d


def _finding(out: Path, rule: str) -> dict:
    return next(f for f in json.loads((out / "verdict.json").read_text())["findings"] if f["rule_id"] == rule)


def _approval(role: str, sha: str) -> dict:
    return {"role": role, "name": "A. Person", "date": "2026-11-20", "statement": "I approve this release.",
            "candidate_sha256": sha}


def test_attestation_through_the_cli_passes_with_each_role_signed_and_fails_on_a_stale_sign_off(rel, tmp_path, capsys):
    policy = yaml.safe_load((rel / "policy.yaml").read_text())
    policy["rules"] = [{"id": "SIGN-1", "kind": "attestation", "roles": ["model-owner", "risk-officer"],
                        "rmf": ["MANAGE 1.1", "GOVERN 2.1"]}]
    write_yaml(rel / "policy.yaml", policy)
    sha = sha256_file(rel / "pruned.skops")
    edit(rel / "release.yaml", approvals=[_approval("model-owner", sha), _approval("risk-officer", sha)])
    code, _, _ = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "ok")
    assert code == 0 and _finding(tmp_path / "ok", "SIGN-1")["status"] == "pass"
    # the risk officer signed a different (earlier) candidate file: does not count
    edit(rel / "release.yaml", approvals=[_approval("model-owner", sha), _approval("risk-officer", "0" * 64)])
    code, _, _ = run(capsys, "check", rel / "release.yaml", "--out", tmp_path / "stale")
    f = _finding(tmp_path / "stale", "SIGN-1")
    assert code == 1 and f["status"] == "fail" and f["details"]["missing"] == ["risk-officer"]
    assert OTHER_CANDIDATE in f["message"]
