"""Start (or reach) a SpacetimeDB server, publish a module, and talk to its HTTP API (stdlib only).

* :func:`find_spacetime` locates the ``spacetime`` CLI (setting ``spacetime_bin`` / ``SPACETIME_BIN``,
  then ``PATH``); a missing binary is :class:`~..base.EngineUnavailable` with an install hint.
* :class:`SpacetimeServer` runs ``spacetime --root-dir TMP --config-path TMP/cli.toml start -l
  127.0.0.1:0 --data-dir TMP/data [--non-interactive]`` in its own process group, with a root and
  config of its own (never the user's), reads the bound address from the log line ``Starting
  SpacetimeDB listening on <addr>``, waits for ``GET /v1/ping`` to answer 200, publishes modules with
  ``spacetime publish -s URL -p MODULE DB -c --yes`` and kills the whole group on :meth:`stop`.
* :class:`HttpApi` wraps ``/v1/ping``, ``/v1/health``, ``POST /v1/identity``, reducer calls and SQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..base import EngineError, EngineUnavailable
from .codec import normalize_identity

INSTALL_HINT = (
    "Install the SpacetimeDB CLI (curl -sSf https://install.spacetimedb.com | sh, see "
    "https://spacetimedb.com/install) and put `spacetime` on PATH, or point --spacetime-bin / "
    "SPACETIME_BIN at it, or pass --spacetimedb-url for a server that is already running."
)

LISTENING_RE = re.compile(r"Starting SpacetimeDB listening on (\S+)")
VERSION_RE = re.compile(r"spacetimedb tool version (\d+)\.(\d+)\.(\d+)")
ANY_VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")
PUBLISH_IDENTITY_RE = re.compile(r"identity:\s*(?:0x)?([0-9a-fA-F]{1,64})\b")

#: ``--non-interactive`` exists on ``spacetime start`` from this version on
NON_INTERACTIVE_SINCE = (1, 12, 0)
#: from this version on ``-c`` (``--delete-data``) takes its mode as ``=value``
DELETE_DATA_EQUALS_SINCE = (2, 2, 0)


def tail(text: str, lines: int = 30) -> str:
    """The last ``lines`` lines of ``text`` (for error messages)."""
    rows = text.rstrip().splitlines()
    cut = rows[-lines:]
    return ("…\n" if len(rows) > lines else "") + "\n".join(cut)


def find_spacetime(configured: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Return the path of the ``spacetime`` CLI.

    Order: ``configured`` (the ``spacetime_bin`` setting), ``$SPACETIME_BIN``, ``PATH``.

    Raises:
        EngineUnavailable: when none is found (with an install hint).
    """
    environ = os.environ if environ is None else environ
    for source, candidate in (("--spacetime-bin", configured), ("SPACETIME_BIN", environ.get("SPACETIME_BIN"))):
        if candidate:
            path = shutil.which(candidate) or (candidate if os.access(candidate, os.X_OK) else None)
            if path is None:
                raise EngineUnavailable(f"{source} points at {candidate!r}, which is not an executable file.",
                                        INSTALL_HINT)
            return str(Path(path).resolve())
    found = shutil.which("spacetime", path=environ.get("PATH"))
    if found is None:
        raise EngineUnavailable("The SpacetimeDB CLI `spacetime` was not found on PATH.", INSTALL_HINT)
    return found


def parse_version(text: str) -> tuple[int, int, int] | None:
    """Parse ``spacetime --version`` output (``spacetimedb tool version 1.3.0; …``)."""
    m = VERSION_RE.search(text) or ANY_VERSION_RE.search(text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def spacetime_version(binary: str, timeout: float = 30.0) -> tuple[int, int, int]:
    """Run ``spacetime --version`` and parse it.

    Raises:
        EngineError: when it fails or prints no version.
    """
    try:
        proc = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"`{binary} --version` failed: {exc}") from exc
    output = proc.stdout + proc.stderr
    version = parse_version(output)
    if proc.returncode != 0 or version is None:
        raise EngineError(f"`{binary} --version` exited with status {proc.returncode} and printed no version:\n"
                          f"{tail(output)}\nIs this the SpacetimeDB CLI?")
    return version


