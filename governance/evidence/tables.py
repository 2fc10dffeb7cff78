"""Stream any columns of a CSV or Parquet file, or of a folder of Parquet files (``governance/dataset.py``), in chunks
with pyarrow (the training sets for leakage; the evaluation data itself is read once, by
:class:`governance.data.DataSource`, and shared by scoring, leakage and the PII scan)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from .. import dataset
from ..data import _arrow_error, _kind, _rechunk, csv_batches, csv_schema, open_parquet, parquet_schema
from ..errors import InputError


def column_names(path: Path) -> list[str]:
    """The file's columns, read from its header or footer only (a folder: its files', which must agree)."""
    return list(column_types(path))


def column_types(path: Path) -> dict[str, pa.DataType]:
    """The file's column types, from its header or footer only (a CSV: as pyarrow infers them from a first block
    large enough for the first rows; a folder: its files', which must agree)."""
    if dataset.is_folder(path):
        schema = dataset.folder_schema(dataset.list_files(path, field=None), field=None)
    else:
        try:
            schema = parquet_schema(path) if _kind(path) == "parquet" else csv_schema(path)
        except (pa.ArrowException, OSError) as exc:
            raise _arrow_error(path, exc) from None
    return {f.name: f.type for f in schema}


def iter_tables(path: Path, columns: list[str] | None, chunk_rows: int, *,
                csv_text: bool = False) -> Iterator[pa.Table]:
    """Tables of ``chunk_rows`` rows (the last may be shorter) holding ``columns`` (None: all) of ``path``.

    CSV columns are typed by pyarrow's inference, with integer columns widened to float64 (so a later "1.5"
    cannot break the inference made on the first block) and columns blank through the first block read as
    float64 (pyarrow would type them null and refuse the first value after), or read as the exact text when
    ``csv_text``.
    An unreadable file is an InputError naming it.
    """
    if dataset.is_folder(path):  # its files one after another, as the evaluation data's
        files = dataset.list_files(path, field=None)  # the field: whoever named the folder (a training set's path)
        dataset.folder_schema(files, field=None)
        yield from _rechunk(dataset.iter_batches(files, columns, chunk_rows, field=None), chunk_rows)
        return
    kind = _kind(path)
    try:
        if kind == "parquet":
            batches = open_parquet(path).iter_batches(batch_size=chunk_rows, columns=columns)
            yield from _rechunk(batches, chunk_rows)
            return
        schema = csv_schema(path)
        names = columns if columns is not None else list(schema.names)
        if csv_text:
            types = {c: pa.string() for c in names}
        else:  # a column blank through the first block (typed null) is read as numbers: text there is named
            types = {c: pa.float64() for c in names
                     if pa.types.is_integer(schema.field(c).type) or pa.types.is_null(schema.field(c).type)}
        yield from _rechunk(csv_batches(path, names, types), chunk_rows)  # larger blocks for a large row
    except pa.ArrowException as exc:
        raise _arrow_error(path, exc) from None
    except OSError as exc:
        raise InputError(path, None, f"cannot read data ({exc.__class__.__name__}: {exc})") from None
