"""Precomputed predictions: a CSV or Parquet file of class probabilities, aligned row by row with the data.

The file is streamed (``pyarrow.csv.open_csv`` / ``ParquetFile.iter_batches``) and buffered so any
chunk size works with bounded memory: at most one requested chunk plus one file batch is held.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import InputError
from ._common import file_bytes, is_numeric, one_line
from .protocols import Description

PARQUET_MAGIC = b"PAR1"
BATCH_ROWS = 65536  # Parquet rows per batch
CSV_BLOCK_BYTES = 1 << 20  # CSV bytes per batch


#: the column names pandas gives a row index it writes (``to_csv`` without ``index=False``; ``to_parquet``)
INDEX_NAMES = frozenset({"", "Unnamed: 0", "__index_level_0__", "index"})
#: a predictions file with a written index and no declared columns (template: column, rest)
WRITTEN_INDEX = ("column {column!r} looks like a written row index (pandas to_csv without index=False), not a "
                 "class's scores: list the score columns in 'columns' (e.g. [{rest}]) or write the file without it")
#: a regression predictions file needs one value column (template: columns)
ONE_COLUMN = ("task: regression reads one prediction per row, but the file's columns are {columns}: name the "
              "prediction column in 'columns'")


def _is_parquet(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == PARQUET_MAGIC


class PredictionsAdapter:
    """Scores read from a file in row order: a ``ModelAdapter`` only. It is not ``Rescorable`` (nothing to re-run on
    perturbed inputs or time) and has no ``EfficiencyFacts`` or ``InputGradient`` (models/protocols.py)."""

    classes: list | None = None

    def __init__(self, path: Path, *, field: str, columns: list[str] | None) -> None:
        self.path = path
        self.field = field
        self.parquet = _is_parquet(path)
        self.columns = self._pick_columns(columns)
        self._batches = self._open()
        self._buffer: deque[np.ndarray] = deque()
        self._buffered = 0
        self._served = 0
        self._exhausted = False

    # -- opening -----------------------------------------------------------------------------
    def _schema(self) -> pa.Schema:
        try:
            if self.parquet:
                import pyarrow.parquet as pq

                return pq.ParquetFile(self.path).schema_arrow
            from pyarrow import csv

            reader = csv.open_csv(self.path)
            try:
                return reader.schema
            finally:
                reader.close()
        except Exception as exc:
            kind = "Parquet" if self.parquet else "CSV"
            raise InputError(
                self.path,
                f"{self.field}.path",
                f"cannot read predictions as {kind} ({one_line(exc)})",
            ) from exc

    def _pick_columns(self, columns: list[str] | None) -> list[str]:
        schema = self._schema()
        where = f"{self.field}.columns"
        if columns is not None:
            missing = [c for c in columns if c not in schema.names]
            if missing:
                raise InputError(
                    self.path,
                    where,
                    f"no column {', '.join(map(repr, missing))} in the predictions file "
                    f"(it has: {', '.join(schema.names)})",
                )
            picked = list(columns)
        else:
            picked = list(schema.names)
            if not picked:
                raise InputError(self.path, where, "the predictions file has no columns")
            if index := [c for c in picked if c in INDEX_NAMES]:  # a written row index is not a class's score
                raise InputError(self.path, where, WRITTEN_INDEX.format(column=index[0], rest=", ".join(
                    repr(c) for c in picked if c not in INDEX_NAMES)))
        for name in picked:
            if len(schema.get_all_field_indices(name)) != 1:
                raise InputError(self.path, where, f"column {name!r} appears more than once in the predictions file")
            t = schema.field(name).type
            if self.parquet and not is_numeric(t, boolean=False, null=True):
                raise InputError(
                    self.path,
                    where,
                    f"column {name!r} has type {t}, not a probability; name the score columns in 'columns'",
                )
            if not self.parquet and not is_numeric(t, boolean=False, null=True):
                raise InputError(
                    self.path,
                    where,
                    f"column {name!r} is not numeric; name the score columns in 'columns'",
                )
        return picked

    def _open(self) -> Iterator[pa.RecordBatch]:
        if self.parquet:
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(self.path, pre_buffer=False)  # the default cache keeps every row group read
            yield from pf.iter_batches(batch_size=BATCH_ROWS, columns=self.columns)
            return
        from pyarrow import csv

        convert = csv.ConvertOptions(
            include_columns=self.columns, column_types={c: pa.float64() for c in self.columns}
        )
        reader = csv.open_csv(
            self.path, read_options=csv.ReadOptions(block_size=CSV_BLOCK_BYTES), convert_options=convert
        )
        try:
            yield from reader
        finally:
            reader.close()

    # -- streaming ---------------------------------------------------------------------------
    def _next_batch(self) -> np.ndarray | None:
        if self._exhausted:
            return None
        try:
            batch = next(self._batches, None)
        except Exception as exc:  # a bad value further down the file
            raise InputError(
                self.path,
                f"{self.field}.path",
                f"cannot read predictions after row {self._served + self._buffered} ({one_line(exc)})",
            ) from exc
        if batch is None:
            self._exhausted = True
            return None
        cols = []
        for name in self.columns:
            col = batch.column(batch.schema.get_field_index(name))
            try:
                cols.append(np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64))
            except Exception as exc:
                raise InputError(
                    self.path,
                    f"{self.field}.columns",
                    f"column {name!r} is not numeric ({one_line(exc)})",
                ) from exc
        arr = np.column_stack(cols) if cols else np.empty((batch.num_rows, 0))
        bad = np.isnan(arr)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            row = self._served + self._buffered + int(r)
            raise InputError(
                self.path,
                f"{self.field}.columns",
                f"column {self.columns[c]!r} has a missing or NaN value at row {row}",
            )
        return arr

    def predict_proba(self, features: pa.Table, row_offset: int) -> np.ndarray:
        if row_offset != self._served:
            raise ValueError(f"predictions are read in order: expected row_offset {self._served}, got {row_offset}")
        n = features.num_rows
        while self._buffered < n:
            arr = self._next_batch()
            if arr is None:
                total = self._served + self._buffered
                raise InputError(
                    self.path,
                    f"{self.field}.path",
                    f"has {total} rows but the evaluation data has more (at least {row_offset + n}); predictions must "
                    "align row by row",
                )
            if len(arr):
                self._buffer.append(arr)
                self._buffered += len(arr)
        parts, need = [], n
        while need:
            head = self._buffer[0]
            if len(head) <= need:
                parts.append(self._buffer.popleft())
                need -= len(head)
            else:
                parts.append(head[:need])
                self._buffer[0] = head[need:]
                need = 0
        self._buffered -= n
        self._served += n
        if not parts:
            return np.empty((0, len(self.columns)), dtype=np.float64)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def predict_values(self, features: pa.Table, row_offset: int) -> np.ndarray:
        """``Regressor``: the file's one prediction column (name it in ``columns`` when the file has more)."""
        if len(self.columns) != 1:
            raise InputError(self.path, f"{self.field}.columns", ONE_COLUMN.format(columns=", ".join(self.columns)))
        return self.predict_proba(features, row_offset)[:, 0]

    def finish(self, n_rows: int) -> None:
        extra = self._buffered
        if not self._exhausted:  # count what is left without converting it
            try:
                extra += sum(batch.num_rows for batch in self._batches)
            except Exception as exc:
                raise InputError(
                    self.path,
                    f"{self.field}.path",
                    f"cannot read predictions after row {self._served + extra} ({one_line(exc)})",
                ) from exc
            self._exhausted = True
        self._buffer.clear()
        self._buffered = 0
        total = self._served + extra
        if total != n_rows:
            raise InputError(
                self.path,
                f"{self.field}.path",
                f"has {total} rows but the evaluation data has {n_rows}; predictions must align row by row",
            )

    def describe(self) -> Description:
        return {"format": "predictions", "parameters": None, "nonzero_parameters": None, "bytes": file_bytes(self.path)}


def load(
    spec: Any, path: Path, *, field: str, manifest: Path, trust_pickle: bool = False, device: str = "cpu"
) -> PredictionsAdapter:
    return PredictionsAdapter(path, field=field, columns=spec.columns)
