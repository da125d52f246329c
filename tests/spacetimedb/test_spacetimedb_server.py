"""The server launcher and HTTP helpers, with the ``spacetime`` CLI test double and a stdlib HTTP double."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_rlplaytest.common.paths import PathBase
from pytest_rlplaytest.engines.base import EngineContext, EngineError, EngineUnavailable
from pytest_rlplaytest.engines.spacetimedb.engine import SpacetimeEngine
from pytest_rlplaytest.engines.spacetimedb.server import (
    HttpApi,
    HttpError,
    SpacetimeServer,
    _loopback,
    find_spacetime,
    parse_version,
    publish_args,
    spacetime_version,
    start_args,
)
from pytest_rlplaytest.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "example_project" / "spacetimedb" / "blackholio"


def argv_log(tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "argv.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True


# -- pure helpers -------------------------------------------------------------------------------------
def test_parse_version_from_real_banners() -> None:
    banner = ("spacetime Path: /home/u/.local/share/spacetime/bin/current/spacetimedb-cli\nCommit: 4032a4\n"
              "spacetimedb tool version 1.0.0; spacetimedb-lib version 1.0.0;")
    assert parse_version(banner) == (1, 0, 0)
    assert parse_version("spacetimedb tool version 2.8.3; spacetimedb-lib version 2.8.3;") == (2, 8, 3)
    assert parse_version("nothing") is None


def test_start_args_are_isolated_and_versioned(tmp_path: Path) -> None:
    old = start_args((1, 11, 0), tmp_path)
    new = start_args((1, 12, 0), tmp_path)
    assert old[:4] == ["--root-dir", str(tmp_path), "--config-path", str(tmp_path / "cli.toml")]
    assert old[4:] == ["start", "-l", "127.0.0.1:0", "--data-dir", str(tmp_path / "data")]
    assert new[-1] == "--non-interactive" and "--non-interactive" not in old


def test_publish_args_by_version(tmp_path: Path) -> None:
    v1 = publish_args((1, 5, 0), tmp_path, "http://127.0.0.1:5", MODULE, "db")
    v2 = publish_args((2, 2, 0), tmp_path, "http://127.0.0.1:5", MODULE, "db")
    assert v1[4:] == ["publish", "-s", "http://127.0.0.1:5", "-p", str(MODULE), "db", "-c", "--yes"]
    assert v2[4:] == ["publish", "-s", "http://127.0.0.1:5", "-p", str(MODULE), "db", "-c=always", "--yes"]
    assert publish_args((2, 2, 0), tmp_path, "u", MODULE, "db", clear=False)[-2:] == ["db", "--yes"]


def test_loopback_mapping() -> None:
    assert _loopback("0.0.0.0:3000") == "127.0.0.1:3000"
    assert _loopback("127.0.0.1:41234") == "127.0.0.1:41234"
    assert _loopback("[::]:3000") == "127.0.0.1:3000"


def test_find_spacetime(tmp_path: Path, fake_cli: Path) -> None:
    assert find_spacetime(str(fake_cli), environ={}) == str(fake_cli.resolve())
    assert find_spacetime(None, environ={"SPACETIME_BIN": str(fake_cli)}) == str(fake_cli.resolve())
    assert find_spacetime(None, environ={"PATH": str(fake_cli.parent)}) == str(fake_cli)
    with pytest.raises(EngineUnavailable, match="--spacetime-bin points at"):
        find_spacetime(str(tmp_path / "nope"), environ={})
    with pytest.raises(EngineUnavailable, match=r"not found on PATH.*install"):
        find_spacetime(None, environ={"PATH": str(tmp_path)})


def test_version_of_something_else_is_an_error(tmp_path: Path) -> None:
    exe = tmp_path / "notspacetime"
    exe.write_text("#!/bin/sh\necho hello\nexit 0\n")
    exe.chmod(0o755)
    with pytest.raises(EngineError, match="printed no version"):
        spacetime_version(str(exe))


# -- the server process (CLI test double) --------------------------------------------------------------
def test_server_starts_publishes_and_stops_without_leftovers(fake_cli: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SPACETIME_CHILD", "1")
    monkeypatch.setenv("FAKE_SPACETIME_VERSION", "1.12.0")
    server = SpacetimeServer(str(fake_cli), timeout=20)
    url = server.start()
    root = server.root
    assert root is not None and url.startswith("http://127.0.0.1:")
    try:
        assert HttpApi(url).ping()
        assert HttpApi(url).health()["package_name"] == "fake-spacetimedb-test-double"
        result = server.publish(MODULE, "blackholio")
        assert result.identity == "c2" + "0" * 60 + "0a"
        calls = argv_log(tmp_path)
        start = next(a for a in calls if "start" in a)
        assert start[:4] == ["--root-dir", str(root), "--config-path", str(root / "cli.toml")]
        assert "--non-interactive" in start and start[start.index("-l") + 1] == "127.0.0.1:0"
        publish = next(a for a in calls if "publish" in a)
        assert publish[4:] == ["publish", "-s", url, "-p", str(MODULE), "blackholio", "-c", "--yes"]
        assert str(Path.home()) not in " ".join(start[:4])  # never the user's config
        child = int((root / "child.pid").read_text())
        leader = server.process.pid  # type: ignore[union-attr]
        assert pid_alive(child)
    finally:
        server.stop()
    deadline = time.monotonic() + 5
    while (pid_alive(child) or pid_alive(leader)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(leader) and not pid_alive(child)  # the whole process group is gone
    assert not root.exists()  # its own temporary root is removed
    server.stop()  # idempotent


def test_server_crash_reports_exit_status_and_log_tail(fake_cli: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SPACETIME_MODE", "crash")
    server = SpacetimeServer(str(fake_cli), timeout=20)
    with pytest.raises(EngineError, match=r"(?s)exited with status 3.*Permission denied"):
        server.start()
    assert server.process is None


def test_server_that_never_listens_times_out(fake_cli: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SPACETIME_MODE", "hang")
    server = SpacetimeServer(str(fake_cli), timeout=1.5)
    started = time.monotonic()
    with pytest.raises(EngineError, match=r"(?s)no 'Starting SpacetimeDB listening on' line within 1.5 s.*"
                                          r"still running \(killed\).*test double\) starting"):
        server.start()
    assert time.monotonic() - started < 10


def test_publish_failure_shows_the_build_output(fake_cli: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = SpacetimeServer(str(fake_cli), timeout=20)
    server.start()
    try:
        monkeypatch.setenv("FAKE_SPACETIME_MODE", "publish-fail")
        with pytest.raises(EngineError, match=r"(?s)exited with status 1.*cannot find value `x`.*build failed"):
            server.publish(MODULE, "blackholio")
        with pytest.raises(EngineError, match="does not exist"):
            server.publish(MODULE / "nope", "blackholio")
    finally:
        server.stop()


def test_engine_full_lifecycle_with_the_cli_double(fake_cli: Path, tmp_path: Path) -> None:
    """spacetimedb:<relative module dir> -> start server, publish, play, close (no process left)."""
    settings = Settings.defaults(ROOT).replace(engine_timeout=20.0, spacetime_bin=str(fake_cli))
    ctx = EngineContext(artifacts_dir=tmp_path / "art", seed=1, options={"agents": 2, "max_episode_steps": 5},
                        settings=settings, nodeid="t", paths=PathBase.option(ROOT))
    engine = SpacetimeEngine("example_project/spacetimedb/blackholio", ctx)
    engine.start()
    try:
        assert engine.database == "blackholio" and engine.module_dir == MODULE
        assert engine.module_identity is not None
        process = engine.server.process  # type: ignore[union-attr]
        venv = engine.make_vec_env()
        venv.reset()
        for _ in range(6):
            venv.step(np.array([1, 5]))
        assert engine.describe()["spacetime_version"] == "2.3.0"
        assert (tmp_path / "art" / "spacetimedb-server.log").read_text().count("Starting SpacetimeDB") == 1
        assert "identity:" in (tmp_path / "art" / "spacetimedb-publish.log").read_text()
    finally:
        engine.close()
    assert process is not None and process.poll() is not None


# -- HTTP API (stdlib HTTP test double) ------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    """TEST DOUBLE of SpacetimeDB's HTTP API (status codes and bodies from the facts note)."""

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: str, ctype: str = "application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._reply(200, "") if self.path == "/v1/ping" else self._reply(404, "")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.server.seen.append((self.path, self.headers.get("Authorization"), body))  # type: ignore[attr-defined]
        if self.path == "/v1/identity":
            self._reply(200, json.dumps({"identity": "00" + "12" * 31, "token": "tok"}))
        elif self.path == "/v1/database/game/call/enter_game":
            args = json.loads(body)
            if args == [""]:
                self._reply(530, "name must be 1 to 32 characters", "text/plain")
            elif not isinstance(args, list) or len(args) != 1:
                self._reply(400, "invalid arguments", "text/plain")
            else:
                self._reply(200, "")
        elif self.path == "/v1/database/game/sql":
            self._reply(200, json.dumps([{"schema": {"elements": [{"name": {"some": "id"}}]}, "rows": [[0]]}]))
        else:
            self._reply(404, "no such database or reducer", "text/plain")


