"""Publish a set of output files as one unit: a crash or SIGKILL leaves the old complete set or the new one.

The set is written into a fresh sibling folder (``.OUT.new-XXXXXXXX`` next to ``OUT``), fsynced, and swapped in
with one ``renameat2(RENAME_EXCHANGE)`` where Linux offers it (else two renames: ``OUT -> .OUT.old-XXXXXXXX``,
new -> ``OUT``). A run killed mid-way leaves at most such siblings, each recorded in the lock file before it is
filled; the next run, holding the lock, removes the recorded ones (or, if it was killed between the two renames,
puts the previous set back) and leaves any other folder alone, whatever its name. Nothing is ever written inside ``OUT``
itself, so it never holds a half-written or stray file.

The folder belongs to the gate: a non-empty ``OUT`` without ``checksums.json`` (not written by the gate), one
holding files its ``checksums.json`` does not list, or one whose listed files are not the bytes it lists (edited
since, or someone's files under a hand-written checksums.json), is refused rather than replaced, so nobody's
files are deleted. Two runs cannot write the same ``OUT`` at once: ``.OUT.lock`` (``flock``) is held for the
whole run and a second run exits 2 with ``LOCKED``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError

LOCKED = "another governance check is writing {out}: wait for it to finish, or choose another --out"
NOT_A_FOLDER = "exists and is not a folder"
FOREIGN = ("is not empty and was not written by governance (no checksums.json): choose a new or empty folder, "
           "the gate replaces the whole folder")
UNLISTED = ("holds files the gate did not write ({names}): move them out or choose another --out "
            "(the gate replaces the whole folder and never deletes files it did not write)")
CHANGED = ("holds files whose content is not what its checksums.json says the gate wrote ({names}): move them out "
           "or choose another --out (the gate never deletes files it did not write)")
LISTING = "checksums.json"
SIGNATURE = "verdict.sig"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_held: dict[Path, int] = {}  # lock file -> nesting depth, so publish() inside a locked command does not deadlock


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _target(out: Path) -> Path:
    """The folder that is replaced: ``--out`` with symlinks resolved (a link to a folder keeps pointing at it)."""
    return Path(os.path.abspath(out)).resolve()


def _siblings(out: Path, kind: str) -> list[Path]:
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.{kind}-[A-Za-z0-9_]{{8}}$")
    try:
        return sorted(p for p in out.parent.iterdir() if pattern.match(p.name) and not p.is_symlink() and p.is_dir())
    except OSError:
        return []


def lock_path(out: Path) -> Path:
    out = _target(out)
    return out.parent / f".{out.name}.lock"


def _makedirs(folder: Path) -> list[Path]:
    """``mkdir -p``, returning the folders it created (deepest last) so a failed run can take them back."""
    created: list[Path] = []
    for p in reversed([folder, *folder.parents]):
        if not p.exists():
            try:
                p.mkdir()
            except FileExistsError:
                continue
            created.append(p)
    return created


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold ``.OUT.lock`` (``flock``) for the block; another holder makes this exit 2 at once with ``LOCKED``.

    The lock file is removed when released; a process that locked a file removed meanwhile retries on the new one.
    Folders created for the lock file are removed again when nothing was published into them.
    """
    out_arg = out
    out = _target(out)
    path = lock_path(out)
    if path in _held:
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    try:
        created = _makedirs(out.parent)
    except OSError as exc:
        raise InputError(out_arg, "--out", f"cannot create the output folder: {exc.strerror or exc}") from None
    try:
        fd = _acquire(path, out_arg)
    except BaseException:
        _remove_created(created)
        raise
    _held[path] = 1
    try:
        _recover(out)
        _check_folder(out, out_arg)
        yield
    finally:
        del _held[path]
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)
        _remove_created(created)


