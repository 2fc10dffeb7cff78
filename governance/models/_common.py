"""Helpers the adapters share: lazy imports with install hints, one-line errors, feature matrices."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import InputError

# Which optional extra provides each heavy module (the hint printed when it is missing); the
# scikit-learn stack (skops, joblib) is a core dependency, so its hint is a plain reinstall.
EXTRAS = {
    "torch": "[torch]",
    "safetensors": "[torch]",
    "skops": "",
    "sklearn": "",
    "joblib": "",
}


#: the most rows per forward pass when a network scores a chunk on the CPU (torch, ONNX; a larger chunk is split into
#: near-equal pieces, so none is a 1-row tail): a 16-512-512-2 MLP scores 65,536 rows about 1.5x faster in pieces of
#: 2,048 than in one pass, its activations staying in the core's cache (docs/scale.md); the scores are the same,
#: since rows are scored independently
PIECE_ROWS = 2048


def piece_count(rows: int, pieces: int | None) -> int:
    """How many near-equal pieces of at most ``pieces`` rows a chunk of ``rows`` is scored in (1: one pass)."""
    return 1 if pieces is None or rows <= pieces else -(-rows // pieces)


@contextmanager
def whole_passes(adapter: Any) -> Iterator[None]:
    """An adapter's ``WholeBatch.whole_batches``: its ``_pieces`` off inside the block, restored after."""
    pieces, adapter._pieces = adapter._pieces, None
    try:
        yield
    finally:
        adapter._pieces = pieces


def require(module: str, *, fmt: str, manifest: Path, field: str) -> ModuleType:
    """Import ``module`` or fail with an install hint naming the manifest field that asked for it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = EXTRAS.get(top, f"[{top}]")
        raise InputError(
            manifest,
            f"{field}.format",
            f"format {fmt!r} needs {top}, which is not installed: pip install 'pruning-governance{extra}'",
        ) from exc


def one_line(exc: BaseException, limit: int = 400) -> str:
    """An exception as one short line (the CLI prints errors on one line)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def file_bytes(path: Path) -> int:
    return path.stat().st_size


def is_numeric(t: pa.DataType, *, boolean: bool = True, null: bool = False) -> bool:
    """Whether Arrow type ``t`` holds numbers: integers, floats and decimals, plus booleans and the all-null type
    when asked. Features take booleans (0/1); a predictions file's score columns do not (a bool is no probability)."""
    return (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
            or (boolean and pa.types.is_boolean(t)) or (null and pa.types.is_null(t)))


def feature_matrix(features: pa.Table, row_offset: int, *, path: Path, field: str, fmt: str) -> np.ndarray:
    """The chunk's feature columns as one float64 (n, d) array; non-numeric or missing values are input errors."""
    columns = []
    for name, col in zip(features.column_names, features.columns):
        t = col.type
        if pa.types.is_dictionary(t):
            t = t.value_type
            if is_numeric(t):
                col = col.cast(t)
        if not is_numeric(t, null=True):
            raise InputError(
                path,
                field,
                f"feature column {name!r} has type {t}; format {fmt!r} needs numeric features (encode it first)",
            )
        if col.null_count:
            first = next(i for i, v in enumerate(col.is_null().to_pylist()) if v)
            raise InputError(
                path,
                field,
                f"feature column {name!r} has a missing value at row {row_offset + first}; format {fmt!r} needs "
                "complete numeric features",
            )
        arr = col.to_numpy()
        columns.append(np.asarray(arr, dtype=np.float64))
    if not columns:
        return np.empty((features.num_rows, 0), dtype=np.float64)
    return np.column_stack(columns)


def as_proba(out: object, n: int, *, path: Path, field: str, width: int | None) -> np.ndarray:
    """Check a model's output shape and return it as float64 (n, K); (n,) becomes (n, 1)."""
    arr = np.asarray(out, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise InputError(
            path,
            field,
            f"the model returned shape {tuple(arr.shape)} for {n} rows; expected ({n}, classes)",
        )
    if arr.shape[1] == 0:
        raise InputError(path, field, "the model returned no output columns")
    if width is not None and arr.shape[1] != width:
        raise InputError(path, field, f"the model returned {arr.shape[1]} columns, expected {width} (one per class)")
    return arr


#: a regression model must give one value per row (template: width)
NOT_ONE_OUTPUT = "the model returned {width} outputs per row; task: regression needs exactly one"


def one_value(out: object, n: int, *, path: Path, field: str) -> np.ndarray:
    """A regressor's output as float64 (n,): (n,) or (n, 1) only."""
    arr = np.asarray(out, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[0] == n:
        if arr.shape[1] != 1:
            raise InputError(path, field, NOT_ONE_OUTPUT.format(width=arr.shape[1]))
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(path, field, f"the model returned shape {tuple(arr.shape)} for {n} rows; expected ({n},)")
    return arr
