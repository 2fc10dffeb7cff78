"""pii_scan: columns that look like personal data must be declared, and declared ones must not be features.

The detectors themselves are in tests/test_pii.py."""

from __future__ import annotations

import shutil

import pandas as pd
from builders import FEATURES, gate, make_release, provenance_for

from governance.findings import Status

PII = {"id": "PII-001", "kind": "pii_scan", "min_share": 0.05, "rmf": ["MEASURE 2.10"]}


def _release_with_emails(release_dir, tmp_path, declared: list[str] | None):
    """The evaluation file gains an e-mail column between the features; the model reads only x0..x3."""
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    df = pd.read_csv(d / "eval.csv")
    df.insert(2, "contact", [f"applicant{i}@example.org" for i in range(len(df))])
    df.to_csv(d / "eval.csv", index=False)
    prov = provenance_for(d)
    prov["datasets"]["eval"]["personal_data"] = declared
    return make_release(release_dir, tmp_path, provenance=prov, features=FEATURES)


def test_an_undeclared_email_column_fails(release_dir, tmp_path):
    findings, ev = gate(_release_with_emails(release_dir, tmp_path, []), PII)
    f = findings[0]
    assert ev.pii.columns["contact"].matches["email"] == ev.pii.columns["contact"].sampled > 0
    assert f.status == Status.FAIL
    assert f.details["undeclared"] == ["contact"]
    assert "contact (email in 100.00% of sampled values): not declared as personal data" in f.message
    assert "applicant0@" not in f.model_dump_json()


def test_a_declared_email_column_passes(release_dir, tmp_path):
    f = gate(_release_with_emails(release_dir, tmp_path, ["contact"]), PII)[0][0]
    assert f.status == Status.PASS, f.message
    assert f.details["flagged_columns"] == {"contact": {"email": 1.0}}


def test_without_a_provenance_nothing_is_declared(release_dir, tmp_path):
    manifest = _release_with_emails(release_dir, tmp_path, ["contact"])
    text = manifest.read_text().replace("provenance: provenance.yaml\n", "")
    manifest.write_text(text)
    f = gate(manifest, PII)[0][0]
    assert f.status == Status.FAIL and "the provenance declares no personal-data columns" in f.message


def test_a_declared_personal_column_used_as_a_feature_fails_unless_allowed(release_dir, tmp_path):
    manifest = _release_with_emails(release_dir, tmp_path, ["x1"])  # pretend x1 were personal data
    findings, _ = gate(manifest, PII, {**PII, "id": "PII-002", "allowed_personal_features": ["x1"]})
    assert findings[0].status == Status.FAIL
    assert "undeclared" in findings[0].details and findings[0].details["personal_data_features"] == ["x1"]
    assert "declared personal-data column(s) x1 are model features" in findings[0].message
    # contact is still undeclared in both; with x1 allowed only that problem remains
    assert findings[1].details["personal_data_features"] == [] and findings[1].details["undeclared"] == ["contact"]


def test_a_small_share_of_matches_does_not_flag_a_column(release_dir, tmp_path):
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    df = pd.read_csv(d / "eval.csv")
    df["note"] = ["see ticket 10.0.0.1" if i == 0 else "ok" for i in range(len(df))]  # 1 row in 1500
    df.to_csv(d / "eval.csv", index=False)
    manifest = make_release(release_dir, tmp_path, provenance=provenance_for(d), features=FEATURES)
    findings, ev = gate(manifest, PII, {**PII, "id": "PII-002", "min_share": 0.0001})
    assert ev.pii.columns["note"].matches["ip_address"] == 1
    assert [f.status for f in findings] == [Status.PASS, Status.FAIL]