def _acquire(path: Path, shown: Path) -> int:
    """An open, ``flock``-ed descriptor of the lock file that is still at ``path``."""
    for _ in range(5):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise InputError(shown, "--out", f"cannot lock the output folder: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(shown, "--out", LOCKED.format(out=shown)) from None
        mine, now = os.fstat(fd), _stat(path)
        if now is not None and (now.st_ino, now.st_dev) == (mine.st_ino, mine.st_dev):
            return fd
        os.close(fd)  # the previous holder removed the file after we opened it: lock the new one
    raise InputError(shown, "--out", LOCKED.format(out=shown))


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _remove_created(created: list[Path]) -> None:
    for p in reversed(created):
        with contextlib.suppress(OSError):
            p.rmdir()  # only if still empty: a published set keeps its parents


def _listed(out: Path) -> dict[str, str] | None:
    """checksums.json's file -> sha256, or None when there is none (or it is not one)."""
    import json

    try:
        data = json.loads((out / LISTING).read_bytes())
        files = data["files"]
        return {str(name): str(sha) for name, sha in files.items()} if isinstance(files, dict) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _changed(out: Path, listed: dict[str, str]) -> list[str]:
    """Listed files whose bytes are not the listed sha256: edited since the gate wrote them, or someone's own
    files under a checksums.json that names them (replacing the folder would delete them)."""
    from .hashing import sha256_file

    return [name for name, sha in sorted(listed.items())
            if not (out / name).is_symlink() and (out / name).is_file()  # absent or not a file: nothing is lost
            and sha256_file(out / name) != sha]


def _check_folder(out: Path, shown: Path) -> None:
    """``OUT`` is new, empty, or a set the gate wrote with nothing else in it: else exit 2 before any work."""
    if not out.exists():
        if out.is_symlink():
            raise InputError(shown, "--out", "is a symlink to nothing")
        return
    if not out.is_dir():
        raise InputError(shown, "--out", NOT_A_FOLDER)
    try:
        if next(out.iterdir(), None) is None:
            return
        listed = _listed(out)
        if listed is None:
            raise InputError(shown, "--out", FOREIGN)
        entries = sorted(out.rglob("*"))
    except OSError as exc:
        raise InputError(shown, "--out", f"cannot read the output folder: {exc.strerror or exc}") from None
    allowed = set(listed) | {LISTING, SIGNATURE}
    extra = [str(p.relative_to(out)) for p in entries
             if str(p.relative_to(out)) not in allowed and not _old_temp_file(p, out)]
    if extra:
        raise InputError(shown, "--out", UNLISTED.format(names=_names(extra)))
    try:
        changed = _changed(out, listed)
    except OSError as exc:
        raise InputError(shown, "--out", f"cannot read the output folder: {exc.strerror or exc}") from None
    if changed:
        raise InputError(shown, "--out", CHANGED.format(names=_names(changed)))


def _names(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")


def _old_temp_file(p: Path, out: Path) -> bool:
    """A ``.NAME.XXXX.tmp`` left inside OUT by a killed run of an older version (it wrote each file in place)."""
    return p.parent == out and p.is_file() and bool(re.match(r"^\..+\.tmp$", p.name))


def _sibling(out: Path, kind: str) -> Path:
    """A new empty folder ``.OUT.KIND-XXXXXXXX`` (mode 0700, as mkdtemp makes), its name recorded in the held lock
    file *before* it exists, so a later run cleans only what the gate made (a user's own ``.OUT.old-backup01``
    matches the name pattern and was deleted, or renamed to OUT)."""
    for _ in range(100):
        path = out.parent / f".{out.name}.{kind}-{secrets.token_hex(4)}"
        fd = os.open(lock_path(out), os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            os.write(fd, path.name.encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free name for a temporary folder", str(out.parent))


def _recorded(out: Path) -> set[str]:
    """The sibling folders a killed run recorded in the lock file (it is removed when a run ends)."""
    try:
        return set(lock_path(out).read_text(encoding="utf-8", errors="replace").split())
    except OSError:
        return set()


def _recover(out: Path) -> None:
    """Clean what a killed run left next to OUT: unfinished new sets, and old sets (put back if OUT is gone) -
    only folders that run recorded as its own."""
    mine = _recorded(out)
    for new in _siblings(out, "new"):
        if new.name in mine:
            shutil.rmtree(new, ignore_errors=True)
    old = [p for p in _siblings(out, "old") if p.name in mine]
    if old and not out.exists():
        newest = max(old, key=lambda p: p.stat().st_mtime)
        os.rename(newest, out)  # killed between the two renames: the previous complete set goes back
        old.remove(newest)
    for p in old:
        shutil.rmtree(p, ignore_errors=True)
    if mine:
        with contextlib.suppress(OSError):
            os.truncate(lock_path(out), 0)
    if out.is_dir():
        for p in out.iterdir():
            if _old_temp_file(p, out):
                p.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux ``renameat2(RENAME_EXCHANGE)``; False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False  # a kernel or file system without the flag: use the two renames
    raise OSError(err, os.strerror(err), str(b))


def publish(out: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` as the complete content of ``out``, replacing what was there in one step."""
    target = _target(out)
    with output_lock(out):
        new = None
        try:
            new = _sibling(target, "new")
            os.chmod(new, 0o777 & ~_umask())
            mode = 0o666 & ~_umask()
            for name, content in files.items():
                if "/" in name or name.startswith("."):
                    raise ValueError(f"output name {name!r} must be a plain file name")
                fd = os.open(new / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
                with os.fdopen(fd, "wb") as f:
                    f.write(content)
                    f.flush()
                    os.fsync(f.fileno())
            _fsync_dir(new)
            if not target.exists():
                os.rename(new, target)
            elif _exchange(new, target):
                shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the previous set
            else:
                old = _sibling(target, "old")
                os.rename(target, old)  # replaces the empty placeholder folder
                os.rename(new, target)
                shutil.rmtree(old, ignore_errors=True)
            new = None
            _fsync_dir(target.parent)
        except OSError as exc:
            raise InputError(out, "--out", f"cannot write outputs: {exc.strerror or exc}") from None
        finally:
            if new is not None:
                shutil.rmtree(new, ignore_errors=True)
    return target


def write_files(folder: Path, files: dict[str, bytes], modes: dict[str, int] | None = None) -> list[Path]:
    """Write a few files into an existing or new ordinary folder (keys), each via a temporary file and rename;
    ``modes``: a file's permission bits from its creation on (a private key is never readable by others, even for
    the moment before a chmod)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(folder, None, f"cannot create the folder: {exc.strerror or exc}") from None
    staged: list[tuple[str, Path]] = []
    mode = 0o666 & ~_umask()
    try:
        for name, content in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)  # created 0600
            os.fchmod(fd, (modes or {}).get(name, mode))
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            staged.append((name, Path(tmp)))
        written: list[Path] = []
        for name, staged_tmp in staged:
            os.replace(staged_tmp, folder / name)
            written.append(folder / name)
        return written
    except OSError as exc:
        raise InputError(folder, None, f"cannot write: {exc.strerror or exc}") from None
    finally:
        for _, leftover in staged:
            leftover.unlink(missing_ok=True)


def write_all(out_dir: Path, files: dict[str, bytes]) -> list[Path]:
    """Publish an output set (kept for callers of the old name): see ``publish``."""
    target = publish(out_dir, files)
    return [target / name for name in files]
