"""sha256 of input files, streamed so large data sets are never read whole."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .evidence.schema import FileRef


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def file_ref(path: Path, relative_to: Path | None = None) -> FileRef:
    shown = path
    if relative_to is not None:
        try:
            shown = path.resolve().relative_to(relative_to.resolve())
        except ValueError:
            shown = path
    return FileRef(path=str(shown), sha256=sha256_file(path), bytes=path.stat().st_size)
