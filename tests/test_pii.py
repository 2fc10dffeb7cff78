"""Personal data: detectors on known values, and a column of e-mail addresses hidden in the evaluation data."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import FEATURES
from governance.evidence.pii import detect, luhn_valid, sample_rows, scan_pii
from governance.findings import Status
from test_provenance import gate, make_release, provenance_for

PII = {"id": "PII-001", "kind": "pii_scan", "min_share": 0.05, "rmf": ["MEASURE 2.10"]}


@pytest.mark.parametrize("value,kinds", [
    ("jane.doe+loans@example.co.uk", {"email"}),
    ("contact: (555) 123-4567", {"phone"}),
    ("+44 20 7946 0958", {"phone"}),
    ("+14155550123", {"phone"}),
    ("4155550123", set()),                    # a bare run of digits is an identifier or an amount, not a phone
    ("2024-01-15 10:30:00", set()),           # dates and times are not phone numbers
    ("123-45-6789", {"ssn"}),
    ("666-45-6789", set()),                   # never issued
    ("4111 1111 1111 1111", {"payment_card"}),  # Luhn-valid
    ("4111 1111 1111 1112", set()),             # Luhn-invalid
    ("5500-0000-0000-0004", {"payment_card"}),
    ("378282246310005", {"payment_card"}),
    ("1234567890123452", set()),              # Luhn-valid but no card network starts with 1
    ("192.168.10.20", {"ip_address"}),
    ("999.168.10.20", set()),                 # not an address: validated with ipaddress
    ("2001:db8::8a2e:370:7334", {"ip_address"}),
    ("10:30:45", set()),
    ("105.3", set()),
    ("north", set()),
])
def test_detectors(value, kinds):
    assert detect(value) == kinds


def test_luhn():
    assert luhn_valid("4111111111111111") and luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112") and not luhn_valid("79927398710")


def test_scan_counts_without_keeping_values(tmp_path):
    n = 200
    rng = np.random.default_rng(0)
    cards = ["4111111111111111", "5500000000000004", "4111111111111112"]
    df = pd.DataFrame({"amount": rng.normal(size=n), "card": [cards[i % 3] for i in range(n)],
                       "ip": [f"10.0.{i % 250}.{i % 7}" for i in range(n)], "flag": rng.integers(0, 2, n) == 1})
    path = tmp_path / "d.parquet"
    df.to_parquet(path)
    scan = scan_pii(path, chunk_rows=50, max_rows=80)
    assert (scan.rows_sampled, scan.rows_scanned, scan.rows_total) == (80, 80, 200)  # a uniform sample of 80
    sample, _, _ = sample_rows(path, 50, 80)
    invalid = sample.column("card").to_pylist().count("4111111111111112")  # every third number fails Luhn
    card = scan.columns["card"]
    assert card.sampled == 80 and 10 < invalid < 45 and card.matches["payment_card"] == 80 - invalid
    assert scan.columns["ip"].matches["ip_address"] == 80
    assert set(scan.not_scanned) == {"amount", "flag"}
    assert "4111" not in scan.model_dump_json()


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
