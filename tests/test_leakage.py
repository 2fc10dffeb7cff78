"""Leakage evidence: evaluation rows found in the fine-tuning or training data, by a stable, chunk-independent row hash.

The leakage rule's pass/fail cases are in tests/rules/test_leakage.py."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from builders import FEATURES

from governance.evidence.leakage import EvaluationRows, row_hashes
from governance.evidence.tables import iter_tables

COLUMNS = [*FEATURES, "label"]

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


def test_rows_copied_into_a_float32_file_are_found_at_float32_precision(tmp_path):
    """A training set saved as float32 held every evaluation row, yet none matched (0.1 as float32 is not 0.1):
    leakage passed at 0%. A column any compared file stores as float32 is compared at float32 precision in all."""
    from governance.evidence.leakage import leakage_narrow, measure_leakage

    rng = np.random.default_rng(0)
    values = rng.normal(size=(200, 2))
    ev = tmp_path / "ev.csv"
    pcsv.write_csv(pa.table({"a": values[:, 0], "b": values[:, 1], "label": rng.integers(0, 2, 200)}), ev)
    train = tmp_path / "train.parquet"
    copied = pa.table({"a": pa.array(values[:100, 0], pa.float32()), "b": values[:100, 1],
                       "label": pcsv.read_csv(ev).column("label").slice(0, 100)})
    pq.write_table(copied, train)
    sets = {"train": ("training", train, None, None)}
    narrow = leakage_narrow(ev, ["a", "b", "label"], sets, None)
    assert narrow == ["a"]
    found = measure_leakage(ev, ["a", "b", "label"], sets, 64)
    assert found.datasets["train"].overlap_rows == 100  # at float64 precision: 0
    plain = EvaluationRows.read(ev, ["a", "b", "label"], 64)
    assert plain.overlap(train, ["a", "b", "label"], 64).overlap_rows == 0  # what the gate measured before
    # a float64 copy is matched exactly as before, and no narrowing is asked for
    pq.write_table(pcsv.read_csv(ev).slice(0, 50), tmp_path / "train64.parquet")
    sets64 = {"train": ("training", tmp_path / "train64.parquet", None, None)}
    assert leakage_narrow(ev, ["a", "b", "label"], sets64, None) == []
    assert measure_leakage(ev, ["a", "b", "label"], sets64, 64).datasets["train"].overlap_rows == 50


def test_a_column_of_numbers_stored_as_text_in_a_training_file_is_named_not_measured_as_zero(tmp_path):
    """Numbers never match text, so a Parquet copy written from a pandas object column read 0% overlap."""
    from governance.evidence.leakage import KIND_CLASH, measure_leakage

    ev = tmp_path / "ev.csv"
    ev.write_text("a,label\n1.5,0\n2.5,1\n3.5,0\n")
    pq.write_table(pa.table({"a": [1.5, 2.5], "label": ["0", "1"]}), tmp_path / "train.parquet")
    found = measure_leakage(ev, ["a", "label"], {"train": ("training", tmp_path / "train.parquet", None, None)}, 64)
    got = found.datasets["train"]
    assert got.overlap_rows is None and got.problem == KIND_CLASH.format(column="label", there="text", here="numbers")


def test_a_training_csv_blank_through_its_first_block_is_still_compared(tmp_path, monkeypatch):
    """pyarrow typed the column null from its first block and refused the first number after it."""
    import pandas as pd

    from governance import data as data_module
    from governance.evidence.leakage import measure_leakage

    monkeypatch.setattr(data_module, "BLOCK_START", 1 << 12)
    frame = pd.DataFrame({"a": np.arange(2000) * 0.5, "label": np.arange(2000) % 2})
    frame.to_csv(tmp_path / "ev.csv", index=False)
    train = frame.assign(a=frame["a"].astype(object))
    train.loc[:999, "a"] = ""
    train.to_csv(tmp_path / "train.csv", index=False)
    found = measure_leakage(tmp_path / "ev.csv", ["a", "label"],
                            {"train": ("training", tmp_path / "train.csv", None, None)}, 256)
    assert found.datasets["train"].problem is None and found.datasets["train"].overlap_rows == 1000
