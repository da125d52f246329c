"""Importing a fresh Godot 4 checkout before it can run headless.

A Godot 4 project keeps its class list (every ``class_name``, e.g. the plugin's ``Sync`` and
``AIController3D``) in ``.godot/global_script_class_cache.cfg`` (godotengine/godot PR #70557, 4.0),
and Godot's default ``.gitignore`` leaves ``.godot/`` out of git. A fresh clone therefore fails to
resolve those names until the editor has scanned it once. :func:`ensure_imported` does that scan
when ``.godot/`` is missing:

* Godot >= 4.2.2: ``godot --headless --path P --import`` ("starts the editor, waits for any resources
  to be imported, and then quits"; PR #90431, merged 2024-04-09 and shipped in 4.2.2);
* older 4.x: ``godot --headless --path P --editor --quit-after 1000`` (the workaround PR #90431
  replaces; a plain ``--quit`` stops before the scan ends, PR #68461).

If the class cache is still missing after one run, the command runs once more (a single run may not
finish, godotengine/godot#97952). It runs once per project per test session: a stamp file in
``.godot/`` records it, and an ``flock`` on a lock file in the temp folder (keyed by the project's
path) makes concurrent ``pytest -n`` workers wait for the first one instead of importing in
parallel. Godot 3 keeps its class list in ``project.godot`` and needs no import.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from ..base import EngineError
from .binary import GodotBinary, version_tuple

CLASS_CACHE = Path(".godot") / "global_script_class_cache.cfg"
STAMP = Path(".godot") / ".rlplaytest-imported"
#: the first version that has --import
IMPORT_FLAG_SINCE = (4, 2, 2)

_DONE: set[str] = set()
_DONE_LOCK = threading.Lock()


def needs_import(project: Path) -> bool:
    """True when ``project`` has never been opened by a Godot 4 editor (no ``.godot/`` state)."""
    if not (project / ".godot").is_dir():
        return True
    return not ((project / CLASS_CACHE).is_file() or (project / STAMP).is_file())


def import_command(binary: GodotBinary, project: Path) -> list[str]:
    """The command that imports ``project`` with ``binary`` (see the module docstring)."""
    if version_tuple(binary.version) >= IMPORT_FLAG_SINCE:
        return [binary.path, "--headless", "--path", str(project), "--import"]
    return [binary.path, "--headless", "--path", str(project), "--editor", "--quit-after", "1000"]


@contextlib.contextmanager
def _project_lock(project: Path) -> Iterator[None]:
    key = hashlib.sha256(str(project.resolve()).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"rlplaytest-godot-import-{key}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no cross-process lock
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _run(cmd: list[str], log_path: Path, timeout: float) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"$ {' '.join(cmd)}\n".encode(errors="replace"))
        log.flush()
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=timeout, start_new_session=True, check=False)
        except subprocess.TimeoutExpired:
            raise EngineError(f"importing the Godot project timed out after {timeout:g} s ({' '.join(cmd)}); "
                              f"its output is in {log_path}") from None
        except OSError as exc:
            raise EngineError(f"could not run {cmd[0]} to import the project: {exc}") from None
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-20:]
        shown = "\n".join("    " + line for line in tail)
        raise EngineError(f"importing the Godot project failed (exit code {proc.returncode}): "
                          f"{' '.join(cmd)}\n{shown}\n  full output: {log_path}")


def ensure_imported(binary: GodotBinary, project: Path, log_path: Path, timeout: float = 300.0) -> bool:
    """Import ``project`` once if it is a fresh Godot 4 checkout; True when this call imported it.

    Raises:
        EngineError: the import command failed or timed out (its output is in ``log_path``).
    """
    if binary.major < 4:
        return False
    key = str(project.resolve())
    with _DONE_LOCK:
        if key in _DONE:
            return False
    imported = False
    with _project_lock(project):
        if needs_import(project):
            cmd = import_command(binary, project)
            for _ in range(2):
                _run(cmd, log_path, timeout)
                if (project / CLASS_CACHE).is_file():
                    break
            (project / ".godot").mkdir(exist_ok=True)
            (project / STAMP).write_text("imported by pytest-rlplaytest before the first run\n")
            imported = True
    with _DONE_LOCK:
        _DONE.add(key)
    return imported
