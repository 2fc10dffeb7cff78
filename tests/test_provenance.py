"""The provenance file: malformed or missing is exit 2, the bundled example is true, saved evidence re-decides.

The provenance rule's pass/fail cases are in tests/rules/test_provenance.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from builders import PROVENANCE_RULE, TODAY, gate, make_release, provenance_for, sha

from governance.cli import main
from governance.engine import evaluate
from governance.manifest import load_manifest
from governance.policy import parse_policy
from governance.provenance import load_provenance


@pytest.mark.parametrize("change,field", [
    ({"datasets": {"eval": {"role": "evaluation", "path": "eval.csv", "colour": "red"}}}, "datasets.eval.colour"),
    ({"datasets": {"eval": {"role": "testing", "path": "eval.csv"}}}, "datasets.eval.role"),
    ({"datasets": {"eval": {"role": "evaluation"}}}, "datasets.eval"),
    ({"models": {"m": {"sha256": "not-a-hash"}}}, "models.m.sha256"),
])
def test_a_malformed_provenance_file_is_exit_2_naming_file_field_and_line(release_dir, tmp_path, capsys, change, field):
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    prov = {**provenance_for(d), **change}
    manifest = make_release(release_dir, tmp_path, provenance=prov)
    code = main(["check", str(manifest), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "provenance.yaml" in err and field in err and "line" in err, err
    assert not (tmp_path / "out").exists()


def test_a_missing_provenance_file_is_exit_2(release_dir, tmp_path, capsys):
    manifest = make_release(release_dir, tmp_path, provenance={})
    (manifest.parent / "provenance.yaml").unlink()
    assert main(["check", str(manifest), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "provenance: file not found" in capsys.readouterr().err


def test_the_bundled_example_declares_its_real_hashes():
    root = Path(__file__).resolve().parent.parent / "examples" / "credit"
    prov = load_provenance(root / "provenance.yaml")
    for name in ("release.yaml", "release-aggressive.yaml"):
        release = load_manifest(root / name)
        assert release.manifest.provenance == "provenance.yaml"
        cand = prov.model_by_hash(sha(root / release.manifest.candidate.path))
        base = prov.model_by_hash(sha(root / release.manifest.baseline.path))
        assert cand is not None and base is not None, name
        assert cand[1].parent == base[1].sha256
    assert prov.dataset_by_hash(sha(root / "eval.csv"))[0] == "credit-eval"


def test_saved_evidence_re_decides_the_same(release_dir, tmp_path):
    """The rules are pure: evidence.json round-trips (dates, hashes, declared facts) and gives the same findings."""
    from governance.evidence.schema import Evidence

    rules = (PROVENANCE_RULE, {"id": "DATA-001", "kind": "leakage"}, {"id": "PII-001", "kind": "pii_scan"},
             {"id": "DOC-001", "kind": "documentation"})
    findings, ev = gate(make_release(release_dir, tmp_path), *rules)
    saved = Evidence.model_validate_json(ev.model_dump_json())
    assert saved == ev
    policy = parse_policy({"name": "p", "rules": list(rules)}, path=Path("p.yaml"))
    assert [f.model_dump() for f in evaluate(policy, saved, TODAY).findings] == [f.model_dump() for f in findings]