@pytest.fixture
def http_double() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_http_api(http_double: ThreadingHTTPServer) -> None:
    api = HttpApi(f"http://127.0.0.1:{http_double.server_address[1]}", timeout=5)
    assert api.ping()
    assert api.create_identity() == ("00" + "12" * 31, "tok")
    api.call_reducer("game", "enter_game", ["bot"], token="tok")
    assert http_double.seen[-1] == ("/v1/database/game/call/enter_game", "Bearer tok", '["bot"]')  # type: ignore[attr-defined]
    with pytest.raises(HttpError, match=r"the reducer failed \(HTTP 530\): name must be") as info:
        api.call_reducer("game", "enter_game", [""])
    assert info.value.status == 530
    with pytest.raises(HttpError, match="bad arguments"):
        api.call_reducer("game", "enter_game", [1, 2])
    with pytest.raises(HttpError, match="unknown database or reducer"):
        api.call_reducer("game", "fly", [])
    assert api.sql("game", "SELECT * FROM config")[0]["rows"] == [[0]]
    assert http_double.seen[-1][2] == "SELECT * FROM config"  # type: ignore[attr-defined]


def test_http_api_unreachable() -> None:
    api = HttpApi("http://127.0.0.1:9", timeout=2)
    assert not api.ping()
    with pytest.raises(HttpError, match="failed"):
        api.create_identity()
    with pytest.raises(HttpError, match="did not answer 200 within"):
        api.wait_ready(0.3)
