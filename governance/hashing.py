"""sha256 of input files, streamed so large data sets are never read whole; and the checks every input file passes
before it is read (a regular, readable file; a symlink may not lead out of the release folder)."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from .errors import InputError
from .evidence.schema import FileRef

NOT_FOUND = "{kind} not found: {path}"
IS_FOLDER = "{path} is a folder, not a file"
IS_FIFO = "{path} is a named pipe (FIFO), not a regular file: the gate reads only regular files"
IS_DEVICE = "{path} is a device, not a regular file: the gate reads only regular files"
NOT_REGULAR = "{path} is not a regular file (a socket or other special file)"
OUTSIDE = ("{path} is a symlink to {target}, outside the release folder {root}: copy the file into the release "
           "folder (a release may only link to files inside its own folder)")
UNREADABLE = "cannot read {path}: {reason}"


def check_input_file(path: Path, *, named_in: Path | None, field: str | None, root: Path | None,
                     kind: str = "file") -> Path:
    """``path`` if it is a regular, readable file; else an InputError naming the file (and where it was named).

    Refused before anything opens it: folders, FIFOs (reading one blocks forever), devices (``/dev/zero`` never
    ends), sockets, and any path whose symlinks lead outside ``root`` (the release folder), so a release cannot make
    the gate read, hash or quote another file on the machine. A path written outside the folder without a symlink
    is the manifest author's explicit choice and is allowed.
    """
    where = named_in if named_in is not None else path
    try:
        st = os.stat(path)  # follows symlinks: the type of what would be read
    except FileNotFoundError:
        raise InputError(where, field, NOT_FOUND.format(kind=kind, path=path)) from None
    except OSError as exc:
        raise InputError(where, field, UNREADABLE.format(path=path, reason=exc.strerror or exc)) from None
    if root is not None:
        lexical = Path(os.path.abspath(path))
        real = Path(os.path.realpath(path))
        if real != lexical:
            real_root = Path(os.path.realpath(root))
            if not real.is_relative_to(real_root):
                raise InputError(where, field, OUTSIDE.format(path=path, target=real, root=real_root))
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise InputError(where, field, IS_FOLDER.format(path=path))
    if stat.S_ISFIFO(mode):
        raise InputError(where, field, IS_FIFO.format(path=path))
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise InputError(where, field, IS_DEVICE.format(path=path))
    if not stat.S_ISREG(mode):
        raise InputError(where, field, NOT_REGULAR.format(path=path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise InputError(where, field, UNREADABLE.format(path=path, reason=exc.strerror or exc)) from None
    os.close(fd)
    return path


#: inside :func:`digests_reused`: (real path, size, mtime_ns, inode) -> sha256, so one check hashes each file once
_DIGESTS: ContextVar[dict[tuple[str, int, int, int], str] | None] = ContextVar("pg_digests", default=None)
#: beside it: one lock per file, so two threads of a check (the Dask engine's start thread hashing the models while
#: the client hashes its inputs) never hash the same file at the same time: the second waits and reuses the digest
_HASHING: ContextVar[dict[tuple[str, int, int, int], threading.Lock] | None] = ContextVar("pg_hashing", default=None)
_LOCKS = threading.Lock()


@contextmanager
def digests_reused() -> Iterator[None]:
    """Within this block a file is hashed once, whoever asks (provenance, leakage, the evidence's input hashes).

    Scoped to one check, not process-wide: a file rewritten within the file system's timestamp granularity keeps
    its size and mtime, so a lasting cache could return a stale digest (``governance trail verify`` must not)."""
    token, locks = _DIGESTS.set({}), _HASHING.set({})
    try:
        yield
    finally:
        _HASHING.reset(locks)
        _DIGESTS.reset(token)


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    """The file's sha256, one sequential read (reused inside :func:`digests_reused`); a folder of Parquet files: the
    digest of its listing (``dataset.folder_sha256``, each file hashed here, once)."""
    if os.path.isdir(path):
        from .dataset import folder_sha256

        return folder_sha256(Path(path))
    cache, locks = _DIGESTS.get(), _HASHING.get()
    if cache is None or locks is None:
        return _sha256(path, block)
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino)
    with _LOCKS:
        lock = locks.setdefault(key, threading.Lock())
    with lock:
        if key not in cache:
            cache[key] = _sha256(path, block)
        return cache[key]


def _sha256(path: Path, block: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def shown_path(path: Path, relative_to: Path) -> str:
    """``path`` as published: relative to ``relative_to`` (the release folder), with ``..`` for a file beside it
    (``../digits/eval.parquet``), never the build machine's absolute path."""
    try:
        return path.resolve().relative_to(relative_to.resolve()).as_posix()
    except ValueError:
        return Path(os.path.relpath(path.resolve(), relative_to.resolve())).as_posix()


def file_ref(path: Path, relative_to: Path | None = None, shown: str | None = None) -> FileRef:
    """A file with its sha256 and size; its path relative to ``relative_to`` (see ``shown_path``) or ``shown``."""
    if shown is None:
        shown = shown_path(path, relative_to) if relative_to is not None else str(path)
    try:
        size = path.stat().st_size
        if os.path.isdir(path):  # a folder of Parquet files: its files' bytes together
            from .dataset import folder_bytes

            size = folder_bytes(path)
        return FileRef(path=str(shown), sha256=sha256_file(path), bytes=size)
    except OSError as exc:  # e.g. a read error part-way through: bad input, not a crash
        raise InputError(path, None, UNREADABLE.format(path=path, reason=exc.strerror or exc)) from None
