"""Files that are never half-written, content hashes, and one-writer-at-a-time locks.

The bottom of the import graph: nothing here imports another skipless module but ``errors``.
Every result, card, checkpoint and cache stamp is written through :func:`write_atomic` (a temporary
file in the same folder, flushed and fsync'ed, then ``os.replace``), so a process killed at any
moment leaves either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from skipless.errors import SkiplessError


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_files(paths: Iterable[Path], root: Path) -> dict[str, str]:
    """``{path relative to root: SHA-256}`` for each file, sorted by name."""
    return {str(Path(p).relative_to(root)): sha256_file(p) for p in sorted(paths)}


def changed_files(recorded: dict[str, str], root: Path) -> list[str]:
    """The files of ``recorded`` (relative to ``root``) that are missing or whose content changed."""
    bad = []
    for name, digest in recorded.items():
        path = root / name
        if not path.is_file():
            bad.append(f"{name} (missing)")
        elif sha256_file(path) != digest:
            bad.append(f"{name} (edited)")
    return bad


def writable_dir(folder: Path | str, what: str = "output") -> Path:
    """Create ``folder`` (and parents); a read-only or impossible location is one clear error."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SkiplessError(f"cannot create the {what} folder {folder} ({e.strerror}): choose a writable location") from e
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SkiplessError(f"the {what} folder {folder} is read-only: make it writable or choose another location")
    return folder


def write_atomic(path: Path | str, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` all at once: readers see the old content or the new, never a part."""
    path = Path(path)
    writable_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_json(path: Path | str, data, indent: int | None = 1, sort_keys: bool = False) -> Path:
    return write_atomic(path, json.dumps(data, indent=indent, sort_keys=sort_keys, default=str) + "\n")


def read_json(path: Path | str, what: str = "file"):
    """Parse a JSON file; a corrupt one is a clear error naming it (the caller says what to do)."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise SkiplessError(f"{path}: the {what} is not valid JSON ({e}); delete it to have it rebuilt") from e


@contextlib.contextmanager
def exclusive(folder: Path | str, what: str, wait: bool = False) -> Iterator[Path]:
    """Hold ``<folder>/.lock`` while working in ``folder``: one process per project, design or run.

    The lock is an ``flock`` (released by the kernel when the process dies, so a kill -9 never leaves
    a stale lock). Another holder makes this raise "in use by PID N", or wait for it with ``wait``.
    """
    folder = writable_dir(folder, what)
    lock_path = folder / ".lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise SkiplessError(
                f"{what} {folder} is in use by PID {holder}: wait for it to finish (or stop it) and try again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield folder
    finally:
        os.close(fd)  # closing releases the flock


def lock_holder(folder: Path | str) -> int | None:
    """The PID holding ``folder``'s lock, or None when nobody holds it."""
    lock_path = Path(folder) / ".lock"
    if not lock_path.exists():
        return None
    fd = os.open(lock_path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            text = os.pread(fd, 64, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
