"""Read the evaluation data in chunks with pyarrow (CSV or Parquet), never whole."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import dataset
from .errors import InputError
from .manifest import DataSpec

MISSING = "(missing)"
#: CSV blocks start at 4 MiB and grow (x4) up to 128 MiB when a row does not fit, so a large field is read, not fatal
BLOCK_START, BLOCK_MAX = 1 << 22, 1 << 27
ROW_TOO_LARGE = ("a row near data row {row} is larger than {limit} MiB, the most the gate reads at once: shorten or "
                 "remove the large field (or drop its column from the file)")
NOT_A_NUMBER = ("data row {row}: {value!r} is not a number, though the column's other values are: fix the value, leave "
                "the cell empty for a missing value, or list the column under data.categorical if it holds text")
NOT_READABLE_AS = "data row {row}: {value!r} cannot be read as {type}, the type of the column's other values"
NOT_FINITE = ("data row {row}: {value} is not a finite number; features must be finite (leave the cell empty for a "
              "missing value)")
_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
NOT_UTF8 = "data row {row}: {value!r} is not UTF-8 text: save the file as UTF-8 (the gate reads CSV as UTF-8 only)"
NOT_FLAT = "the column holds {type} values: the gate reads columns of numbers, text, booleans, dates and times"
NOT_AN_INPUT = " (not a model input? list the inputs in data.features and it is left out)"
DUPLICATE_COLUMN = ("column {column!r} appears {times} times among the file's columns: every column needs a name of "
                    "its own")
_NULLS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "N/A", "NA",
          "NULL", "NaN", "n/a", "nan", "null")  # pyarrow's CSV null markers, never taken for a bad value


_NO_LABELS = np.empty(0, dtype=object)


#: the most class scores (rows x classes) one model's output may hold at a time: a chunk of a 1,000-class model is
#: scored and folded in pieces of this many numbers (32 MB of float64), so memory stays bound whatever the classes
SCORE_NUMBERS = 4_000_000


def score_rows(classes: int) -> int:
    """Rows scored at a time for a model of ``classes`` outputs (:data:`SCORE_NUMBERS`)."""
    return max(1, SCORE_NUMBERS // max(classes, 1))


@dataclass(frozen=True)
class Chunk:
    offset: int  # index of the first row in the file
    features: pa.Table
    target: np.ndarray  # labels as text (empty for a production sample without labels: see ``labelled``)
    sensitive: list[tuple[np.ndarray, list[str]]]  # per sensitive column: (codes, values); nulls are "(missing)"
    #: the rows as read, for the other users of the one stream (leakage hashes, the personal-data sample):
    #: Parquet columns in the file's types, CSV every column as its exact text (see :meth:`DataSource.typed`)
    raw: pa.Table | None = None

    def __len__(self) -> int:
        return self.features.num_rows

    def piece(self, start: int, rows: int) -> Chunk:
        """Rows ``start .. start + rows`` of this chunk, as a chunk of their own (global offset kept)."""
        return Chunk(self.offset + start, self.features.slice(start, rows), self.target[start:start + rows],
                     [(codes[start:start + rows], values) for codes, values in self.sensitive],
                     None if self.raw is None else self.raw.slice(start, rows))

    def pieces(self, rows: int) -> Iterator[Chunk]:
        """This chunk in pieces of at most ``rows`` rows (itself when it is no longer)."""
        if len(self) <= rows:
            yield self
            return
        for start in range(0, len(self), rows):
            yield self.piece(start, rows)


def _kind(path: Path) -> str:
    if dataset.is_folder(path):  # a folder of Parquet files (governance/dataset.py)
        return "parquet"
    return data_format(path, "unsupported data format: use .csv or .parquet")


def data_format(path: Path, unsupported: str) -> str:
    """``parquet`` or ``csv`` from the file name; anything else is exit 2 with ``unsupported``."""
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz", ".csv.bz2")):
        return "csv"
    raise InputError(path, None, unsupported)


def _arrow_error(path: Path, exc: Exception) -> InputError:
    if isinstance(exc, InputError):
        return exc
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    if "straddl" in first:  # pyarrow's "try to increase block size?" is advice the user cannot act on
        return InputError(path, None, ROW_TOO_LARGE.format(row="?", limit=BLOCK_MAX >> 20))
    return InputError(path, None, f"cannot read data: {first}")


def open_parquet(path: Path):
    """A ``pq.ParquetFile`` for streaming. ``pre_buffer=False``: with pyarrow's default (True) the read cache keeps
    every row group read so far, so memory grows with the file (streaming 5M rows: 850 MB with it, 216 MB
    without); without it a batch costs its row group's column chunks, whatever the file's length."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path, pre_buffer=False, memory_map=False)


