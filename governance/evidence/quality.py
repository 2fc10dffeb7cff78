"""Data quality of the evaluation set: missing values, constant columns, duplicate rows and class balance.

A poorly built evaluation set is the seed of many silent failures: a feature that is half empty, a column that
holds one value, the same rows many times over, a class balance unlike the training data's. These facts are
measured in the scoring pass's one read of the evaluation file (:class:`QualityAccumulator`, fed by
``ReleaseFacts.update`` with every chunk), vectorised, in bounded memory, and mergeable (``merge`` of two
accumulators over two parts of a file equals one accumulator over the whole file).

What is counted, per feature, target and sensitive column:

* ``missing``: null values; in floating-point columns also NaN; in a CSV's text columns also pyarrow's null
  markers (``""``, ``NA``, ``NaN``, ``null``, ... the same markers that make a numeric CSV value null: see
  governance/data.py), so the count agrees with pandas' ``isna()`` for CSV and Parquet alike;
* ``distinct``: distinct non-missing values, compared by the leakage check's 64-bit value hash (numbers by float64
  value, text by its bytes), counted exactly up to ``DISTINCT_CAP`` (then "at least" that many: the smallest
  hashes are kept, so merged parts agree); ``constant``: exactly one distinct non-missing value.

Duplicate rows are rows equal, on the features and the target, to an earlier row: pandas'
``duplicated().sum()`` over those columns (a missing value equals another missing value, as there). When the
leakage check already hashes the evaluation rows by content (a provenance with a training set and no key), its row
hashes are reused; otherwise the rows are hashed here with the same function. Distinct row hashes are kept
exactly up to ``DUPLICATE_CAP``; past it only the hashes below a threshold (halved as needed) are kept, a uniform
sample of the distinct rows that keeps every copy of a sampled row, and the duplicate share is estimated from it
(``duplicate_exact: false`` says so).

Class balance (classification only): the share of rows per label, as the gate reads labels (text); when the
provenance declares the training dataset's ``class_balance``, the total variation distance between the two
(half the sum of absolute differences over the labels of either).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .leakage import EvaluationRows, column_hashes, row_hashes
from .schema import ColumnQuality, DataQuality

ColumnRole = Literal["feature", "target", "sensitive"]
#: distinct values counted exactly per column (then "at least" this many)
DISTINCT_CAP = 1000
#: distinct row hashes kept exactly (16 bytes each); past it, a hash-value sample of this size at most
DUPLICATE_CAP = 1 << 20
#: labels counted for the class balance (more: not a classification target, no balance reported)
CLASS_CAP = 10_000
_ALL = np.uint64(np.iinfo(np.uint64).max)
EXACT_METHOD = "exact: distinct 64-bit row hashes over {columns} counted"
REUSED_METHOD = "exact: the leakage check's 64-bit row hashes over {columns}, distinct hashes counted"
SAMPLED_METHOD = ("estimated: more than {cap} distinct rows, so only the row hashes below 2**64 / {fraction} (a "
                  "uniform sample of the distinct rows, every copy of each) were kept; duplicate share measured on "
                  "the {sampled} rows sampled")
TOO_MANY_LABELS = "the target has more than {cap} distinct labels: no class balance"


def _text(col: pa.Array) -> bool:
    return pa.types.is_string(col.type) or pa.types.is_large_string(col.type)


def _comparable(col: pa.Array) -> pa.Array:
    """Binary and nested columns (which the value hash cannot read as text) as the text of each value."""
    t = col.type
    if not (pa.types.is_nested(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)
            or pa.types.is_fixed_size_binary(t)):
        return col
    return pa.array([None if v is None else repr(v) for v in col.to_pylist()], pa.string())


def present_mask(col: pa.Array, markers: pa.Array | None) -> pa.Array:
    """True where a value is present: not null, not NaN, and (``markers``: CSV text) not a null marker."""
    present = pc.is_valid(col)
    if pa.types.is_floating(col.type):
        present = pc.and_(present, pc.invert(pc.fill_null(pc.is_nan(col), True)))
    elif markers is not None and _text(col):
        present = pc.and_(present, pc.invert(pc.is_in(col, value_set=markers)))
    return present


def smallest_distinct(hashes: np.ndarray, cap: int) -> np.ndarray:
    """The distinct values of ``hashes``, sorted, or, when there are more than ``cap``, the smallest ``cap + 1`` of
    them (all a capped count keeps, plus one to say it is past the cap): from a partition of the smallest
    ``2 cap + 2``, not a sort of all (a column of 65,536 distinct numbers in the first chunk)."""
    if len(hashes) > 4 * (cap + 1):
        low = np.unique(np.partition(hashes, 2 * cap + 1)[:2 * cap + 2])  # every value up to the (2 cap + 2)-th
        if len(low) > cap:  # the cap + 1 smallest distinct values are all among them
            return low[:cap + 1]
    return np.unique(hashes)


@dataclass
class _Column:
    role: ColumnRole
    missing: int = 0
    hashes: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))  # sorted, distinct
    saturated: bool = False  # the cap was reached: no more hashing

    def add(self, hashes: np.ndarray, cap: int) -> None:
        merged = np.union1d(self.hashes, hashes)
        if len(merged) > cap:
            merged, self.saturated = merged[:cap], True
        self.hashes = merged

    def merge(self, other: _Column, cap: int) -> None:
        self.missing += other.missing
        self.saturated = self.saturated or other.saturated
        self.add(other.hashes, cap)


class RowDuplicates:
    """Distinct row hashes with their counts, exact up to ``cap``; past it a hash-value sample (all hashes at most
    ``_ALL >> level``), so memory stays bounded and every copy of a sampled row is in the sample."""

    def __init__(self, cap: int = DUPLICATE_CAP) -> None:
        self.cap, self.level, self.rows = cap, 0, 0
        self.hashes, self.counts = np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_size = 0

    @property
    def threshold(self) -> np.uint64:
        return np.uint64(int(_ALL) >> self.level)

    def update(self, hashes: np.ndarray) -> None:
        self.rows += len(hashes)
        if self.level:
            hashes = hashes[hashes <= self.threshold]
        h, c = np.unique(hashes, return_counts=True)
        self._pending.append((h, c.astype(np.int64)))
        self._pending_size += len(h)
        if self._pending_size >= max(len(self.hashes), 1 << 16):
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        h = np.concatenate([self.hashes, *(p[0] for p in self._pending)])
        c = np.concatenate([self.counts, *(p[1] for p in self._pending)])
        self._pending, self._pending_size = [], 0
        self.hashes, inverse = np.unique(h, return_inverse=True)
        self.counts = np.bincount(inverse, weights=c, minlength=len(self.hashes)).astype(np.int64)
        self._bound()

    def _bound(self) -> None:
        if self.level:
            keep = self.hashes <= self.threshold
            self.hashes, self.counts = self.hashes[keep], self.counts[keep]
        while len(self.hashes) > self.cap:
            self.level += 1
            keep = self.hashes <= self.threshold
            self.hashes, self.counts = self.hashes[keep], self.counts[keep]

    def merge(self, other: RowDuplicates) -> None:
        self._flush()
        other._flush()
        self.level = max(self.level, other.level)
        self.rows += other.rows
        self._pending = [(other.hashes, other.counts)]
        self._pending_size = len(other.hashes)
        self._flush()
        self._bound()

    def result(self) -> tuple[int, bool, int]:
        """(duplicate rows, exact, rows the estimate rests on)."""
        self._flush()
        distinct, sampled = len(self.hashes), int(self.counts.sum())
        if self.level == 0:
            return self.rows - distinct, True, self.rows
        share = (sampled - distinct) / sampled if sampled else 0.0
        return round(share * self.rows), False, sampled


class QualityAccumulator:
    """Folds chunks of the evaluation data into the counts of :class:`DataQuality`.

    ``columns``: column -> its role; ``markers``: the CSV null markers (None for Parquet: text is never missing
    there unless null); ``row_columns``: the columns rows are compared on, hashed here unless ``hash_rows`` is
    false (the caller then passes the leakage check's row hashes of those columns to :meth:`result`); ``target``:
    the column whose labels make the class balance (None: regression, no balance)."""

    def __init__(self, columns: dict[str, ColumnRole], *, markers: pa.Array | None, row_columns: list[str],
                 hash_rows: bool = True, target: str | None = None, distinct_cap: int = DISTINCT_CAP,
                 duplicate_cap: int = DUPLICATE_CAP) -> None:
        self.columns = {name: _Column(role) for name, role in columns.items()}
        self.markers, self.row_columns, self.hash_rows, self.target = markers, list(row_columns), hash_rows, target
        self.distinct_cap = distinct_cap
        self.duplicates = RowDuplicates(duplicate_cap) if hash_rows else None
        self.labels: dict[str, int] | None = {} if target is not None else None
        self.rows = 0

    def update(self, table: pa.Table) -> None:
        """Fold one chunk holding every column of ``columns`` (and ``row_columns``)."""
        self.rows += table.num_rows
        clean: dict[str, pa.Array] = {}  # missing values as null (so a NaN, a null and "NA" are one value)
        for name, state in self.columns.items():
            col = table.column(name).combine_chunks()
            if pa.types.is_dictionary(col.type):
                col = col.cast(col.type.value_type)
            col = _comparable(col)
            present = present_mask(col, self.markers)
            kept = pc.sum(present).as_py() or 0
            state.missing += len(col) - kept
            if not state.saturated and kept:
                # the distinct values' hashes (Arrow's hash table first: most columns repeat their values)
                state.add(smallest_distinct(column_hashes(pc.unique(pc.filter(col, present))), self.distinct_cap),
                          self.distinct_cap)
            clean[name] = col if kept == len(col) else pc.if_else(present, col, pa.scalar(None, col.type))
        if self.duplicates is not None:
            self.duplicates.update(row_hashes(pa.table({c: clean[c] for c in self.row_columns}), self.row_columns))
        if self.labels is not None and self.target is not None:
            counts = pc.value_counts(pc.cast(table.column(self.target), pa.string()))
            for value, count in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()):
                key = "(missing)" if value is None else value
                self.labels[key] = self.labels.get(key, 0) + count
            if len(self.labels) > CLASS_CAP:
                self.labels = None

    def merge(self, other: QualityAccumulator) -> None:
        """Fold ``other`` (the same columns, over other rows) into this one."""
        self.rows += other.rows
        for name, state in self.columns.items():
            state.merge(other.columns[name], self.distinct_cap)
        if self.duplicates is not None and other.duplicates is not None:
            self.duplicates.merge(other.duplicates)
        if self.labels is not None and other.labels is not None:
            for k, v in other.labels.items():
                self.labels[k] = self.labels.get(k, 0) + v
            if len(self.labels) > CLASS_CAP:
                self.labels = None
        elif other.labels is None:
            self.labels = None

    def result(self, *, evaluation: EvaluationRows | None = None,
               training: tuple[str, dict[str, float]] | None = None) -> DataQuality:
        """The evidence. ``evaluation``: the leakage check's row hashes of the same rows (used when this
        accumulator does not hash rows); ``training``: (dataset name, its declared class balance)."""
        n = self.rows
        notes: list[str] = []
        shown = ", ".join(self.row_columns)
        if self.duplicates is not None:
            dup, exact, sampled = self.duplicates.result()
            method = (EXACT_METHOD.format(columns=shown) if exact else
                      SAMPLED_METHOD.format(cap=self.duplicates.cap, fraction=2 ** self.duplicates.level,
                                            sampled=sampled))
        elif evaluation is not None:
            dup, exact, method = evaluation.rows - len(evaluation.hashes), True, REUSED_METHOD.format(columns=shown)
        else:  # pragma: no cover - ReleaseFacts always gives one or the other
            raise ValueError("no row hashes: hash_rows=False needs the leakage check's EvaluationRows")
        balance = None
        if self.target is not None and self.labels is None:
            notes.append(TOO_MANY_LABELS.format(cap=CLASS_CAP))
        elif self.labels is not None and n:
            balance = {k: self.labels[k] / n for k in sorted(self.labels)}
        distance = None
        if balance is not None and training is not None:
            declared = training[1]
            distance = 0.5 * sum(abs(balance.get(k, 0.0) - declared.get(k, 0.0)) for k in {*balance, *declared})
        columns = {}
        for name, state in self.columns.items():
            distinct = len(state.hashes)
            columns[name] = ColumnQuality(role=state.role, missing=state.missing,
                                          missing_share=state.missing / n if n else None, distinct=distinct,
                                          distinct_at_least=state.saturated, constant=distinct == 1)
        return DataQuality(rows=n, columns=columns, duplicate_rows=dup, duplicate_share=dup / n if n else None,
                           duplicate_exact=exact, duplicate_columns=list(self.row_columns), duplicate_method=method,
                           class_balance=balance, training_dataset=training[0] if training else None,
                           training_class_balance=dict(training[1]) if training else None,
                           class_balance_distance=distance, notes=notes)
