"""Leakage: evaluation rows found in the fine-tuning or training data, by a stable, chunk-independent row hash."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from conftest import FEATURES, make_frame
from governance.evidence.leakage import EvaluationRows, row_hashes
from governance.evidence.tables import iter_tables
from governance.findings import Status
from test_provenance import dataset, gate, make_release, provenance_for, sha

COLUMNS = [*FEATURES, "label"]
LEAKAGE = {"id": "DATA-001", "kind": "leakage", "roles": ["training", "fine-tuning"], "max_overlap_share": 0.0,
           "rmf": ["MAP 2.3", "MEASURE 2.5"]}


def _hashes(path, chunk_rows):
    return np.concatenate([row_hashes(t, COLUMNS) for t in iter_tables(path, COLUMNS, chunk_rows)])


def test_row_hashes_do_not_depend_on_chunking_or_file_format(release_dir, tmp_path):
    data = release_dir / "eval.csv"
    whole = _hashes(data, 100_000)
    assert len(whole) == 1500 and len(np.unique(whole)) == 1500
    assert np.array_equal(whole, _hashes(data, 7))
    pq.write_table(pcsv.read_csv(data), tmp_path / "eval.parquet", row_group_size=333)
    assert np.array_equal(whole, _hashes(tmp_path / "eval.parquet", 64))


def test_equal_values_hash_equal_whatever_their_type():
    ints = pa.table({"a": pa.array([1, 2, None, 0], pa.int64()), "b": ["x", "y", None, "z"]})
    floats = pa.table({"a": pa.array([1.0, 2.0, float("nan"), -0.0], pa.float64()),
                       "b": pa.array(["x", "y", None, "z"], pa.large_string())})
    assert np.array_equal(row_hashes(ints, ["a", "b"]), row_hashes(floats, ["a", "b"]))
    encoded = pa.table({"a": ints.column("a").dictionary_encode(), "b": ints.column("b").dictionary_encode()})
    assert np.array_equal(row_hashes(ints, ["a", "b"]), row_hashes(encoded, ["a", "b"]))
    as_text = pa.table({"a": ["1", "2", None, "0"], "b": ["x", "y", None, "z"]})
    assert not np.any(row_hashes(ints, ["a", "b"])[[0, 1, 3]] == row_hashes(as_text, ["a", "b"])[[0, 1, 3]])
    # the column order is part of the row: (1, 2) is not (2, 1)
    swapped = pa.table({"a": [1, 2], "b": [2, 1]})
    h = row_hashes(swapped, ["a", "b"])
    assert h[0] != h[1]


def test_overlap_counts_evaluation_rows_found_in_a_streamed_file(tmp_path):
    ev = tmp_path / "ev.csv"
    ev.write_text("a,b\n1,x\n2,y\n2,y\n3,z\n")
    other = tmp_path / "other.csv"
    other.write_text("b,a,c\ny,2.0,extra\nq,9,extra\n")
    rows = EvaluationRows.read(ev, ["a", "b"], 2)
    assert (rows.rows, len(rows.hashes)) == (4, 3)
    found = rows.overlap(other, ["a", "b"], 1)
    assert (found.rows, found.overlap_rows) == (2, 2)  # both copies of (2, y) count
    assert rows.duplicated_rows == 2


def _fine_tuning_set(d, shared: int, *, parquet: bool = True):
    """Fresh rows plus ``shared`` rows of the evaluation set, label as float, columns reordered, an extra column."""
    evaluation = pcsv.read_csv(d / "eval.csv")
    fresh = pa.Table.from_pandas(make_frame(300, 99)[[*FEATURES, "label"]], preserve_index=False)
    picked = evaluation.take(pa.array(range(0, 7 * shared, 7), pa.int64())).select(COLUMNS)
    table = pa.concat_tables([fresh, picked.cast(fresh.schema)])
    table = table.set_column(table.schema.get_field_index("label"), "label",
                             table.column("label").cast(pa.float64()))
    table = table.select(["label", *reversed(FEATURES)]).append_column("note", pa.array(["ft"] * table.num_rows))
    path = d / ("finetune.parquet" if parquet else "finetune.csv")
    if parquet:
        pq.write_table(table, path, row_group_size=50)
    else:
        pcsv.write_csv(table, path)
    return path


def _release_with_fine_tuning(release_dir, tmp_path, shared: int, **rule_changes):
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    path = _fine_tuning_set(d, shared)
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
