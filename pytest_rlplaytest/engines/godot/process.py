"""Launching and reaping Godot game processes.

Every game runs in its own process group (``start_new_session=True``), with stdout and stderr in
``godot.log`` in the test's artifact folder. A reader thread copies the output there, keeps the last
lines for error messages and collects ``SCRIPT ERROR`` reports (GDScript runtime errors).

Nothing may outlive the session: every live game is in a module-level registry that is emptied by
:func:`kill_all` at exit (``atexit``), on SIGTERM (a handler installed when the first game starts,
chaining to the previous one) and on Ctrl-C (pytest unwinds, then ``atexit`` runs). On Linux, the
game also gets ``PR_SET_PDEATHSIG``/SIGKILL so the kernel kills it if its parent dies without
cleaning up (an xdist worker killed with SIGKILL). Note that the death signal follows the *thread*
that launched the game: launch games from a thread that lives as long as they do.

The death signal is set by util-linux's ``setpriv --pdeathsig KILL`` exec'ing the game when it is
available (the game keeps the PID and the setting); otherwise by a ``preexec_fn``. A ``preexec_fn``
forces a full ``fork()`` of this (large: torch, SB3) process, which costs about 5 ms per launch;
without one Python spawns with ``vfork``.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: how many output lines are kept for error messages
TAIL_LINES = 200

_LIVE: dict[int, GodotProcess] = {}
_LIVE_LOCK = threading.Lock()
_HOOKS_INSTALLED = False
_PREVIOUS_SIGTERM: Any = None


def describe_exit(code: int | None) -> str:
    """``'exit code 3'`` / ``'killed by SIGKILL'`` / ``'still running'``."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exit code {code}"


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A preexec_fn that asks Linux to SIGKILL the child when its parent dies (None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # pragma: no cover - exotic libc
        return None
    prctl = libc.prctl
    pr_set_pdeathsig = 1
    sigkill = int(signal.SIGKILL)

    def preexec() -> None:
        prctl(pr_set_pdeathsig, sigkill, 0, 0, 0)

    return preexec


@functools.lru_cache(maxsize=1)
def _setpriv_prefix() -> tuple[str, ...] | None:
    """``("setpriv", "--pdeathsig", "KILL", "--")`` when this setpriv supports it, else None."""
    if not sys.platform.startswith("linux"):
        return None
    path = shutil.which("setpriv")
    if path is None:
        return None
    try:
        out = subprocess.run([path, "--help"], stdin=subprocess.DEVNULL, capture_output=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if b"--pdeathsig" not in out.stdout + out.stderr:
        return None
    return (path, "--pdeathsig", "KILL", "--")


def _launch_args(cmd: list[str]) -> tuple[list[str], Callable[[], None] | None]:
    """The argv to spawn and the preexec_fn, both arranging PR_SET_PDEATHSIG=SIGKILL on Linux."""
    prefix = _setpriv_prefix()
    if prefix is None:
        return cmd, _pdeathsig_preexec()
    exe = cmd[0] if os.sep in cmd[0] else shutil.which(cmd[0])
    if exe is None or not os.access(exe, os.X_OK) or os.path.isdir(exe):
        # fail like Popen would, instead of setpriv failing inside the child
        raise FileNotFoundError(2, "No such executable file", cmd[0])
    return [*prefix, *cmd], None


class GodotProcess:
    """One running game: the process, its log, and its teardown.

    Args:
        cmd: the command line (see :func:`.binary.build_command`).
        log_path: where stdout+stderr go (``<artifacts>/godot.log``).
        cwd: working directory.
        env: extra environment variables.
    """

    def __init__(self, cmd: Sequence[str], log_path: Path, cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.cmd = list(cmd)
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        #: recent lines for log-pattern bug signatures (``lines_since``), and how many were read
        self._lines: collections.deque[str] = collections.deque(maxlen=10_000)
        self.lines_seen = 0
        self._busy = False
        self.script_errors: list[str] = []
        self._lock = threading.Lock()
        full_env = dict(os.environ)
        full_env.update(env or {})
        install_cleanup_hooks()
        argv, preexec = _launch_args(self.cmd)
        self.started_at = time.monotonic()
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=str(cwd) if cwd else None,
            env=full_env,
            start_new_session=True,
            preexec_fn=preexec,
        )
        self.pid = self.popen.pid
        with _LIVE_LOCK:
            _LIVE[self.pid] = self
        self._reader = threading.Thread(target=self._read_output, name=f"godot-log-{self.pid}", daemon=True)
        self._reader.start()

    # -- output ---------------------------------------------------------------------------
    def _read_output(self) -> None:
        stream = self.popen.stdout
        assert stream is not None
        fd = stream.fileno()
        expect_location = False
        partial = b""
        with open(self.log_path, "ab") as log:
            log.write(f"$ {' '.join(self.cmd)}\n".encode(errors="replace"))
            log.flush()
            while True:
                try:
                    chunk = os.read(fd, 65536)  # unbuffered: what the pipe holds is all that is unread
                except OSError:
                    chunk = b""
                with self._lock:
                    self._busy = bool(chunk)
                if not chunk:
                    break
                log.write(chunk)
                log.flush()
                partial += chunk
                *complete, partial = partial.split(b"\n")
                with self._lock:
                    for raw in complete:
                        line = raw.decode("utf-8", errors="replace").rstrip("\r")
                        self._tail.append(line)
                        self._lines.append(line)
                        self.lines_seen += 1
                        if expect_location and line.lstrip().startswith("At:"):
                            self.script_errors[-1] += " " + line.strip()
                        expect_location = False
                        if "SCRIPT ERROR" in line:
                            self.script_errors.append(line.strip())
                            expect_location = True
                    self._busy = False
        if partial:
            with self._lock:
                line = partial.decode("utf-8", errors="replace").rstrip("\r")
                self._tail.append(line)
                self._lines.append(line)
                self.lines_seen += 1
        with contextlib.suppress(Exception):
            stream.close()

    def lines_since(self, cursor: int, settle: float = 0.05) -> tuple[list[str], int]:
        """The lines printed after line number ``cursor`` and the new cursor.

        Lines the game printed before its last reply are already in the pipe: this waits (at most
        ``settle`` seconds) until the reader has taken everything the pipe holds, so a line printed
        during a step is seen at that step (what log-pattern bug signatures need).
        """
        import select

        stream = self.popen.stdout
        deadline = time.monotonic() + settle
        idle = 0
        while stream is not None and not stream.closed and time.monotonic() < deadline:
            try:
                readable = bool(select.select([stream.fileno()], [], [], 0)[0])
            except (OSError, ValueError):
                break
            with self._lock:
                busy = self._busy
            idle = idle + 1 if not readable and not busy else 0
            if idle >= 2:  # twice in a row: the reader is not between a read and its bookkeeping
                break
            time.sleep(0.0002)
        with self._lock:
            first = max(cursor, self.lines_seen - len(self._lines))
            lines = list(self._lines)[first - (self.lines_seen - len(self._lines)):]
            return lines, self.lines_seen

    def tail(self, n: int = 30) -> list[str]:
        """The last ``n`` lines the game printed."""
        with self._lock:
            return list(self._tail)[-n:]

    def wait_output(self, timeout: float = 2.0) -> None:
        """Wait (briefly) until the game's output is fully read, e.g. after it exited."""
        self._reader.join(timeout)

    def describe_output(self, n: int = 30) -> str:
        """The last ``n`` lines, indented, plus the log's path, for error messages."""
        lines = self.tail(n)
        body = "\n".join("    " + line for line in lines) if lines else "    (no output)"
        return f"last {len(lines)} lines of the game's output ({self.log_path}):\n{body}"

    # -- state ----------------------------------------------------------------------------
    def poll(self) -> int | None:
        """The exit status (negative: killed by that signal), or None while running."""
        return self.popen.poll()

    @property
    def alive(self) -> bool:
        """True while the Godot process runs."""
        return self.popen.poll() is None

    def exit_description(self) -> str:
        """How the process ended (exit status or signal), for error messages."""
        return describe_exit(self.popen.poll())

    # -- teardown -------------------------------------------------------------------------
    def kill_group(self, sig: int) -> None:
        """Send ``sig`` to the game's whole process group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def terminate(self, grace: float = 1.0) -> int | None:
        """Stop the game: wait ``grace`` s for it to leave on its own, then SIGTERM, then SIGKILL
        the process group. Returns the exit status. Idempotent."""
        try:
            if self.popen.poll() is None:
                try:
                    self.popen.wait(grace)
                except subprocess.TimeoutExpired:
                    self.kill_group(signal.SIGTERM)
                    try:
                        self.popen.wait(1.0)
                    except subprocess.TimeoutExpired:
                        self.kill_group(signal.SIGKILL)
                        self.popen.wait(5.0)
            # stray children in the group (rare for Godot) go too
            self.kill_group(signal.SIGKILL)
        finally:
            with _LIVE_LOCK:
                _LIVE.pop(self.pid, None)
            self.wait_output(1.0)
        return self.popen.poll()


def live_processes() -> list[GodotProcess]:
    """Every game started by this process that has not been reaped."""
    with _LIVE_LOCK:
        return list(_LIVE.values())


def kill_all() -> int:
    """SIGKILL every live game's process group; returns how many there were. Safe to call anytime
    (the plugin should call it at session end)."""
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
        _LIVE.clear()
    for proc in procs:
        proc.kill_group(signal.SIGKILL)
        with contextlib.suppress(Exception):
            proc.popen.wait(2.0)
    return len(procs)


def _on_sigterm(signum: int, frame: Any) -> None:
    kill_all()
    previous = _PREVIOUS_SIGTERM
    if callable(previous):
        previous(signum, frame)
        return
    # default action: die of SIGTERM as if we never caught it
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def install_cleanup_hooks() -> None:
    """Register :func:`kill_all` with ``atexit`` and SIGTERM (once; main thread only for the signal)."""
    global _HOOKS_INSTALLED, _PREVIOUS_SIGTERM
    if _HOOKS_INSTALLED:
        return
    _HOOKS_INSTALLED = True
    atexit.register(kill_all)
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):
            previous = signal.getsignal(signal.SIGTERM)
            if previous in (signal.SIG_IGN,):
                return
            _PREVIOUS_SIGTERM = previous if callable(previous) else None
            signal.signal(signal.SIGTERM, _on_sigterm)
