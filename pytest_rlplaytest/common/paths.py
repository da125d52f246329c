"""The one path rule, and node ids as file names.

Every relative path the package reads resolves against exactly one base, chosen by where the path
was written:

==========================================  ===============================================
where the path is written                   resolved against
==========================================  ===============================================
a marker argument (``env="godot:../game"``,  the folder of the test file that carries the
``model=``, ``rl_replay("bundles/x.json")``) marker (as pytest-regressions' ``datadir``)
an option (``--rl-artifacts``,              the pytest rootdir
``--rl-baselines-dir``, ``--godot-bin``)
inside a stored file (a replay bundle's     the folder of the file that holds it
game, a baseline's or checkpoint's paths)
==========================================  ===============================================

Stored files keep their paths relative to themselves (:func:`relative_to_file`), so a committed
bundle or baseline holds no absolute path of the machine that made it. Errors say which base was
used (:meth:`PathBase.describe`).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PathBase", "nodeid_to_filename", "relative_to_file"]


@dataclass(frozen=True)
class PathBase:
    """A base folder for relative paths, with the words that name it in errors.

    Attributes:
        folder: the folder relative paths are joined to.
        label: what the folder is, for messages (``"the test file's folder"``).
    """

    folder: Path
    label: str

    @classmethod
    def marker(cls, test_file: str | os.PathLike[str]) -> PathBase:
        """The base of marker arguments: the folder of ``test_file``."""
        return cls(Path(test_file).resolve().parent, "the test file's folder")

    @classmethod
    def option(cls, rootdir: str | os.PathLike[str]) -> PathBase:
        """The base of option values: the pytest rootdir."""
        return cls(Path(rootdir).resolve(), "the pytest rootdir")

    @classmethod
    def content(cls, holder: str | os.PathLike[str]) -> PathBase:
        """The base of paths stored inside the file ``holder``: that file's folder."""
        return cls(Path(holder).resolve().parent, f"the folder of {Path(holder).name}")

    def resolve(self, value: str | os.PathLike[str]) -> Path:
        """``value`` as an absolute path: unchanged when absolute (``~`` expanded), else joined to
        :attr:`folder` and normalised."""
        path = Path(os.path.expanduser(os.fspath(value)))
        if path.is_absolute():
            return Path(os.path.normpath(path))
        return Path(os.path.normpath(self.folder / path))

    def describe(self, value: str | os.PathLike[str]) -> str:
        """``'<value>' (resolved against <label> <folder>: <absolute path>)``, for error messages."""
        path = Path(os.fspath(value))
        if path.is_absolute():
            return f"{os.fspath(value)!r}"
        return f"{os.fspath(value)!r} (resolved against {self.label} {self.folder}: {self.resolve(value)})"


def relative_to_file(path: str | os.PathLike[str], holder: str | os.PathLike[str]) -> str:
    """``path`` written relative to the folder of the file ``holder`` (POSIX separators), for storing
    inside ``holder``; :meth:`PathBase.content` reads it back. A path on another drive stays absolute."""
    target = Path(path).resolve()
    base = Path(holder).resolve().parent
    try:
        return Path(os.path.relpath(target, base)).as_posix()
    except ValueError:  # pragma: no cover - Windows: another drive
        return target.as_posix()


_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def nodeid_to_filename(nodeid: str, max_length: int = 120) -> str:
    """A readable, file-system-safe, stable name for a pytest node id (or part of one).

    ``::`` becomes ``__`` and ``/`` becomes ``.``; any other run of characters outside
    ``A-Z a-z 0-9 . _ = -`` becomes ``_``. When that loses information (two ids could collide, e.g.
    ``[a b]`` and ``[a_b]``) or the name is longer than ``max_length``, a short hash of the id is
    appended, so distinct ids always get distinct names.
    """
    readable = nodeid.replace("::", "__").replace("/", ".")
    name = _UNSAFE.sub("_", readable).strip("._") or "test"
    if name != readable or len(name) > max_length:
        digest = hashlib.sha1(nodeid.encode()).hexdigest()[:8]
        name = f"{name[: max_length - 9]}-{digest}"
    return name