def global_args(root: Path) -> list[str]:
    """Global flags isolating the CLI in ``root`` (its own config, never the user's)."""
    return ["--root-dir", str(root), "--config-path", str(root / "cli.toml")]


def start_args(version: tuple[int, int, int], root: Path, listen: str = "127.0.0.1:0",
               in_memory: bool = False) -> list[str]:
    """Arguments after the binary for ``spacetime start`` (``--non-interactive`` from 1.12)."""
    args = [*global_args(root), "start", "-l", listen, "--data-dir", str(root / "data")]
    if in_memory:
        args.append("--in-memory")
    if version >= NON_INTERACTIVE_SINCE:
        args.append("--non-interactive")
    return args


def publish_args(version: tuple[int, int, int], root: Path, url: str, module_dir: Path, database: str,
                 clear: bool = True) -> list[str]:
    """Arguments after the binary for ``spacetime publish -s URL -p MODULE DB -c --yes``.

    From 2.2 the delete-data flag takes its mode as ``=value`` (``-c=always``); before, a bare ``-c``.
    ``--yes`` stays a plain switch and goes last, so it can never swallow the database name.
    """
    args = [*global_args(root), "publish", "-s", url, "-p", str(module_dir), database]
    if clear:
        args.append("-c=always" if version >= DELETE_DATA_EQUALS_SINCE else "-c")
    args.append("--yes")
    return args


