"""Whole-file scans: the personal-data sample covers the whole file; leakage tells identity from coincidence;
declared personal-data features are reported facts, justified rather than forbidden."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from builders import dataset, gate, make_release, provenance_for, sha
from conftest import FEATURES, make_frame

from governance.errors import InputError
from governance.evidence.leakage import EvaluationRows, chance_share
from governance.evidence.pii import sample_rows, scan_pii
from governance.findings import Status
from governance.manifest import KEY_IS_MODEL_INPUT, load_manifest
from governance.provenance import BLANK_JUSTIFICATION
from governance.rules.data_checks import JUSTIFY_HINT

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = [*FEATURES, "label"]
LEAKAGE = {"id": "DATA-001", "kind": "leakage", "roles": ["training"], "max_overlap_share": 0.0,
           "rmf": ["MAP 2.3", "MEASURE 2.5"]}
PII = {"id": "DATA-002", "kind": "pii_scan", "rmf": ["MEASURE 2.10"]}


def _pack_rule(rule_id: str) -> dict:
    pack = yaml.safe_load((ROOT / "policies" / "nist-ai-rmf.yaml").read_text())
    return next(r for r in pack["rules"] if r["id"] == rule_id)


# --- personal data: a uniform sample over the whole file --------------------------------------------------------

def _tail_identifiers(path: Path, n: int = 6000, start: int = 5000) -> None:
    df = pd.DataFrame({"pos": np.arange(n), "note": ["ok"] * n})
    df.loc[start:, "note"] = [f"user{i}@example.org" for i in range(start, n)]
    df.to_csv(path, index=False)


def test_identifiers_after_the_first_chunk_are_found(tmp_path):
    path = tmp_path / "d.csv"
    _tail_identifiers(path)  # e-mail addresses only in rows 5000..5999 of 6000
    whole = scan_pii(path, chunk_rows=1000)  # the file is within MAX_ROWS: every row is scanned
    assert (whole.rows_scanned, whole.rows_total) == (6000, 6000)
    assert whole.columns["note"].matches["email"] == 1000
    sampled = scan_pii(path, chunk_rows=1000, max_rows=600)  # a sample of 10%: still about a sixth are e-mails
    assert (sampled.rows_scanned, sampled.rows_total) == (600, 6000)
    assert 60 <= sampled.columns["note"].matches["email"] <= 140


def test_the_sample_is_uniform_and_independent_of_chunking(tmp_path):
    path = tmp_path / "d.csv"
    _tail_identifiers(path)
    picks = [sorted(int(p) for p in sample_rows(path, chunk, 600)[0].column("pos").to_pylist())
             for chunk in (1000, 77)]
    assert picks[0] == picks[1] and len(picks[0]) == 600
    per_chunk = np.bincount(np.array(picks[0]) // 1000, minlength=6)
    assert per_chunk.min() >= 60 and per_chunk.max() <= 140  # every part of the file is drawn from


def test_pack_rules_on_personal_data(release_dir, tmp_path):
    """DATA-002 of the pack: an undeclared identifier column blocks; declared and justified features do not."""
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    df = pd.read_csv(d / "eval.csv")
    df.insert(1, "contact", [f"applicant{i}@example.org" for i in range(len(df))])
    df.to_csv(d / "eval.csv", index=False)
    prov = provenance_for(d)
    prov["datasets"]["eval"]["personal_data"] = ["x0"]  # x0 stands for a personal attribute (age) used as a feature
    prov["datasets"]["eval"]["personal_data_justification"] = "age predicts repayment; reviewed by the DPO"
    manifest = make_release(release_dir, tmp_path, provenance=prov, features=FEATURES)
    undeclared = gate(manifest, _pack_rule("DATA-002"))[0][0]
    assert undeclared.status == Status.FAIL and undeclared.details["undeclared"] == ["contact"]
    assert undeclared.details["personal_data_features"] == []  # x0 is declared and justified: no problem

    prov["datasets"]["eval"]["personal_data"] = ["x0", "contact"]
    manifest = make_release(release_dir, tmp_path, provenance=prov, features=FEATURES)
    f, ev = gate(manifest, _pack_rule("DATA-002"))
    f = f[0]
    assert f.status == Status.PASS, f.message
    assert f.details["declared_personal_features"] == ["x0"]
    assert "1500 of 1500 rows scanned" in f.message and "declared personal-data features (reported): x0" in f.message
    assert "justification: age predicts repayment" in f.message
    assert (ev.pii.rows_scanned, ev.pii.rows_total) == (1500, 1500)


def _personal_feature_release(release_dir, tmp_path, justification: str | None) -> Path:
    d = tmp_path / "rel"
    if not d.exists():
        shutil.copytree(release_dir, d)
    prov = provenance_for(d)
    prov["datasets"]["eval"]["personal_data"] = ["x1"]
    if justification is not None:
        prov["datasets"]["eval"]["personal_data_justification"] = justification
    return make_release(release_dir, tmp_path, provenance=prov)


def test_a_declared_personal_feature_needs_a_justification(release_dir, tmp_path):
    unjustified = _personal_feature_release(release_dir, tmp_path, None)
    findings, _ = gate(unjustified, PII, {**PII, "id": "R", "personal_features": "report"},
                       {**PII, "id": "A", "allowed_personal_features": ["x1"]})
    assert [f.status for f in findings] == [Status.FAIL, Status.PASS, Status.PASS]
    assert JUSTIFY_HINT in findings[0].message and findings[0].details["personal_data_features"] == ["x1"]
    assert all(f.details["declared_personal_features"] == ["x1"] for f in findings)

    justified = _personal_feature_release(release_dir, tmp_path, "income model: x1 is the applicant's age band")
    findings, _ = gate(justified, PII, {**PII, "id": "F", "personal_features": "forbid"})
    assert [f.status for f in findings] == [Status.PASS, Status.FAIL]
    assert findings[0].details["personal_data_justification"].startswith("income model")
    assert "the policy forbids personal-data features" in findings[1].message


def test_a_blank_justification_is_bad_input(release_dir, tmp_path):
    with pytest.raises(InputError, match=re.escape(BLANK_JUSTIFICATION)):
        gate(_personal_feature_release(release_dir, tmp_path, "  "), PII)


# --- leakage: identity or coincidence ---------------------------------------------------------------------------

def _discrete(df: pd.DataFrame) -> pd.DataFrame:
    """Features on a coarse grid: many people share every value, as in census data."""
    df = df.copy()
    df[FEATURES] = (np.round(df[FEATURES] / 0.6) * 0.6).clip(-1.8, 1.8).round(1)
    return df


def _discrete_release(release_dir, tmp_path, *, copied: bool = False, key: bool = False,
                      shared_ids: int = 0, train_key: str | None = None) -> Path:
    """Evaluation and training rows drawn independently from one discrete population (or the evaluation rows copied
    from the training rows); with ``key`` an ``id`` column identifies each record."""
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    train = _discrete(make_frame(3000, 7))
    evaluation = train.sample(1500, random_state=0).reset_index(drop=True) if copied else _discrete(make_frame(1500, 2))
    if key:
        evaluation.insert(0, "id", np.arange(1500) + 100_000)
        ids = np.arange(3000)
        ids[:shared_ids] = evaluation["id"][:shared_ids]
        train.insert(0, train_key or "id", ids)
    evaluation.to_csv(d / "eval.csv", index=False)
    pq.write_table(pa.Table.from_pandas(train, preserve_index=False), d / "train.parquet", row_group_size=500)
    prov = provenance_for(d)
    prov["datasets"]["train"] = {**dataset("training", "train.parquet"), "sha256": sha(d / "train.parquet")}
    if train_key:
        prov["datasets"]["train"]["key"] = [train_key]
    changes = {"data": {"path": "eval.csv", "target": "label", "sensitive": ["group", "region"], "chunk_rows": 400,
                        **({"key": ["id"]} if key else {})}}
    return make_release(release_dir, tmp_path, provenance=prov, **changes)


def test_coincidental_duplicates_pass_with_both_numbers(release_dir, tmp_path):
    f, ev = gate(_discrete_release(release_dir, tmp_path), LEAKAGE)
    f = f[0]
    leak = ev.leakage
    assert leak.key is None and 0.3 < leak.duplicated_share < 0.6  # a careful release, many coincidences
    train = leak.datasets["train"]
    assert train.overlap_share > 0.4 and train.sample_rows == 1499
    assert f.status == Status.PASS, f.message
    assert f.details["datasets"][0]["explained_by_chance"] is True
    assert f"{leak.duplicated_share:.2%} of evaluation rows are duplicated within the evaluation set" in f.message
    assert "expected by chance" in f.message and f"({train.overlap_share:.2%})" in f.message


def test_an_evaluation_set_copied_from_training_fails(release_dir, tmp_path):
    f = gate(_discrete_release(release_dir, tmp_path, copied=True), LEAKAGE)[0][0]
    assert f.status == Status.FAIL and f.observed == 1.0
    assert "more than chance explains" in f.message and f.details["datasets"][0]["explained_by_chance"] is False


def test_with_a_key_identity_is_exact(release_dir, tmp_path):
    f, ev = gate(_discrete_release(release_dir, tmp_path, key=True), LEAKAGE)
    f = f[0]
    assert ev.leakage.key == ["id"] and ev.leakage.columns == ["id"] and "x0" not in ev.leakage.columns
    assert "id" not in ev.data.features  # a key is never a model feature
    assert f.status == Status.PASS and f.details["overlap_rows"] == 0 and "by key (id)" in f.message


def test_with_a_key_a_few_shared_records_fail(tmp_path, release_dir):
    # the training set names its key column differently and declares it in the provenance
    f = gate(_discrete_release(release_dir, tmp_path, key=True, shared_ids=3, train_key="customer"), LEAKAGE)[0][0]
    assert f.status == Status.FAIL and f.details["overlap_rows"] == 3
    assert "3 of 1500 evaluation rows (0.20%) also occur in training set 'train' (by key (id))" in f.message


def test_a_training_set_without_the_key_is_an_error(release_dir, tmp_path):
    d_manifest = _discrete_release(release_dir, tmp_path, key=True)
    d = d_manifest.parent
    pq.write_table(pq.read_table(d / "train.parquet").drop_columns(["id"]), d / "train.parquet")
    prov = yaml.safe_load((d / "provenance.yaml").read_text())
    prov["datasets"]["train"]["sha256"] = sha(d / "train.parquet")
    (d / "provenance.yaml").write_text(yaml.safe_dump(prov))
    f = gate(d_manifest, LEAKAGE)[0][0]
    assert f.status == Status.ERROR and "lacks the key columns id" in f.message


def test_a_key_that_is_a_feature_or_missing_is_bad_input(release_dir, tmp_path):
    manifest = make_release(release_dir, tmp_path, data={"path": "eval.csv", "target": "label", "features": FEATURES,
                                                         "key": ["x0"]})
    with pytest.raises(InputError, match=re.escape(KEY_IS_MODEL_INPUT.format(column="x0"))):
        load_manifest(manifest)
    manifest = make_release(release_dir, tmp_path, data={"path": "eval.csv", "target": "label", "key": ["nope"]})
    with pytest.raises(InputError, match=re.escape("data.key")):
        gate(manifest, LEAKAGE)


def test_evaluation_hashes_stream_and_merge_exactly(tmp_path):
    df = _discrete(make_frame(2000, 3))
    path = tmp_path / "e.csv"
    df.to_csv(path, index=False)
    small, whole = EvaluationRows.read(path, COLUMNS, 7), EvaluationRows.read(path, COLUMNS, 100_000)
    assert np.array_equal(small.hashes, whole.hashes) and np.array_equal(small.counts, whole.counts)
    assert small.rows == 2000 and small.counts.sum() == 2000
    counts = df[COLUMNS].value_counts()
    assert small.duplicated_rows == counts[counts > 1].sum()


def test_chance_share_is_the_within_set_duplicate_share_at_equal_size():
    counts = np.array([3, 2, 1, 1, 1])  # 8 rows
    assert chance_share(counts, 8, 7) == pytest.approx(5 / 8)
    # a sample of 2 of the 7 other rows: a row of the triple finds no twin when both picks are among the 5 rows
    # that are not its twins (C(5,2) / C(7,2)); a row of the pair when both are among 6
    miss3 = (5 * 4) / (7 * 6)
    miss2 = (6 * 5) / (7 * 6)
    assert chance_share(counts, 8, 2) == pytest.approx((3 * (1 - miss3) + 2 * (1 - miss2)) / 8)
    assert chance_share(np.array([1, 1, 1]), 3, 2) == 0.0
