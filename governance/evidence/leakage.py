"""Leakage: evaluation rows that also occur in the training, fine-tuning or validation data.

Rows are compared by a 64-bit hash over the feature columns and the target, computed vectorised per chunk:

* numbers (integers, floats, decimals, booleans as 0/1) are compared *by value* as float64, so ``3`` in one
  file equals ``3.0`` in the other; ``-0.0`` equals ``0.0``; integers beyond 2**53 are rounded as float64
  rounds them; a column stored as float32 (or float16) in *any* of the compared files is compared at float32
  precision in all of them (``narrow``), since 0.1 as float32 is not 0.1 as float64: evaluation rows copied into
  a float32 training file matched nothing and leakage passed at 0%;
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
The evaluation side is built chunk by chunk too (:class:`EvaluationHasher`, fed by the scoring pass's own stream
of the evaluation file, so the file is not read again for leakage): each chunk's distinct hashes with counts are
merged into the running set, so no array of all evaluation rows is ever held.

Identity or coincidence. Two people with identical features are two rows with one hash: without a key an overlap
can be coincidence. So next to the overlap the evidence records what chance explains:

* the *within-set duplicate share*: the share of evaluation rows whose hash occurs more than once in the evaluation
  set. For evaluation rows drawn independently of the training rows from the same population, this is exactly the
  expected share of evaluation rows found among ``n - 1`` other independent rows (n: evaluation rows);
* the *matched overlap*: evaluation rows found in a uniform sample of ``n - 1`` training rows (or all of them when
  the training set is smaller), chosen by a hash of the row's position (``_mix(index ^ _PICK)``), independent of
  chunking. Each evaluation hash keeps the smallest such priority among its matches, so one pass serves any sample
  size. When the training set has fewer than ``n - 1`` rows, the expected share for that size is computed exactly
  from the evaluation counts (hypergeometric, :func:`chance_share`).

Under coincidence alone the matched overlap share and the chance share are equal in expectation, whatever the
data's distribution; copied rows push the first above the second. With declared key columns (``data.key``,
provenance ``key``) rows are compared on the key only: identity is exact and nothing is attributed to chance.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from .tables import column_types, iter_tables

METHOD = ("64-bit row hash over the feature and target columns (numbers by float64 value, text by its bytes, "
          "null = NaN); evaluation rows counted when their hash occurs in the dataset; chance judged by the "
          "evaluation set's within-set duplicate share against the overlap with a uniform sample of as many "
          "training rows")
KEY_METHOD = ("64-bit hash over the declared key columns (numbers by float64 value, text by its bytes); evaluation "
              "rows counted when their key occurs in the dataset: identity, nothing attributed to chance")

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_FOLD = np.uint64(0x9E3779B97F4A7C15)
_NUMBER = np.uint64(0x6E756D6265723634)  # tags keep a number and a text from sharing a hash by construction
_MISSING = np.uint64(0x6D697373696E6721)
_SEED = np.uint64(0x726F772D68617368)
_PICK = np.uint64(0x73616D706C652121)  # seeds the row-position priority of the matched training sample
_TOP = float(2 ** 64)


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


#: the types that make a compared column "narrow" (compared at float32 precision in every file)
NARROW_TYPES = (pa.float16(), pa.float32())


def narrow_columns(columns: list[str], *schemas: dict[str, pa.DataType]) -> list[str]:
    """The ``columns`` that some schema stores as float32 or float16: they are compared at float32 precision."""
    return [c for c in columns if any(schema.get(c) in NARROW_TYPES for schema in schemas)]


def column_hashes(column: pa.ChunkedArray | pa.Array, narrow: bool = False) -> np.ndarray:
    """One uint64 per value: equal values (in the sense of the module docstring) get equal hashes; ``narrow``:
    numbers rounded to float32 first (a column some compared file holds as float32)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    n = len(column)
    with np.errstate(over="ignore"):
        if _is_number(column.type):
            values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64) + 0.0
            if narrow:
                with np.errstate(over="ignore"):  # beyond float32's range: inf, equal in every file alike
                    values = values.astype(np.float32).astype(np.float64) + 0.0
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


