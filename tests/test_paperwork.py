"""Paperwork that means something: a sign-off names a person, is for the evaluated candidate file and is not
dated after the evaluation date; the sign-off block `governance init` writes can never pass as written."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from governance.cli import main
from governance.engine import evaluate
from governance.errors import InputError
from governance.hashing import sha256_file
from governance.manifest import (
    APPROVAL_BLANK,
    APPROVAL_NOT_SHA256,
    APPROVAL_PLACEHOLDER_NAME,
    Approval,
    load_manifest,
    placeholder_name,
)
from governance.policy import load_policy
from governance.render import jsonfiles
from governance.render.sample import sample_evidence
from governance.rules.attestation import FUTURE_DATED, OTHER_CANDIDATE
from governance.scaffold import PLACEHOLDER_NAME, PLACEHOLDER_SHA256

ROOT = Path(__file__).resolve().parents[1]
CREDIT = ROOT / "examples" / "credit"
SHA = "ab" * 32


def _message(template: str) -> str:
    """The fixed words of a message template (what a test can look for whatever was filled in)."""
    return max(re.split(r"\{[^}]*\}", template), key=len).strip()


def _approval(**kw: object) -> dict:
    base = {"role": "model-owner", "name": "Dana Whitfield (credit risk)", "date": "2026-01-15",
            "statement": "Reviewed the audit report.", "candidate_sha256": SHA}
    return {**base, **kw}


# --------------------------------------------------------------------------- who signed
@pytest.mark.parametrize("name", [PLACEHOLDER_NAME, "Your Name (your team)", "Your Name", "TODO", "todo: fill in",
                                  "name", "<name>", "[name]", "{{ name }}", "TBD", "John Doe", "n/a", "   ", ""])
def test_a_placeholder_is_not_a_name(name):
    with pytest.raises(Exception) as err:
        Approval(**_approval(name=name))
    text = str(err.value)
    assert _message(APPROVAL_PLACEHOLDER_NAME) in text or "at least 1 character" in text or \
        _message(APPROVAL_BLANK) in text


@pytest.mark.parametrize("name", ["Dana Whitfield (credit risk)", "Ada Lovelace", "José Núñez", "李明",
                                  "A. Person", "Tod Domínguez", "Nameer Khan"])
def test_a_real_name_is_a_name(name):
    assert not placeholder_name(name)
    assert Approval(**_approval(name=name)).name == name


@pytest.mark.parametrize("field", ["role", "statement"])
def test_blank_role_or_statement_is_refused(field):
    with pytest.raises(Exception, match=re.escape(_message(APPROVAL_BLANK))):
        Approval(**_approval(**{field: "  "}))
    assert getattr(Approval(**_approval()), field).strip()


def test_candidate_sha256_must_be_a_sha256_and_upper_case_is_read_as_lower():
    for bad in (PLACEHOLDER_SHA256, "abc", "g" * 64, SHA + "0"):
        with pytest.raises(Exception, match=re.escape(_message(APPROVAL_NOT_SHA256))):
            Approval(**_approval(candidate_sha256=bad))
    assert Approval(**_approval(candidate_sha256=SHA.upper())).candidate_sha256 == SHA


# --------------------------------------------------------------------------- what init writes
def _init(tmp_path: Path) -> Path:
    folder = tmp_path / "rel"
    code = main(["init", str(folder), "--from-models", str(CREDIT / "baseline.skops"), str(CREDIT / "pruned.skops"),
                 "--data", str(CREDIT / "eval.csv")])
    assert code == 0
    return folder / "release.yaml"


def _uncomment(text: str) -> str:
    head, sep, tail = text.partition("# approvals:")
    return head + re.sub(r"(?m)^# ?", "", sep + tail)


def test_init_sign_off_uncommented_as_written_is_refused_naming_what_to_fill_in(tmp_path, capsys):
    release = _init(tmp_path)
    text = release.read_text()
    assert f'name: "{PLACEHOLDER_NAME}"' in text and f'candidate_sha256: "{PLACEHOLDER_SHA256}"' in text
    assert sha256_file(CREDIT / "pruned.skops") not in text  # nothing that could pass is pre-filled
    release.write_text(_uncomment(text))
    with pytest.raises(InputError) as err:
        load_manifest(release)
    assert err.value.file == str(release) and err.value.field.startswith("approvals[0].name")
    assert _message(APPROVAL_PLACEHOLDER_NAME) in err.value.message and PLACEHOLDER_NAME in err.value.message

    # the gate refuses it before anything runs: exit 2, one line, nothing written
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["check", str(release), "--out", str(out)]) == 2
    err_text = capsys.readouterr().err.strip()
    assert len(err_text.splitlines()) == 1 and "placeholder" in err_text and not out.exists()

    # a name alone is not enough: the sha256 placeholder says what to fill in
    release.write_text(release.read_text().replace(PLACEHOLDER_NAME, "Ada Lovelace (ML platform)"))
    with pytest.raises(InputError) as err:
        load_manifest(release)
    assert err.value.field.startswith("approvals[0].candidate_sha256") and "sha256sum" in err.value.message

    # filled in by a person: it loads, for this exact candidate file
    sha = sha256_file(CREDIT / "pruned.skops")
    release.write_text(release.read_text().replace(PLACEHOLDER_SHA256, sha))
    (approval,) = load_manifest(release).manifest.approvals
    assert approval.name == "Ada Lovelace (ML platform)" and approval.candidate_sha256 == sha


def test_init_without_models_writes_the_same_unpassable_sign_off(tmp_path):
    folder = tmp_path / "bare"
    assert main(["init", str(folder)]) == 0
    release = folder / "release.yaml"
    release.write_text(_uncomment(release.read_text()))
    with pytest.raises(InputError, match="placeholder"):
        load_manifest(release)


# --------------------------------------------------------------------------- when it was signed
def _policy(tmp_path: Path) -> Path:
    path = tmp_path / "sign.yaml"
    path.write_text(yaml.safe_dump({"name": "sign", "rules": [
        {"id": "SIGN-1", "kind": "attestation", "roles": ["model-owner", "risk-officer"], "severity": "block",
         "rmf": ["GOVERN 2.1"]}]}))
    return path


def _evidence(*approvals: dict):
    evidence = sample_evidence(slices=3)
    return evidence.model_copy(update={"approvals": list(approvals)})


def test_a_sign_off_dated_after_the_evaluation_date_does_not_count(tmp_path):
    policy = load_policy(_policy(tmp_path))
    evidence = _evidence()
    candidate = evidence.inputs["candidate"].sha256
    signed = [_approval(role="model-owner", date="2026-03-01", candidate_sha256=candidate),
              _approval(role="risk-officer", name="Sam Okafor", date="2026-03-10", candidate_sha256=candidate)]
    evidence = _evidence(*signed)

    early = evaluate(policy, evidence, date(2026, 3, 5))
    (f,) = early.findings
    assert early.decision == "blocked" and f.status == "fail" and f.details["missing"] == ["risk-officer"]
    assert f.details["evaluated_on"] == "2026-03-05"
    assert f.details["not_counted"] == [{"role": "risk-officer", "name": "Sam Okafor", "date": "2026-03-10",
                                         "reason": FUTURE_DATED.format(date="2026-03-10", today="2026-03-05")}]
    assert "after the evaluation date 2026-03-05" in f.message

    on_the_day = evaluate(policy, evidence, date(2026, 3, 10))
    assert on_the_day.decision == "pass" and on_the_day.findings[0].details["not_counted"] == []


def test_a_sign_off_for_another_file_still_does_not_count(tmp_path):
    policy = load_policy(_policy(tmp_path))
    candidate = _evidence().inputs["candidate"].sha256
    evidence = _evidence(_approval(candidate_sha256=candidate), _approval(role="risk-officer", candidate_sha256=SHA))
    (f,) = evaluate(policy, evidence, date(2026, 6, 1)).findings
    assert f.status == "fail" and f.details["stale_roles"] == ["risk-officer"] and OTHER_CANDIDATE in f.message


def test_hand_edited_evidence_with_a_placeholder_name_does_not_count(tmp_path):
    """`governance evaluate` re-decides on a saved evidence.json: the rule checks the name again."""
    policy = load_policy(_policy(tmp_path))
    candidate = _evidence().inputs["candidate"].sha256
    evidence = _evidence(_approval(candidate_sha256=candidate),
                         _approval(role="risk-officer", name=PLACEHOLDER_NAME, candidate_sha256=candidate))
    (f,) = evaluate(policy, evidence, date(2026, 6, 1)).findings
    assert f.status == "fail" and f.details["missing"] == ["risk-officer"] and "names no person" in f.message


def test_evaluate_command_passes_today_to_the_sign_off_check(tmp_path, capsys):
    candidate = _evidence().inputs["candidate"].sha256
    evidence = _evidence(_approval(date="2026-03-10", candidate_sha256=candidate),
                         _approval(role="risk-officer", name="Sam Okafor", date="2026-03-01",
                                   candidate_sha256=candidate))
    saved = tmp_path / "evidence.json"
    saved.write_bytes(jsonfiles.evidence_json(evidence))
    policy = _policy(tmp_path)
    args = ["evaluate", "--evidence", str(saved), "--policy", str(policy)]
    assert main([*args, "--out", str(tmp_path / "early"), "--today", "2026-03-09"]) == 1
    verdict = json.loads((tmp_path / "early" / "verdict.json").read_text())
    assert verdict["findings"][0]["details"]["missing"] == ["model-owner"]
    assert main([*args, "--out", str(tmp_path / "later"), "--today", "2026-03-10"]) == 0
    capsys.readouterr()
