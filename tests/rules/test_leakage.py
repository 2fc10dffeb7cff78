"""leakage: evaluation rows found again in a declared training or fine-tuning set fail the rule.

Row hashing and overlap counting themselves are in tests/test_leakage.py."""

from __future__ import annotations

import shutil

import pytest
from builders import FEATURES, dataset, fine_tuning_set, gate, make_release, provenance_for, sha

from governance.findings import Status

COLUMNS = [*FEATURES, "label"]
LEAKAGE = {"id": "DATA-001", "kind": "leakage", "roles": ["training", "fine-tuning"], "max_overlap_share": 0.0,
           "rmf": ["MAP 2.3", "MEASURE 2.5"]}


def _release_with_fine_tuning(release_dir, tmp_path, shared: int, **rule_changes):
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    path = fine_tuning_set(d, shared)
    prov = provenance_for(d)
    prov["datasets"]["ft"] = {**dataset("fine-tuning", path.name), "sha256": sha(path)}
    return make_release(release_dir, tmp_path, provenance=prov)


def test_a_fine_tuning_set_sharing_7_rows_fails_and_reports_7(release_dir, tmp_path):
    findings, ev = gate(_release_with_fine_tuning(release_dir, tmp_path, 7), LEAKAGE)
    f = findings[0]
    assert ev.leakage is not None and ev.leakage.columns == COLUMNS
    assert ev.leakage.datasets["ft"].overlap_rows == 7 and ev.leakage.datasets["ft"].rows == 307
    assert f.status == Status.FAIL
    assert f.details["overlap_rows"] == 7 and f.observed == pytest.approx(7 / 1500)
    assert "7 of 1500 evaluation rows (0.47%) also occur in fine-tuning set 'ft'" in f.message
    # the training set has no local file: named as not compared, but the overlap found already fails the rule
    assert f.details["not_compared"] and "train" in f.details["not_compared"][0]


def test_thresholds_on_share_and_rows(release_dir, tmp_path):
    manifest = _release_with_fine_tuning(release_dir, tmp_path, 7)
    rule = {**LEAKAGE, "roles": ["fine-tuning"], "max_overlap_share": 0.01}
    findings, _ = gate(manifest, rule, {**rule, "id": "DATA-002", "max_overlap_rows": 6})
    assert [f.status for f in findings] == [Status.PASS, Status.FAIL]


def test_no_shared_rows_pass_and_an_unreadable_set_is_an_error(release_dir, tmp_path):
    manifest = _release_with_fine_tuning(release_dir, tmp_path, 0)
    findings, _ = gate(manifest, {**LEAKAGE, "roles": ["fine-tuning"]}, {**LEAKAGE, "id": "DATA-002"})
    assert findings[0].status == Status.PASS and findings[0].details["overlap_rows"] == 0
    # the training set is only a URI: leakage against it cannot be established, which is not a pass
    assert findings[1].status == Status.ERROR
    assert "training set 'train': no local file ('path') to compare" in findings[1].message


def test_a_set_without_the_feature_columns_is_reported(release_dir, tmp_path):
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    (d / "ft.csv").write_text("x0,label\n1,0\n")
    prov = provenance_for(d)
    prov["datasets"]["ft"] = {**dataset("fine-tuning", "ft.csv"), "sha256": sha(d / "ft.csv")}
    findings, _ = gate(make_release(release_dir, tmp_path, provenance=prov), {**LEAKAGE, "roles": ["fine-tuning"]})
    assert findings[0].status == Status.ERROR and "lacks the columns x1, x2, x3" in findings[0].message


def test_no_training_data_declared_is_an_error(release_dir, tmp_path):
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    prov = provenance_for(d)
    del prov["datasets"]["train"]
    for m in prov["models"].values():
        m["datasets"] = []
    findings, ev = gate(make_release(release_dir, tmp_path, provenance=prov), LEAKAGE)
    assert ev.leakage is None
    assert findings[0].status == Status.ERROR and "declares no training or fine-tuning dataset" in findings[0].message


def _fine_tuning_folder(release_dir, tmp_path, shared: int, *, break_schema: bool = False):
    """The fine-tuning set of ``_release_with_fine_tuning`` as a folder of two Parquet files (one in a subfolder)."""
    import pyarrow.parquet as pq

    from governance.hashing import sha256_file

    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    table = pq.read_table(fine_tuning_set(d, shared))
    folder = d / "finetune"
    (folder / "part=b").mkdir(parents=True)
    first = table.slice(0, 200)
    pq.write_table(first.drop_columns(["note"]) if break_schema else first, folder / "a.parquet", row_group_size=64)
    pq.write_table(table.slice(200), folder / "part=b" / "b.parquet", row_group_size=64)
    prov = provenance_for(d)
    prov["datasets"]["ft"] = {**dataset("fine-tuning", "finetune"), "sha256": sha256_file(folder)}
    return make_release(release_dir, tmp_path, provenance=prov)


def test_a_fine_tuning_set_given_as_a_folder_is_read_like_one_file(release_dir, tmp_path):
    findings, ev = gate(_fine_tuning_folder(release_dir, tmp_path, 7), {**LEAKAGE, "roles": ["fine-tuning"]})
    assert ev.leakage.datasets["ft"].problem is None
    assert ev.leakage.datasets["ft"].overlap_rows == 7 and ev.leakage.datasets["ft"].rows == 307
    assert findings[0].status == Status.FAIL


def test_a_folder_whose_files_disagree_is_not_a_pass(release_dir, tmp_path):
    findings, ev = gate(_fine_tuning_folder(release_dir, tmp_path, 0, break_schema=True),
                        {**LEAKAGE, "roles": ["fine-tuning"]})
    assert "note" in ev.leakage.datasets["ft"].problem and "a.parquet" in ev.leakage.datasets["ft"].problem
    assert findings[0].status == Status.ERROR