def row_hashes(table: pa.Table, columns: list[str], narrow: Collection[str] = ()) -> np.ndarray:
    """One uint64 per row over ``columns`` in that order (vectorised; independent of chunking); the ``narrow``
    ones at float32 precision."""
    h = np.full(table.num_rows, _SEED, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in columns:
            h = _mix(h * _FOLD + column_hashes(table.column(name), name in narrow))
    return h


def position_priority(offset: int, n: int) -> np.ndarray:
    """A uniform uint64 per row position ``offset .. offset + n - 1``: equal for equal positions, whatever the
    chunking (used to pick a uniform sample of rows in one pass: keep the rows of smallest priority)."""
    with np.errstate(over="ignore"):
        return _mix(np.arange(offset, offset + n, dtype=np.uint64) ^ _PICK)


def chance_share(counts: np.ndarray, rows: int, sample: int) -> float:
    """Expected share of evaluation rows whose value occurs among ``sample`` other rows drawn from the same
    population, estimated without bias from the evaluation counts (``sample <= rows - 1``): for a row whose value
    occurs ``c`` times, the chance that a random ``sample`` of the other ``rows - 1`` rows holds one of its ``c - 1``
    twins. With ``sample = rows - 1`` it is the within-set duplicate share."""
    if rows < 2 or sample <= 0:
        return 0.0
    sample = min(sample, rows - 1)
    values, weight = np.unique(counts[counts > 1], return_counts=True)
    total = 0.0
    for c, w in zip(values.tolist(), weight.tolist()):
        rest = rows - c  # the other rows without this value
        miss = 0.0 if rest < sample else math.exp(math.lgamma(rest + 1) - math.lgamma(rest - sample + 1)
                                                 - math.lgamma(rows) + math.lgamma(rows - sample))
        total += c * w * (1.0 - miss)
    return total / rows


@dataclass
class Overlap:
    """One dataset against the evaluation rows."""

    rows: int  #: rows in the dataset
    overlap_rows: int  #: evaluation rows whose hash occurs in it
    sample_rows: int  #: expected size of the uniform sample compared at the evaluation set's size
    sample_overlap_rows: int  #: evaluation rows whose hash occurs in that sample
    chance_share: float  #: expected share of evaluation rows in a sample of that size by coincidence alone


@dataclass
class EvaluationRows:
    """The evaluation rows' distinct hashes (sorted) and how many rows have each."""

    hashes: np.ndarray
    counts: np.ndarray
    rows: int
    narrow: tuple[str, ...] = ()  #: the columns hashed at float32 precision (every dataset hashes them so)

    @classmethod
    def read(cls, path: Path, columns: list[str], chunk_rows: int, narrow: Collection[str] = ()) -> EvaluationRows:
        """Stream ``path`` on its own (the gate feeds :class:`EvaluationHasher` from the scoring pass instead)."""
        hasher = EvaluationHasher(columns, narrow)
        for table in iter_tables(path, columns, chunk_rows):
            hasher.update(table)
        return hasher.result()

    @property
    def duplicated_rows(self) -> int:
        """Evaluation rows whose hash occurs more than once in the evaluation set."""
        return int(self.counts[self.counts > 1].sum())

    def overlap(self, path: Path, columns: list[str], chunk_rows: int,
                other_columns: list[str] | None = None) -> Overlap:
        """Stream ``path`` in chunks (hashing ``other_columns``, default ``columns``) against the evaluation rows."""
        other = other_columns or columns
        narrow = {o for c, o in zip(columns, other) if c in self.narrow}  # a key named otherwise: by position
        best = np.full(len(self.hashes), np.iinfo(np.uint64).max, dtype=np.uint64)  # smallest priority of a match
        found = np.zeros(len(self.hashes), dtype=bool)
        rows = 0
        for table in iter_tables(path, other, chunk_rows):
            h = row_hashes(table, other, narrow)
            priority = position_priority(rows, len(h))
            rows += len(h)
            if not len(self.hashes):
                continue
            idx = np.searchsorted(self.hashes, h)
            idx[idx == len(self.hashes)] = 0
            hit = self.hashes[idx] == h
            found[idx[hit]] = True
            np.minimum.at(best, idx[hit], priority[hit])
        n = self.rows
        sample = min(rows, max(n - 1, 0))
        if sample >= rows:
            in_sample = found
        else:
            in_sample = found & (best.astype(np.float64) < sample / rows * _TOP)
        return Overlap(rows=rows, overlap_rows=int(self.counts[found].sum()), sample_rows=sample,
                       sample_overlap_rows=int(self.counts[in_sample].sum()),
                       chance_share=chance_share(self.counts, n, sample))


class EvaluationHasher:
    """Builds :class:`EvaluationRows` chunk by chunk from whichever stream reads the evaluation data: each chunk's
    distinct hashes with counts are merged into the running set (merges are batched so the work stays
    O(n log n); memory: the distinct hashes plus at most as many pending, never an array of all rows)."""

    def __init__(self, columns: list[str], narrow: Collection[str] = ()) -> None:
        self.columns = list(columns)
        self.narrow = tuple(c for c in self.columns if c in set(narrow))
        self._hashes, self._counts = np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_size, self.rows = 0, 0

    def update(self, table: pa.Table) -> None:
        """Fold one chunk holding ``columns`` (in the types the training files are read with)."""
        h, c = np.unique(row_hashes(table, self.columns, self.narrow), return_counts=True)
        self.rows += table.num_rows
        self._pending.append((h, c.astype(np.int64)))
        self._pending_size += len(h)
        if self._pending_size >= max(len(self._hashes), 1 << 16):
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._hashes, self._counts = _merge([(self._hashes, self._counts), *self._pending])
            self._pending, self._pending_size = [], 0

    def merge(self, other: EvaluationHasher) -> EvaluationHasher:
        """A new hasher over both parts' rows (the Dask engine's merge tree). Exact and order-independent: a row's
        hash depends only on its values, and the merged set is the distinct hashes of both with their counts
        summed, which is what one hasher over all the rows holds."""
        if self.columns != other.columns or self.narrow != other.narrow:
            raise ValueError(f"hashers of different columns: {self.columns} vs {other.columns}")
        out = EvaluationHasher(self.columns, self.narrow)
        out._hashes, out._counts = _merge([(self._hashes, self._counts), *self._pending,
                                           (other._hashes, other._counts), *other._pending])
        out.rows = self.rows + other.rows
        return out

    def result(self) -> EvaluationRows:
        self._flush()
        return EvaluationRows(self._hashes, self._counts, self.rows, self.narrow)


def _merge(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    h = np.concatenate([p[0] for p in parts])
    c = np.concatenate([p[1] for p in parts])
    hashes, inverse = np.unique(h, return_inverse=True)
    return hashes, np.bincount(inverse, weights=c, minlength=len(hashes)).astype(np.int64)


#: a compared column is numbers in one file and text in the other (template: column, there, here)
KIND_CLASH = ("column {column!r} is {there} there and {here} in the evaluation data, so no value can match: store it "
              "as the same kind in both (overlap not measured)")


def _kind_clash(hashed: list[str], other: list[str], evaluation: dict[str, pa.DataType],
                dataset: dict[str, pa.DataType]) -> str | None:
    """Why a dataset's rows cannot be compared at all: a column of numbers in one file is text in the other (a
    Parquet file written from a pandas object column), so the overlap would read 0% whatever was copied."""
    def kind(t: pa.DataType | None) -> str | None:
        if t is None:
            return None
        if _is_number(t):
            return "numbers"
        return "text" if pa.types.is_string(t) or pa.types.is_large_string(t) else None

    for c, o in zip(hashed, other):
        here, there = kind(evaluation.get(c)), kind(dataset.get(o))
        if here is not None and there is not None and here != there:
            return KIND_CLASH.format(column=o, there=there, here=here)
    return None


def leakage_narrow(data_path: Path, hashed: list[str],
                   datasets: dict[str, tuple[str, Path | None, str | None, list[str] | None]],
                   key: list[str] | None) -> list[str]:
    """The ``hashed`` columns some compared file (the evaluation data or a dataset with a local file) stores as
    float32 or float16, read from headers and footers only; a dataset's own key columns stand for the
    evaluation's by position. A file that cannot be read here is reported by :func:`measure_leakage`."""
    schemas = []
    for path, own_key in [(data_path, None), *((p, k) for _, p, _, k in datasets.values() if p is not None)]:
        try:
            types = column_types(path)
        except InputError:
            continue
        other = own_key if key and own_key and len(own_key) == len(hashed) else hashed
        schemas.append({c: types.get(o) for c, o in zip(hashed, other)})
    return narrow_columns(hashed, *schemas)


def measure_leakage(data_path: Path, columns: list[str],
                    datasets: dict[str, tuple[str, Path | None, str | None, list[str] | None]],
                    chunk_rows: int, folder: Path | None = None, key: list[str] | None = None,
                    evaluation: EvaluationRows | None = None, narrow: Collection[str] | None = None):
    """Overlap of the evaluation rows with each dataset: ``{name: (role, path or None, why it has none, its key
    columns or None)}``. With ``key`` (the evaluation data's key columns) rows are compared on their key only, a
    dataset's own key columns standing for the evaluation's in that order; without, on ``columns``. File paths are
    shown relative to ``folder``. ``evaluation``: the evaluation rows already hashed (by the scoring pass);
    without it ``data_path`` is read here. Each dataset is then read once, streamed against them."""
    from ..hashing import file_ref
    from .schema import Leakage, LeakageSet

    hashed = list(key) if key else list(columns)
    try:
        evaluation_types = column_types(data_path)
    except InputError:
        evaluation_types = {}
    if evaluation is None:
        if narrow is None:
            narrow = leakage_narrow(data_path, hashed, datasets, key)
        evaluation = EvaluationRows.read(data_path, hashed, chunk_rows, narrow)
    n = evaluation.rows
    out = {}
    for name, (role, path, problem, own_key) in datasets.items():
        if path is None:
            out[name] = LeakageSet(role=role, problem=problem or "no local file ('path') to compare")
            continue
        ref = file_ref(path, folder)
        other = list(own_key) if key and own_key else hashed
        if key and len(other) != len(hashed):
            out[name] = LeakageSet(role=role, file=ref, key=other,
                                   problem=f"its key ({', '.join(other)}) has {len(other)} columns, the evaluation "
                                           f"data's ({', '.join(hashed)}) {len(hashed)}")
            continue
        try:
            have = column_types(path)
        except InputError as exc:
            out[name] = LeakageSet(role=role, file=ref, problem=exc.message)
            continue
        lacking = [c for c in other if c not in have]
        if lacking:
            what = "key columns" if key else "columns"
            out[name] = LeakageSet(role=role, file=ref, key=other if key else None,
                                   problem=f"lacks the {what} {', '.join(lacking)}")
            continue
        if (clash := _kind_clash(hashed, other, evaluation_types, have)) is not None:
            out[name] = LeakageSet(role=role, file=ref, key=other if key else None, problem=clash)
            continue
        o = evaluation.overlap(path, hashed, chunk_rows, other)

        def share(x: int) -> float | None:
            return x / n if n else None

        out[name] = LeakageSet(role=role, file=ref, rows=o.rows, overlap_rows=o.overlap_rows,
                               overlap_share=share(o.overlap_rows), key=other if key else None,
                               sample_rows=None if key else o.sample_rows,
                               sample_overlap_rows=None if key else o.sample_overlap_rows,
                               sample_overlap_share=None if key else share(o.sample_overlap_rows),
                               chance_share=None if key else o.chance_share)
    duplicated = evaluation.duplicated_rows
    return Leakage(method=KEY_METHOD if key else METHOD, columns=hashed, key=list(key) if key else None,
                   evaluation_rows=n, evaluation_distinct_rows=len(evaluation.hashes),
                   duplicated_rows=duplicated, duplicated_share=duplicated / n if n else None, datasets=out)