# -- HTTP --------------------------------------------------------------------------------------
class HttpError(EngineError):
    """An HTTP request to SpacetimeDB failed; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass
class HttpApi:
    """SpacetimeDB's HTTP API at ``base_url`` (``http://host:port``), on ``urllib`` only."""

    base_url: str
    timeout: float = 10.0

    def _request(self, method: str, path: str, body: bytes | None = None, token: str | None = None,
                 content_type: str = "application/json") -> tuple[int, str]:
        req = urllib.request.Request(self.base_url.rstrip("/") + path, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", content_type)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
        try:
            with opener.open(req, timeout=self.timeout) as resp:
                return resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as exc:
            raise HttpError(f"{method} {self.base_url}{path} failed: {exc}") from exc

    def ping(self) -> bool:
        """True when ``GET /v1/ping`` answers 200."""
        try:
            status, _ = self._request("GET", "/v1/ping")
        except HttpError:
            return False
        return status == 200

    def health(self) -> dict[str, Any]:
        """``GET /v1/health`` -> ``{"package_name", "version", "nodes", "schedulable"}``."""
        status, text = self._request("GET", "/v1/health")
        if status != 200:
            raise HttpError(f"GET /v1/health answered {status}: {text[:300]}", status, text)
        return dict(json.loads(text))

    def create_identity(self) -> tuple[str, str]:
        """``POST /v1/identity`` -> ``(identity as 64 hex, token)``."""
        status, text = self._request("POST", "/v1/identity", b"")
        if status != 200:
            raise HttpError(f"POST /v1/identity answered {status}: {text[:300]}", status, text)
        try:
            data = json.loads(text)
            return normalize_identity(data["identity"]), str(data["token"])
        except (ValueError, KeyError, TypeError) as exc:
            raise HttpError(f"POST /v1/identity answered an unexpected body: {text[:300]}", status, text) from exc

    def call_reducer(self, database: str, reducer: str, args: Sequence[Any], token: str | None = None) -> None:
        """``POST /v1/database/{db}/call/{reducer}`` with a JSON array body.

        Raises:
            HttpError: 530 (the reducer failed: its message), 400 (bad arguments), 404 (unknown).
        """
        path = f"/v1/database/{quote(database, safe='')}/call/{quote(reducer, safe='')}"
        status, text = self._request("POST", path, json.dumps(list(args)).encode(), token)
        if status != 200:
            what = {530: "the reducer failed", 400: "bad arguments", 404: "unknown database or reducer"}.get(
                status, "unexpected status")
            raise HttpError(f"calling {reducer} on {database}: {what} (HTTP {status}): {text[:500]}", status, text)

    def sql(self, database: str, query: str, token: str | None = None) -> list[dict[str, Any]]:
        """``POST /v1/database/{db}/sql`` (plain-text SQL); returns the raw statement results."""
        path = f"/v1/database/{quote(database, safe='')}/sql"
        status, text = self._request("POST", path, query.encode(), token, content_type="text/plain")
        if status != 200:
            raise HttpError(f"SQL {query!r} on {database} answered HTTP {status}: {text[:500]}", status, text)
        result = json.loads(text)
        return list(result) if isinstance(result, list) else [result]

    def wait_ready(self, timeout: float, alive: Any = None) -> None:
        """Poll ``/v1/ping`` until 200 or ``timeout`` seconds pass.

        Args:
            alive: optional callable; when it returns False the wait stops early.

        Raises:
            HttpError: on timeout.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping():
                return
            if alive is not None and not alive():
                raise HttpError(f"{self.base_url} stopped before answering /v1/ping")
            time.sleep(0.1)
        raise HttpError(f"{self.base_url}/v1/ping did not answer 200 within {timeout:g} s")


# -- the server process ------------------------------------------------------------------------
@dataclass
class PublishResult:
    """What ``spacetime publish`` reported."""

    database: str
    identity: str | None
    output: str


@dataclass
class SpacetimeServer:
    """A local ``spacetime start`` process with an isolated root directory.

    Args:
        binary: the ``spacetime`` CLI (see :func:`find_spacetime`).
        root: the isolated root (None: a fresh temporary directory, removed on :meth:`stop`).
        timeout: seconds for the server to come up.
        publish_timeout: seconds for ``spacetime publish`` (it compiles the module: slow the first time).
        log_path: where the server's output goes (default ``root/server.log``).
    """

    binary: str
    root: Path | None = None
    timeout: float = 30.0
    publish_timeout: float = 900.0
    log_path: Path | None = None
    in_memory: bool = False
    version: tuple[int, int, int] = (0, 0, 0)
    url: str = ""
    process: subprocess.Popen[bytes] | None = None
    _own_root: bool = False
    _log_file: Any = None
    published: list[PublishResult] = field(default_factory=list)

    def start(self) -> str:
        """Start the server; return its base URL.

        Raises:
            EngineError: when it exits early or is not ready in time (with exit status and log tail).
        """
        self.version = spacetime_version(self.binary, self.timeout)
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="rlplaytest-spacetimedb-"))
            self._own_root = True
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_path or self.root / "server.log"
        self._log_file = open(self.log_path, "wb")  # kept open for the process's life
        argv = [self.binary, *start_args(self.version, self.root, in_memory=self.in_memory)]
        try:
            self.process = subprocess.Popen(argv, stdout=self._log_file, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True,
                                            env=self._env())
        except OSError as exc:
            raise EngineError(f"cannot run {argv[0]}: {exc}") from exc
        try:
            address = self._wait_for_listening(argv)
            self.url = "http://" + address
            HttpApi(self.url).wait_ready(max(1.0, self.timeout), alive=lambda: self.process is not None
                                         and self.process.poll() is None)
        except HttpError as exc:
            self._raise_failure(f"the server at {self.url} did not become ready ({exc})", argv)
        except BaseException:
            self.stop()
            raise
        return self.url

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("NO_COLOR", "1")
        return env

    def log_text(self) -> str:
        """The server's output so far."""
        try:
            return self.log_path.read_text("utf-8", "replace") if self.log_path else ""
        except OSError:
            return ""

    def _raise_failure(self, what: str, argv: Sequence[str]) -> None:
        status = self.process.poll() if self.process else None
        log = self.log_text()
        self.stop(remove_root=False)
        state = f"it exited with status {status}" if status is not None else "it was still running (killed)"
        raise EngineError(f"SpacetimeDB server failed: {what}; {state}.\ncommand: {' '.join(argv)}\n"
                          f"log ({self.log_path}):\n{tail(log)}")

    def _wait_for_listening(self, argv: Sequence[str]) -> str:
        deadline = time.monotonic() + self.timeout
        while True:
            m = LISTENING_RE.search(self.log_text())
            if m:
                return _loopback(m.group(1))
            assert self.process is not None
            if self.process.poll() is not None:
                time.sleep(0.05)  # let the last output land
                self._raise_failure("it exited before listening", argv)
            if time.monotonic() > deadline:
                self._raise_failure(f"no 'Starting SpacetimeDB listening on' line within {self.timeout:g} s "
                                    "(raise --rl-engine-timeout if the machine is slow)", argv)
            time.sleep(0.05)

    def publish(self, module_dir: Path | str, database: str, clear: bool = True) -> PublishResult:
        """``spacetime publish`` the module at ``module_dir`` as ``database`` on this server.

        Raises:
            EngineError: when publishing fails or times out (with exit status and output tail).
        """
        if not self.url or self.root is None:
            raise EngineError("start the server before publishing")
        result = publish_module(self.binary, self.version, self.root, self.url, Path(module_dir), database,
                                clear=clear, timeout=self.publish_timeout)
        self.published.append(result)
        return result

    def stop(self, remove_root: bool = True) -> None:
        """Kill the server's whole process group; idempotent."""
        proc, self.process = self.process, None
        if proc is not None:
            kill_process_group(proc)
        if self._log_file is not None:
            with contextlib.suppress(OSError):
                self._log_file.close()
            self._log_file = None
        if remove_root and self._own_root and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self._own_root = False

    def __enter__(self) -> SpacetimeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _loopback(address: str) -> str:
    """Map a wildcard listen address to loopback (``0.0.0.0:3000`` -> ``127.0.0.1:3000``)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def kill_process_group(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the process's group, then SIGKILL after ``grace`` seconds; reap the process."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = None
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        try:
            if pgid is not None:
                os.killpg(pgid, sig)
            else:
                proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(wait)
            if sig == signal.SIGTERM and pgid is not None:
                # the leader is gone; make sure no child of the group survives
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue


def publish_module(binary: str, version: tuple[int, int, int], root: Path, url: str, module_dir: Path,
                   database: str, clear: bool = True, timeout: float = 900.0) -> PublishResult:
    """Run ``spacetime publish`` with the isolated ``root``; parse the database identity.

    Raises:
        EngineError: on a non-zero exit or timeout (with exit status and output tail).
    """
    if not module_dir.is_dir():
        raise EngineError(f"SpacetimeDB module folder {module_dir} does not exist; pass "
                          "env='spacetimedb:<folder with the module's Cargo.toml>'")
    argv = [binary, *publish_args(version, root, url, module_dir, database, clear)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              start_new_session=True, check=False)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"")
        text = out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out)
        raise EngineError(f"`spacetime publish` did not finish within {timeout:g} s.\ncommand: {' '.join(argv)}\n"
                          f"output:\n{tail(text)}") from None
    except OSError as exc:
        raise EngineError(f"cannot run {binary}: {exc}") from exc
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise EngineError(f"`spacetime publish` of {module_dir} as {database!r} exited with status "
                          f"{proc.returncode}.\ncommand: {' '.join(argv)}\noutput:\n{tail(output)}\n"
                          "Fix the module (build errors above) or the server URL.")
    m = PUBLISH_IDENTITY_RE.search(output)
    return PublishResult(database, normalize_identity(m.group(1)) if m else None, output)
