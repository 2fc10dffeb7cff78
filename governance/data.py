"""Read the evaluation data in chunks with pyarrow (CSV or Parquet), never whole."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InputError
from .manifest import DataSpec

MISSING = "(missing)"


@dataclass(frozen=True)
class Chunk:
    offset: int  # index of the first row in the file
    features: pa.Table
    target: np.ndarray  # labels as text
    sensitive: list[tuple[np.ndarray, list[str]]]  # per sensitive column: (codes, values); nulls are "(missing)"

    def __len__(self) -> int:
        return len(self.target)


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz", ".csv.bz2")):
        return "csv"
    raise InputError(path, None, "unsupported data format: use .csv or .parquet")


def _arrow_error(path: Path, exc: Exception) -> InputError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return InputError(path, None, f"cannot read data: {first}")


class DataSource:
    """One evaluation data file with its target, sensitive and feature columns checked up front."""

    def __init__(self, path: Path, spec: DataSpec, manifest: Path) -> None:
        self.path, self.spec, self.manifest = path, spec, manifest
        self.format = _kind(path)
        schema = self._schema()
        names = list(schema.names)
        for field, cols in (("data.target", [spec.target]), ("data.sensitive", spec.sensitive),
                            ("data.features", spec.features or [])):
            for col in cols:
                if col not in names:
                    raise InputError(manifest, field, f"column {col!r} not found in {path.name} "
                                                      f"(columns: {', '.join(names)})")
        excluded = {spec.target, *spec.sensitive}
        self.features = list(spec.features) if spec.features is not None else [c for c in names if c not in excluded]
        if not self.features:
            raise InputError(manifest, "data.features", f"no feature columns left in {path.name}")
        self._schema_types = {n: schema.field(n).type for n in names}

    def _schema(self) -> pa.Schema:
        try:
            if self.format == "parquet":
                import pyarrow.parquet as pq

                return pq.ParquetFile(self.path).schema_arrow
            import pyarrow.csv as pcsv

            with pcsv.open_csv(self.path) as reader:
                return reader.schema
        except (pa.ArrowException, OSError) as exc:
            raise _arrow_error(self.path, exc) from None

    def _batches(self) -> Iterator[pa.RecordBatch]:
        columns = [*self.features, self.spec.target, *self.spec.sensitive]
        if self.format == "parquet":
            import pyarrow.parquet as pq

            yield from pq.ParquetFile(self.path).iter_batches(batch_size=self.spec.chunk_rows, columns=columns)
            return
        import pyarrow.csv as pcsv

        # Text for labels and slices; integers widened to float so a later "1.5" cannot break type inference.
        types: dict[str, pa.DataType] = {c: pa.string() for c in (self.spec.target, *self.spec.sensitive)}
        for c in self.features:
            if pa.types.is_integer(self._schema_types[c]):
                types[c] = pa.float64()
        convert = pcsv.ConvertOptions(column_types=types, include_columns=columns)
        with pcsv.open_csv(self.path, convert_options=convert,
                           read_options=pcsv.ReadOptions(block_size=1 << 22)) as reader:
            yield from reader

    def chunks(self) -> Iterator[Chunk]:
        offset = 0
        try:
            for table in _rechunk(self._batches(), self.spec.chunk_rows):
                yield self._chunk(table, offset)
                offset += table.num_rows
        except pa.ArrowException as exc:
            raise _arrow_error(self.path, exc) from None
        if offset == 0:
            raise InputError(self.path, None, "the evaluation data has no rows")

    def _chunk(self, table: pa.Table, offset: int) -> Chunk:
        target_col = table.column(self.spec.target)
        if target_col.null_count:
            first = int(np.flatnonzero(pc.is_null(target_col).to_numpy(zero_copy_only=False))[0])
            raise InputError(self.path, self.spec.target, f"missing target value in data row {offset + first + 1}")
        target = _as_text(target_col)
        sensitive = [_encode(table.column(c)) for c in self.spec.sensitive]
        return Chunk(offset, table.select(self.features), target, sensitive)


def _encode(col: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Dictionary-encode a column as text (hashing in Arrow, not sorting strings in numpy)."""
    text = pc.fill_null(pc.cast(col, pa.string()), MISSING).combine_chunks()
    encoded = pc.dictionary_encode(text)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()


def _as_text(col: pa.ChunkedArray) -> np.ndarray:
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        col = pc.cast(col, pa.string())
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)


def _rechunk(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Regroup arbitrary record batches into tables of exactly ``rows`` rows (the last may be shorter)."""
    buffer: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        buffer.append(batch)
        held += batch.num_rows
        while held >= rows:
            table = pa.Table.from_batches(buffer)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            buffer = rest.to_batches() if rest.num_rows else []
            held = rest.num_rows
    if held:
        yield pa.Table.from_batches(buffer)
