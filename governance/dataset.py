"""The evaluation data as a folder of Parquet files (a dataset): its listing, its schema check and its digest.

Why a module of its own: ``data.path`` may name a folder, and every reader of the data must then see the same files
in the same order. The folder is listed once by one rule (pyarrow.dataset's convention: names starting with ``_`` or
``.`` are ignored, so Spark's ``_SUCCESS`` and ``.crc`` files are; any other file must be Parquet), each file passes
the checks a single data file passes (regular, readable, no symlink out of the release folder), every file must have
the first file's columns and types, and the files are read one after another as one stream with continuous row
offsets. Hive folder names (``region=eu``) are only paths here, never columns. The folder's hash is a digest of
its listing (:func:`folder_sha256`), so provenance can declare a folder as it declares a file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from .errors import InputError

if TYPE_CHECKING:
    from .manifest import Release

#: the file names a data folder may hold (case-insensitive)
SUFFIXES = (".parquet", ".pq")
#: names starting with these are ignored, at any depth (pyarrow.dataset's default ``ignore_prefixes``)
IGNORED_PREFIXES = ("_", ".")
#: the field every error names
FIELD = "data.path"
EMPTY = "the folder {path} holds no Parquet files (*.parquet or *.pq; names starting with _ or . are ignored)"
NOT_PARQUET = ("not a Parquet file (*.parquet or *.pq), in a data folder: remove it, or start its name with _ or . "
               "to have it ignored")
SCHEMA_DIFFERS = ("column {column!r} is {found} here but {expected} in {first}, the folder's first file: every file "
                  "of a data folder must have the same columns and types")
COLUMN_MISSING = ("column {column!r} of {first}, the folder's first file, is missing here: every file of a data "
                  "folder must have the same columns and types")
COLUMN_EXTRA = ("column {column!r} is not in {first}, the folder's first file: every file of a data folder must "
                "have the same columns and types")
COLUMN_ORDER = ("the columns are in another order than in {first}, the folder's first file (column {column!r} is "
                "at position {position}): every file of a data folder must have the same columns in the same order")
UNREADABLE = "cannot read this Parquet file: {reason}"
FOLDER_UNREADABLE = "cannot list the folder {path}: {reason}"
LINK_LOOP = "{path} is a symlink to a folder already listed ({target}): a data folder must not link to itself"


@dataclass(frozen=True)
class DataFile:
    """One file of a data folder: its path relative to the folder (posix, the sort key) and where it is."""

    relative: str
    path: Path


def is_folder(path: Path) -> bool:
    """``data.path`` names a folder of Parquet files (a symlink to a folder counts)."""
    return os.path.isdir(path)


def list_files(folder: Path, *, root: Path | None = None, named_in: Path | None = None,
               field: str | None = FIELD) -> list[DataFile]:
    """The folder's Parquet files in sorted relative-path order, each checked like a single data file
    (``hashing.check_input_file``: regular, readable, no symlink out of ``root``); an empty folder, or any other
    file that is not ignored, is an InputError."""
    from .hashing import OUTSIDE, check_input_file

    where = named_in if named_in is not None else folder
    real_root = Path(os.path.realpath(root)) if root is not None else None
    found: list[DataFile] = []
    seen: dict[str, Path] = {}

    def confined(path: Path) -> None:
        real = Path(os.path.realpath(path))
        if real_root is not None and real != Path(os.path.abspath(path)) and not real.is_relative_to(real_root):
            raise InputError(where, field, OUTSIDE.format(path=path, target=real, root=real_root))

    def walk(here: Path, prefix: str) -> None:
        confined(here)
        real = os.path.realpath(here)
        if real in seen:
            raise InputError(where, field, LINK_LOOP.format(path=here, target=seen[real]))
        seen[real] = here
        try:
            with os.scandir(here) as entries:
                names = sorted(e.name for e in entries)
        except OSError as exc:  # e.g. a folder without read permission
            raise InputError(where, field, FOLDER_UNREADABLE.format(path=here, reason=exc.strerror or exc)) from None
        for name in names:
            if name.startswith(IGNORED_PREFIXES):
                continue
            path, relative = here / name, f"{prefix}{name}"
            if os.path.isdir(path):
                walk(path, f"{relative}/")
            elif name.lower().endswith(SUFFIXES):
                found.append(DataFile(relative, check_input_file(path, named_in=named_in, field=field, root=root)))
            else:
                raise InputError(path, field, NOT_PARQUET)

    walk(folder, "")
    if not found:
        raise InputError(where, field, EMPTY.format(path=folder))
    return sorted(found, key=lambda f: f.relative)


def _footer(path: Path, field: str | None):
    from .data import open_parquet

    try:
        return open_parquet(path)
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, exc, field) from None


def _unreadable(path: Path, exc: Exception, field: str | None = FIELD) -> InputError:
    if isinstance(exc, InputError):
        return exc
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return InputError(path, field, UNREADABLE.format(reason=reason))


def folder_schema(files: Sequence[DataFile], field: str | None = FIELD) -> pa.Schema:
    """The first file's schema, after checking that every file has the same column names, order and types
    (footers only; nullability and metadata such as pandas' may differ). The first difference names its file."""
    first = _footer(files[0].path, field).schema_arrow
    expected = {f.name: f.type for f in first}
    for file in files[1:]:
        schema = _footer(file.path, field).schema_arrow
        if schema.names == first.names and all(f.type == expected[f.name] for f in schema):
            continue
        for f in first:
            if f.name not in schema.names:
                raise InputError(file.path, field, COLUMN_MISSING.format(column=f.name, first=files[0].relative))
        for f in schema:
            if f.name not in expected:
                raise InputError(file.path, field, COLUMN_EXTRA.format(column=f.name, first=files[0].relative))
            if f.type != expected[f.name]:
                raise InputError(file.path, field, SCHEMA_DIFFERS.format(
                    column=f.name, found=f.type, expected=expected[f.name], first=files[0].relative))
        moved = next(i for i, (a, b) in enumerate(zip(schema.names, first.names)) if a != b)
        raise InputError(file.path, field, COLUMN_ORDER.format(first=files[0].relative, column=schema.names[moved],
                                                               position=moved + 1))
    return first


def num_rows(files: Sequence[DataFile], field: str | None = FIELD) -> int:
    """Rows over all files, from their footers."""
    return sum(int(_footer(f.path, field).metadata.num_rows) for f in files)


def iter_batches(files: Sequence[DataFile], columns: list[str] | None, batch_size: int,
                 field: str | None = FIELD) -> Iterator[pa.RecordBatch]:
    """The files' record batches one file after another (one file open at a time, ``pre_buffer`` off as in
    ``data.open_parquet``, so memory stays bound by the batch); a file that cannot be read is named."""
    for file in files:
        reader = _footer(file.path, field)
        try:
            yield from reader.iter_batches(batch_size=batch_size, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise _unreadable(file.path, exc, field) from None
        finally:
            reader.close()


def listing_sha256(entries: Sequence[tuple[str, str]]) -> str:
    """sha256 over the lines ``<relative posix path>\\t<file sha256>\\n`` in sorted path order."""
    h = hashlib.sha256()
    for relative, digest in sorted(entries):
        h.update(f"{relative}\t{digest}\n".encode())
    return h.hexdigest()


def folder_sha256(folder: Path) -> str:
    """The folder's digest (docs/dask.md gives the recipe); each file's sha256 comes from ``hashing.sha256_file``,
    so inside ``digests_reused`` a file is hashed once per check whoever asks."""
    from .hashing import sha256_file

    return listing_sha256([(f.relative, sha256_file(f.path)) for f in list_files(folder)])


def folder_bytes(folder: Path) -> int:
    """The size of the folder's Parquet files together (the ``bytes`` of its ``FileRef``)."""
    return sum(f.path.stat().st_size for f in list_files(folder))


def resolve_data(release: Release) -> Path:
    """``data.path``, checked before anything reads it: a file as ``Release.resolve`` checks one, or a folder whose
    every file is checked the same way (:func:`list_files`; the schemas are compared when the data is opened)."""
    p = Path(release.manifest.data.path)
    p = p if p.is_absolute() else release.folder / p
    if is_folder(p):
        list_files(p, root=release.folder, named_in=release.path)
        return p
    return release.resolve(release.manifest.data.path, FIELD)