def _straddles(exc: Exception) -> bool:
    return isinstance(exc, pa.ArrowInvalid) and "straddl" in str(exc)


def unique_names(path: Path, schema: pa.Schema) -> pa.Schema:
    """``schema``, refused when two columns share a name: a column is read by its name, so one of them would be
    dropped or the read would fail deep inside pyarrow."""
    names = list(schema.names)
    if len(set(names)) < len(names):
        column = next(n for n in names if names.count(n) > 1)
        raise InputError(path, column, DUPLICATE_COLUMN.format(column=column, times=names.count(column)))
    return schema


def parquet_schema(path: Path) -> pa.Schema:
    """A Parquet file's columns and types from its footer, refused when two columns share a name."""
    return unique_names(path, open_parquet(path).schema_arrow)


def csv_schema(path: Path) -> pa.Schema:
    """The CSV's columns and inferred types, from a first block large enough for its first rows."""
    import pyarrow.csv as pcsv

    block = BLOCK_START
    while True:
        try:
            with pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=block)) as reader:
                return unique_names(path, reader.schema)
        except pa.ArrowInvalid as exc:
            if not _straddles(exc):
                raise
            if block >= BLOCK_MAX:
                raise InputError(path, None, ROW_TOO_LARGE.format(row=1, limit=BLOCK_MAX >> 20)) from None
            block *= 4


def csv_batches(path: Path, columns: list[str], types: dict[str, pa.DataType]) -> Iterator[pa.RecordBatch]:
    """Record batches of ``columns``; a row too large for the block is re-read with a larger block (up to
    ``BLOCK_MAX``), resuming after the rows already returned. Columns not in ``types`` keep the types inferred
    from the file's first block, fixed up front so a resumed read types them the same way."""
    import pyarrow.csv as pcsv

    schema = csv_schema(path)
    fixed = {c: types.get(c, schema.field(c).type) for c in columns}
    convert = pcsv.ConvertOptions(column_types=fixed, include_columns=columns)
    block, done = BLOCK_START, 0
    while True:
        read = pcsv.ReadOptions(block_size=block, skip_rows_after_names=done)
        try:
            with pcsv.open_csv(path, convert_options=convert, read_options=read) as reader:
                for batch in reader:
                    done += batch.num_rows
                    yield batch
            return
        except pa.ArrowInvalid as exc:
            if not _straddles(exc):
                raise
            if block >= BLOCK_MAX:
                raise InputError(path, None, ROW_TOO_LARGE.format(row=done + 1, limit=BLOCK_MAX >> 20)) from None
            block *= 4


def _conversion_error(path: Path, exc: Exception) -> InputError | None:
    """pyarrow's "In CSV column #k: CSV conversion error to double: invalid value 'x'" with the column named and
    the row found (a second, text-only read of that one column: only on this error path); None when it cannot be
    located (the caller then names pyarrow's message)."""
    found = re.search(r"In CSV column #(\d+): CSV conversion error to (\w+)", str(exc))
    if not found:
        return None
    try:
        names = csv_schema(path).names
        k = int(found.group(1))
        if k >= len(names):
            return None
        if "invalid UTF8" in str(exc):
            return _not_utf8(path, names[k])
        return _bad_value(path, names[k])
    except pa.ArrowException:
        return None


