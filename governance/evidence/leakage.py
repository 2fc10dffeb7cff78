"""Leakage: evaluation rows that also occur in the training, fine-tuning or validation data.

Rows are compared by a 64-bit hash over the feature columns and the target, computed vectorised per chunk:

* numbers (integers, floats, decimals, booleans as 0/1) are compared *by value* as float64, so ``3`` in one
  file equals ``3.0`` in the other; ``-0.0`` equals ``0.0``; integers beyond 2**53 are rounded as float64
  rounds them; float32 columns compare at float32 precision (0.1 as float32 is not 0.1 as float64);
* text is compared exactly (its UTF-8 bytes); other types (dates, timestamps) by their text form; a column
  stored as numbers in one file and as text in the other never matches;
* a missing value (null, or NaN) is one value of its own, equal in both files.

Each value becomes a 64-bit hash (numbers: the splitmix64 finaliser of the float64 bits; text: blake2b-64 of each
distinct string of the chunk), and a row's hash folds its columns' hashes in a fixed column order. A row's hash
depends only on its values, never on how the file was cut into chunks. Two different rows share a hash with
probability about 2**-64 per pair (about 5e-4 for 10 million evaluation rows against a billion training rows).

Memory: the evaluation rows' hashes are kept as one sorted array of distinct uint64 values with their counts,
about 8 bytes per evaluation row while it is built and 17 bytes per distinct row after; every other dataset is
streamed in chunks against it, so its size does not matter. (Keeping the evaluation side, not the training side,
bounds memory by the smaller set in the usual case and serves any number of training and fine-tuning sets.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from .tables import column_names, iter_tables

METHOD = ("64-bit row hash over the feature and target columns (numbers by float64 value, text by its bytes, "
          "null = NaN); evaluation rows counted when their hash occurs in the dataset")

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_FOLD = np.uint64(0x9E3779B97F4A7C15)
_NUMBER = np.uint64(0x6E756D6265723634)  # tags keep a number and a text from sharing a hash by construction
_MISSING = np.uint64(0x6D697373696E6721)
_SEED = np.uint64(0x726F772D68617368)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised (uint64 arithmetic wraps)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_boolean(t)


def _text_hashes(values: list) -> np.ndarray:
    raw = b"".join(hashlib.blake2b(v.encode("utf-8"), digest_size=8, person=b"pg-text").digest() for v in values)
    return np.frombuffer(raw, dtype="<u8").astype(np.uint64)


def column_hashes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """One uint64 per value: equal values (in the sense of the module docstring) get equal hashes."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    n = len(column)
    with np.errstate(over="ignore"):
        if _is_number(column.type):
            values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64) + 0.0
            missing = np.isnan(values)  # nulls arrive as NaN
            out = _mix(values.view(np.uint64) ^ _NUMBER)
            out[missing] = _MISSING
            return out
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            column = pc.cast(column, pa.string())
        encoded = pc.dictionary_encode(column)
        indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        table = _text_hashes(encoded.dictionary.to_pylist())
        out = np.empty(n, dtype=np.uint64)
        ok = indices >= 0
        out[ok] = table[indices[ok]]
        out[~ok] = _MISSING
        return out


def row_hashes(table: pa.Table, columns: list[str]) -> np.ndarray:
    """One uint64 per row over ``columns`` in that order (vectorised; independent of chunking)."""
    h = np.full(table.num_rows, _SEED, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in columns:
            h = _mix(h * _FOLD + column_hashes(table.column(name)))
    return h


@dataclass
class EvaluationRows:
    """The evaluation rows' distinct hashes (sorted) and how many rows have each."""

    hashes: np.ndarray
    counts: np.ndarray
    rows: int

    @classmethod
    def read(cls, path: Path, columns: list[str], chunk_rows: int) -> "EvaluationRows":
        parts = [row_hashes(t, columns) for t in iter_tables(path, columns, chunk_rows)]
        allh = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
        hashes, counts = np.unique(allh, return_counts=True)
        return cls(hashes, counts.astype(np.int64), int(len(allh)))

    def overlap(self, path: Path, columns: list[str], chunk_rows: int) -> tuple[int, int]:
        """(rows of ``path``, evaluation rows whose hash occurs in ``path``), streaming ``path`` in chunks."""
        found = np.zeros(len(self.hashes), dtype=bool)
        rows = 0
        for table in iter_tables(path, columns, chunk_rows):
            h = row_hashes(table, columns)
            rows += len(h)
            if not len(self.hashes):
                continue
            idx = np.searchsorted(self.hashes, h)
            idx[idx == len(self.hashes)] = 0
            hit = self.hashes[idx] == h
            found[idx[hit]] = True
        return rows, int(self.counts[found].sum())


def measure_leakage(data_path: Path, columns: list[str], datasets: dict[str, tuple[str, Path | None, str | None]],
                    chunk_rows: int, folder: Path | None = None):
    """Overlap of the evaluation rows with each dataset: ``{name: (role, path or None, why it has none)}``;
    file paths are shown relative to ``folder``."""
    from ..hashing import file_ref
    from .schema import Leakage, LeakageSet

    evaluation = EvaluationRows.read(data_path, columns, chunk_rows)
    out = {}
    for name, (role, path, problem) in datasets.items():
        if path is None:
            out[name] = LeakageSet(role=role, problem=problem or "no local file ('path') to compare")
            continue
        ref = file_ref(path, folder)
        try:
            have = set(column_names(path))
        except InputError as exc:
            out[name] = LeakageSet(role=role, file=ref, problem=exc.message)
            continue
        lacking = [c for c in columns if c not in have]
        if lacking:
            out[name] = LeakageSet(role=role, file=ref, problem=f"lacks the columns {', '.join(lacking)}")
            continue
        rows, overlap = evaluation.overlap(path, columns, chunk_rows)
        out[name] = LeakageSet(role=role, file=ref, rows=rows, overlap_rows=overlap,
                               overlap_share=overlap / evaluation.rows if evaluation.rows else None)
    return Leakage(method=METHOD, columns=list(columns), evaluation_rows=evaluation.rows,
                   evaluation_distinct_rows=int(len(evaluation.hashes)), datasets=out)
