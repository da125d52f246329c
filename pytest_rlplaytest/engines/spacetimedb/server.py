"""Start (or reach) a SpacetimeDB server, publish a module, and talk to its HTTP API (stdlib only).

* :mod:`.install` finds the binaries behind the configured ``spacetime`` (the version-manager proxy,
  ``spacetimedb-cli`` or ``spacetimedb-standalone``) and builds isolated command lines.
* :class:`SpacetimeServer` runs ``spacetimedb-standalone start --data-dir ROOT/data --jwt-key-dir
  ROOT/keys --listen-addr 127.0.0.1:0 --non-interactive`` (or the same through ``spacetime start``) in
  its own process group, with data, keys and ``cli.toml`` of its own (never the user's), reads the
  bound address from the log line ``Starting SpacetimeDB listening on <addr>``
  (``crates/standalone/src/subcommands/start.rs:264 @2.8.3``), waits for ``GET /v1/ping`` to answer 200,
  publishes modules with ``spacetimedb-cli --root-dir=ROOT --config-path=ROOT/cli.toml publish -s URL -p
  MODULE DB -c --yes`` and kills the whole group on :meth:`stop`.
* :class:`HttpApi` wraps ``/v1/ping``, ``/v1/health``, ``POST /v1/identity``, the schema endpoint,
  reducer calls and SQL.
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..base import EngineError
from .codec import ProtocolError, normalize_identity
from .install import INSTALL_HINT, SpacetimeInstall, find_spacetime, parse_version, spacetime_version, tail
from .schema import ModuleSchema, parse_module_def

__all__ = ["INSTALL_HINT", "HttpApi", "HttpError", "PublishResult", "SpacetimeInstall", "SpacetimeServer",
           "find_spacetime", "kill_process_group", "parse_version", "publish_module", "spacetime_version", "tail"]

LISTENING_RE = re.compile(r"Starting SpacetimeDB listening on (\S+)")
PUBLISH_IDENTITY_RE = re.compile(r"identity:\s*(?:0x)?([0-9a-fA-F]{1,64})\b")

#: what ``POST /v1/database/{db}/call/{reducer}`` answers, by status
#: (``crates/client-api/src/routes/database.rs:99-119,140-215,407-454 @2.8.3``)
CALL_STATUS = {
    530: "the reducer failed",
    400: "bad arguments, or a lifecycle reducer",
    402: "the module's energy budget is exhausted",
    403: "the module's client_connected reducer rejected the caller",
    404: "unknown database, or no such reducer or procedure (private reducers count as unknown)",
    415: "the body must be sent with Content-Type: application/json",
    500: "the server failed",
    503: "out of energy while connecting",
}


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
        """``POST /v1/database/{db}/call/{reducer}`` with a JSON array body, **outside any connection**.

        The server wraps every HTTP call in the module's lifecycle reducers: it makes a fresh connection
        id, runs ``client_connected``, the reducer, then ``client_disconnected`` -- always, even when the
        call failed (``with_connection``, ``crates/client-api/src/routes/database.rs:682-715 @2.8.3``;
        ``:145-189 @1.12``). A module whose ``client_disconnected`` cleans up the caller's state (the
        example Blackholio deletes the caller's player) undoes the call at once, and a call made with a
        live agent's token runs that identity's ``client_disconnected`` too. Call reducers over a
        WebSocket instead (:meth:`~.client.SpacetimeClient.call_reducer`,
        :meth:`~.fixtures.SpacetimeInstance.connect`); use this for modules without such lifecycle
        effects. An unknown or private reducer is then tried as a procedure: 404 ``No such procedure``.

        Raises:
            HttpError: with the status (see :data:`CALL_STATUS`) and the server's text.
        """
        path = f"/v1/database/{quote(database, safe='')}/call/{quote(reducer, safe='')}"
        status, text = self._request("POST", path, json.dumps(list(args)).encode(), token)
        if status != 200:
            what = CALL_STATUS.get(status, "unexpected status")
            raise HttpError(f"calling {reducer} on {database}: {what} (HTTP {status}): {text[:500]}", status, text)

    def schema(self, database: str, token: str | None = None) -> ModuleSchema:
        """The module's tables and reducers: ``GET /v1/database/{db}/schema?version=9`` (what
        ``spacetime describe --json`` reads: ``crates/cli/src/subcommands/describe.rs:54-97 @1.12``).

        Raises:
            HttpError: when the server does not answer 200 (e.g. 404 for an unknown database).
            ProtocolError: when the answer is not a ``RawModuleDefV9``.
        """
        path = f"/v1/database/{quote(database, safe='')}/schema?version=9"
        status, text = self._request("GET", path, token=token)
        if status != 200:
            raise HttpError(f"GET {path} answered {status}: {text[:300]}", status, text)
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ProtocolError(f"GET {path} answered invalid JSON: {text[:200]!r}") from exc
        return parse_module_def(data)

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
    """A local SpacetimeDB server process with an isolated root directory.

    Args:
        binary: the entry binary (see :func:`~.install.find_spacetime`): the ``spacetime`` proxy,
            ``spacetimedb-cli`` or ``spacetimedb-standalone``.
        root: the isolated root (None: a fresh temporary directory, removed on :meth:`stop`); it holds
            ``data/``, ``keys/`` (the JWT key pair), ``cli.toml`` (the CLI's login for this server).
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
    install: SpacetimeInstall | None = None
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
        # the version probe gets its own time: through the proxy it starts two processes
        self.install = self.install or SpacetimeInstall.locate(self.binary, max(self.timeout, 30.0))
        self.version = self.install.version
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="rlplaytest-spacetimedb-"))
            self._own_root = True
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_path or self.root / "server.log"
        self._log_file = open(self.log_path, "wb")  # kept open for the process's life
        argv = self.install.start_argv(self.root, in_memory=self.in_memory)
        try:
            self.process = subprocess.Popen(argv, stdout=self._log_file, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True,
                                            env=_quiet_env())
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
        if not self.url or self.root is None or self.install is None:
            raise EngineError("start the server before publishing")
        result = publish_module(self.install, self.root, self.url, Path(module_dir), database,
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


def publish_module(install: SpacetimeInstall, root: Path, url: str, module_dir: Path, database: str,
                   clear: bool = True, timeout: float = 900.0) -> PublishResult:
    """Publish ``module_dir`` as ``database`` at ``url``, the CLI's login kept in ``root/cli.toml``.

    Raises:
        EngineError: on a non-zero exit or timeout (with exit status and output tail).
    """
    if not module_dir.is_dir():
        raise EngineError(f"SpacetimeDB module folder {module_dir} does not exist; pass "
                          "env='spacetimedb:<folder with the module's Cargo.toml>'")
    root.mkdir(parents=True, exist_ok=True)
    argv = install.publish_argv(root, url, module_dir, database, clear)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              start_new_session=True, check=False, env=_quiet_env())
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"")
        text = out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out)
        raise EngineError(f"`spacetime publish` did not finish within {timeout:g} s.\ncommand: {' '.join(argv)}\n"
                          f"output:\n{tail(text)}") from None
    except OSError as exc:
        raise EngineError(f"cannot run {argv[0]}: {exc}") from exc
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise EngineError(f"`spacetime publish` of {module_dir} as {database!r} exited with status "
                          f"{proc.returncode}.\ncommand: {' '.join(argv)}\noutput:\n{tail(output)}\n"
                          "Fix the module (build errors above) or the server URL.")
    m = PUBLISH_IDENTITY_RE.search(output)
    return PublishResult(database, normalize_identity(m.group(1)) if m else None, output)


def _quiet_env() -> dict[str, str]:
    """The environment for SpacetimeDB processes: no ANSI colours in logs (1.12 colours even into files
    unless ``NO_COLOR`` is set: ``crates/core/src/startup.rs:52-74 @1.12``)."""
    env = dict(os.environ)
    env.setdefault("NO_COLOR", "1")
    return env
