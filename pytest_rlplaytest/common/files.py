"""Atomic writes: the one way the package writes a file that someone may read at the same time.

A write goes to a temporary file in the target's folder, is flushed and fsynced, then renamed over
the target (``os.replace``), so a reader sees the old file or the new one, never a torn one, and a
crash leaves the old file intact. The new file gets the permissions a plain ``open(path, "w")``
would give (``0o666`` minus the umask), not ``mkstemp``'s private ``0o600``: baselines and bundles
are committed and shared.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["append_line", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "dumps_json", "folder_lock"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    Creates the parent folders. Returns the path written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(data: Any, *, indent: int | None = 2) -> str:
    """The package's JSON style for stored files: sorted keys, ``indent``, a final newline;
    values JSON cannot hold are written as their ``str``."""
    return json.dumps(data, indent=indent, sort_keys=True, default=str) + "\n"


def atomic_write_json(path: str | os.PathLike[str], data: Any, *, indent: int | None = 2) -> Path:
    """Write ``data`` as JSON (see :func:`dumps_json`) to ``path`` atomically."""
    return atomic_write_text(path, dumps_json(data, indent=indent))


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[None]:
    """An advisory exclusive lock on ``folder`` itself (POSIX ``flock`` on the directory).

    Serialises read-merge-write updates across processes (``pytest -n``) without leaving lock files
    in a committed folder. Where directories cannot be locked (Windows) this is a no-op; the atomic
    replace still guarantees that readers never see a torn file.
    """
    Path(folder).mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def append_line(path: str | os.PathLike[str], line: str) -> Path:
    """Append one line (a newline is added) to ``path`` so concurrent writers never interleave.

    The write holds :func:`folder_lock` on the file's folder and is one ``O_APPEND`` write, flushed
    and fsynced: xdist workers appending to the same ledger each add whole lines. Creates the file
    and its folders. Returns the path.
    """
    target = Path(path)
    if "\n" in line:
        raise ValueError("append_line writes one line: the text holds a newline")
    with folder_lock(target.parent):
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    return target