def _not_utf8(path: Path, column: str) -> InputError | None:
    """The first value of ``column`` that is not UTF-8, by row (its bytes read as binary)."""
    offset = 0
    for batch in csv_batches(path, [column], {column: pa.binary()}):
        for i, value in enumerate(batch.column(0).to_pylist()):
            try:
                if value is not None:
                    value.decode("utf-8")
            except UnicodeDecodeError:
                return InputError(path, column, NOT_UTF8.format(row=offset + i + 1, value=value))
        offset += batch.num_rows
    return None


def _bad_value(path: Path, column: str) -> InputError | None:
    """The first value of ``column`` that does not convert to the type inferred for it, by row."""
    target = csv_schema(path).field(column).type
    if pa.types.is_integer(target):
        target = pa.float64()
    offset = 0
    for batch in csv_batches(path, [column], {column: pa.string()}):
        present = csv_nulls(batch.column(0))
        try:
            pc.cast(present, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            for i, value in enumerate(present.to_pylist()):
                if value is None:
                    continue
                try:
                    pc.cast(pa.array([value]), target)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    template = NOT_A_NUMBER if pa.types.is_floating(target) else NOT_READABLE_AS
                    return InputError(path, column, template.format(row=offset + i + 1, value=value, type=target))
        offset += batch.num_rows
    return None


def file_schema(path: Path) -> pa.Schema:
    """A CSV or Parquet file's columns and types (Parquet: the footer; CSV: inferred from the first block)."""
    if dataset.is_folder(path):
        return dataset.folder_schema(dataset.list_files(path))
    try:
        if _kind(path) == "parquet":
            return parquet_schema(path)
        return csv_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise _arrow_error(path, exc) from None


class DataSource:
    """One evaluation data file with its target, sensitive and feature columns checked up front."""

    def __init__(self, path: Path, spec: DataSpec, manifest: Path, *, block: str = "data",
                 schema: pa.Schema | None = None) -> None:
        """``schema``: the file's, when the caller has read it already (:func:`file_schema`)."""
        self.path, self.spec, self.manifest = path, spec, manifest
        self.block = block
        self.what = "evaluation data" if block == "data" else f"{block} data"
        self.format = _kind(path)
        #: a folder's Parquet files, read one after another as one stream (governance/dataset.py)
        self.files = dataset.list_files(path) if dataset.is_folder(path) else None
        schema = schema if schema is not None else (
            dataset.folder_schema(self.files) if self.files is not None else file_schema(path))
        names = list(unique_names(path, schema).names)
        target = [spec.target] if spec.target is not None else []  # None: a production sample without labels
        for field, cols in ((f"{block}.target", target), ("data.sensitive", spec.sensitive),
                            ("data.features", spec.features or []), ("data.key", spec.key or [])):
            for col in cols:
                if col not in names:
                    raise InputError(manifest, field if block == "data" else f"{block}.path",
                                     f"column {col!r} not found in {path.name} (columns: {', '.join(names)})")
        excluded = {*target, *spec.sensitive, *(spec.key or [])}  # a key identifies a row, never a feature
        self.features = list(spec.features) if spec.features is not None else [c for c in names if c not in excluded]
        if not self.features:
            raise InputError(manifest, "data.features", f"no feature columns left in {path.name}")
        for col in (*self.features, *target, *spec.sensitive):
            if pa.types.is_nested(kind := schema.field(col).type):  # a struct or list cell is no model input
                hint = NOT_AN_INPUT if spec.features is None and col in self.features else ""
                raise InputError(path, col, NOT_FLAT.format(type=kind) + hint)
        self._schema_types = {n: schema.field(n).type for n in names}
        self.names = names
        #: CSV: the type each column is converted to from its text (pyarrow's inference on the first block,
        #: integers widened to float64 so a later "1.5" cannot break it); the same for scoring and leakage
        self._csv_types = {n: pa.float64() if pa.types.is_integer(t) else t for n, t in self._schema_types.items()}
        self._text_counts: dict[str, list] = {}  # text feature columns: [values, numbers, first non-number]

    def text_schema(self) -> pa.Schema:
        """The columns as the stream's ``raw`` tables hold them: Parquet's own types, CSV all text."""
        if self.format == "parquet":
            return pa.schema([pa.field(n, t) for n, t in self._schema_types.items()])
        return pa.schema([pa.field(n, pa.string()) for n in self.names])

    def _batches(self, extra: Sequence[str]) -> Iterator[pa.RecordBatch]:
        if self.format == "parquet":  # the columns someone uses, in file order
            wanted = {*self.features, *([self.spec.target] if self.spec.target is not None else []),
                      *self.spec.sensitive, *extra}
            columns = [n for n in self.names if n in wanted]
            if self.files is not None:
                yield from dataset.iter_batches(self.files, columns, self.spec.chunk_rows)
                return
            yield from open_parquet(self.path).iter_batches(batch_size=self.spec.chunk_rows, columns=columns)
            return
        # Every column as its exact text (the personal-data scan needs it; labels and slices are text); features,
        # and the leakage columns, are converted per chunk by ``typed``, so one read serves every user.
        yield from csv_batches(self.path, self.names, {c: pa.string() for c in self.names})

    @property
    def total_rows(self) -> int | None:
        """The row count when the file states it (a Parquet footer), else None (a CSV is not read twice)."""
        if self.format != "parquet":
            return None
        if self.files is not None:
            return dataset.num_rows(self.files)
        from .evidence.tables import open_parquet

        return int(open_parquet(self.path).metadata.num_rows)

    def chunks(self, extra: Sequence[str] = ()) -> Iterator[Chunk]:
        """The data, once, in chunks of ``chunk_rows``; ``extra`` names further (Parquet) columns to read for the
        other users of the stream (CSV: every column is read anyway)."""
        offset = 0
        try:
            for table in _rechunk(self._batches(extra), self.spec.chunk_rows):
                yield self._chunk(table, offset)
                offset += table.num_rows
        except pa.ArrowException as exc:
            located = _conversion_error(self.path, exc) if self.format == "csv" else None
            raise (located or _arrow_error(self.path, exc)) from None
        if offset == 0:
            raise InputError(self.path, None, f"the {self.what} has no rows")

    def typed(self, raw: pa.Table, columns: Sequence[str], offset: int) -> pa.Table:
        """``columns`` of a ``raw`` chunk in their data types: Parquet as stored; CSV converted from the text as
        pyarrow's CSV reader would have (its null markers, the inferred types with integers as float64); a value
        that does not convert is an InputError naming column and row."""
        if self.format == "parquet":
            return raw.select(list(columns))
        return pa.table({c: self._from_text(raw.column(c), c, offset) for c in columns})

    def _from_text(self, text: pa.ChunkedArray, name: str, offset: int) -> pa.Array | pa.ChunkedArray:
        to = self._csv_types[name]
        if pa.types.is_string(to) or pa.types.is_large_string(to):
            return text
        present = csv_nulls(text.combine_chunks())
        if pa.types.is_null(to):  # the first block held no value (pyarrow typed it null): the first values decide
            if present.null_count == len(present):
                return pa.nulls(len(present), pa.float64())
            try:
                out = _cast_text(present, pa.float64())
                self._csv_types[name] = pa.float64()
                return out
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                self._csv_types[name] = pa.string()
                return text
        try:
            return _cast_text(present, to)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        for i, value in enumerate(present.to_pylist()):
            if value is None:
                continue
            try:
                _cast_text(pa.array([value], pa.string()), to)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                template = NOT_A_NUMBER if pa.types.is_floating(to) else NOT_READABLE_AS
                raise InputError(self.path, name, template.format(row=offset + i + 1, value=value, type=to)) from None
        raise InputError(self.path, name, f"cannot read column {name!r} as {to}")  # pragma: no cover

    def _chunk(self, table: pa.Table, offset: int) -> Chunk:
        target = _NO_LABELS
        if self.spec.target is not None:
            target_col = table.column(self.spec.target)
            if self.format == "csv":  # an empty cell has no label, as a Parquet null (a class "NA" stays a class)
                target_col = pc.if_else(pc.equal(target_col, ""), pa.scalar(None, target_col.type), target_col)
            if target_col.null_count and self.block == "data":  # a production sample's labels may be partial
                first = int(np.flatnonzero(pc.is_null(target_col).to_numpy(zero_copy_only=False))[0])
                raise InputError(self.path, self.spec.target,
                                 f"missing target value in data row {offset + first + 1}")
            target = _as_text(target_col)
        sensitive = [encode_text(table.column(c) if self.format == "parquet" else csv_nulls(table.column(c)))
                     for c in self.spec.sensitive]
        features = self.typed(table, self.features, offset)
        self._check_features(features, offset)
        return Chunk(offset, features, target, sensitive, raw=table)

    def _check_features(self, table: pa.Table, offset: int) -> None:
        """Bad feature values are the data file's problem, named by column and row, before a model sees them:
        an infinite number, or text in a column of numbers (which made pyarrow read the column as text)."""
        categorical = set(getattr(self.spec, "categorical", None) or [])
        for name in self.features:
            col = table.column(name)
            if pa.types.is_floating(col.type):
                bad = pc.fill_null(pc.is_inf(col), False)
                if pc.any(bad).as_py():
                    i = int(np.flatnonzero(bad.to_numpy(zero_copy_only=False))[0])
                    raise InputError(self.path, name, NOT_FINITE.format(row=offset + i + 1, value=col[i].as_py()))
            elif name not in categorical and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
                self._numbers_with_text(name, col, offset)

    def _numbers_with_text(self, name: str, col: pa.ChunkedArray, offset: int) -> None:
        """A text column whose values so far are nine in ten numbers is a column of numbers with a bad value."""
        text = col.combine_chunks()
        present = pc.fill_null(pc.invert(pc.is_in(text, value_set=pa.array(_NULLS))), False)
        numeric = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
        seen = self._text_counts.setdefault(name, [0, 0, None])  # values, numbers, first (row, text) not a number
        seen[0] += pc.sum(present).as_py() or 0
        seen[1] += pc.sum(pc.and_(present, numeric)).as_py() or 0
        if seen[2] is None:
            bad = pc.and_(present, pc.invert(numeric)).to_numpy(zero_copy_only=False)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                seen[2] = (offset + i + 1, text[i].as_py())
        if seen[2] is not None and seen[1] >= 0.9 * seen[0]:
            row, value = seen[2]
            raise InputError(self.path, name, NOT_A_NUMBER.format(row=row, value=value))


def missing_labels(target: np.ndarray) -> np.ndarray:
    """Which labels of a chunk are missing: null, or one of pyarrow's CSV null markers (a CSV is read as text)."""
    nulls = set(_NULLS)
    return np.fromiter((v is None or v in nulls for v in target), dtype=bool, count=len(target))


def csv_nulls(text: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """A CSV text column with pyarrow's null markers ("", NA, N/A, null, NaN, ...) as nulls, as its reader reads
    a typed column and as the data-quality counts treat them: a sensitive cell left empty is the slice
    ``MISSING``, as a Parquet null is, not a slice named ""."""
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        return text
    return pc.if_else(pc.is_in(text, value_set=_null_markers()), pa.scalar(None, text.type), text)


def _null_markers() -> pa.Array:
    import pyarrow.csv as pcsv

    return pa.array(pcsv.ConvertOptions().null_values or list(_NULLS), pa.string())


def _cast_text(text: pa.Array, to: pa.DataType) -> pa.Array:
    """Text to ``to`` (pyarrow has no string-to-time cast: a time of day goes through a timestamp on 1970-01-01)."""
    if not pa.types.is_time(to):
        return pc.cast(text, to)
    stamp = pc.cast(pc.binary_join_element_wise("1970-01-01 ", text, ""), pa.timestamp(to.unit))
    return pc.cast(stamp, to)


def encode_text(col: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Dictionary-encode a column as text, nulls as ``MISSING`` (hashing in Arrow, not sorting strings in numpy):
    each row's code, and the distinct values in order of appearance."""
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
