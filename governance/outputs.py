"""Write a set of output files atomically: all are rendered first, then each is renamed into place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_all(out_dir: Path, files: dict[str, bytes]) -> list[Path]:
    """Write every file via a temporary file in ``out_dir`` and ``os.replace``; a failure leaves no partial file."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(out_dir, "--out", f"cannot create the output folder: {exc.strerror or exc}") from None
    staged: list[tuple[str, Path]] = []
    mode = 0o666 & ~_umask()  # mkstemp creates 0600; outputs are ordinary files
    try:
        for name, content in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            staged.append((name, Path(tmp)))
        written = []
        for name, tmp in staged:
            os.replace(tmp, out_dir / name)
            written.append(out_dir / name)
        return written
    except OSError as exc:
        raise InputError(out_dir, "--out", f"cannot write outputs: {exc.strerror or exc}") from None
    finally:
        for _, tmp in staged:
            tmp.unlink(missing_ok=True)
