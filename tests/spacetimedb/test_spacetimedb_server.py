"""Finding the binaries, isolating and starting a server, publishing, and the HTTP API -- against the
fake standard install (the proxy, ``spacetimedb-cli``, ``spacetimedb-standalone``) and the server double."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeInstall, make_fake_install
from fake_spacetime_cli import Exit, proxy_parse
from fake_spacetimedb_server import FakeServerThread

from pytest_rlplaytest.common.paths import PathBase
from pytest_rlplaytest.engines.base import EngineContext, EngineError, EngineUnavailable
from pytest_rlplaytest.engines.spacetimedb.engine import SpacetimeEngine, remote_cli_root
from pytest_rlplaytest.engines.spacetimedb.install import SpacetimeInstall, find_spacetime, parse_version
from pytest_rlplaytest.engines.spacetimedb.server import (
    HttpApi,
    HttpError,
    SpacetimeServer,
    _loopback,
    publish_module,
)
from pytest_rlplaytest.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "example_project" / "spacetimedb" / "blackholio"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True


def run(exe: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                          check=False)


def applet_calls(install: FakeInstall, applet: str) -> list[list[str]]:
    return [c["argv"] for c in install.calls() if c["applet"] == applet]


# -- the proxy's argument parsing (crates/update/src/proxy.rs:148-181 @2.8.3) ----------------------------
def test_proxy_parse_rules() -> None:
    assert proxy_parse(["--root-dir=/r", "start"]) == (Path("/r"), "start")
    assert proxy_parse(["--config-path=/c.toml", "publish"]) == (None, "publish")
    assert proxy_parse(["--config-path", "/c.toml", "--root-dir=/r", "start"]) == (None, "/c.toml")  # value = subcommand
    with pytest.raises(Exit, match="a value is required for '--root-dir <root_dir>'"):
        proxy_parse(["--root-dir", "/r", "start"])
    with pytest.raises(Exit, match="cannot be used multiple times"):
        proxy_parse(["--root-dir=/a", "--root-dir=/b", "start"])


def test_standard_install_rejects_the_old_isolation_flags(fake_install: FakeInstall, tmp_path: Path) -> None:
    spaced = run(fake_install.proxy, "--root-dir", str(tmp_path / "r"), "--config-path", str(tmp_path / "c"), "start")
    assert spaced.returncode == 1 and "a value is required for '--root-dir <root_dir>'" in spaced.stderr
    fresh = run(fake_install.proxy, f"--root-dir={tmp_path / 'fresh'}", "start")
    assert fresh.returncode == 1 and "version set as current may not exist" in fresh.stderr
    assert f"exec failed for {tmp_path / 'fresh' / 'bin' / 'current' / 'spacetimedb-cli'}" in fresh.stderr
    version = run(fake_install.proxy, "--version")  # through the proxy: Path names the real CLI
    assert version.returncode == 0 and f"Path: {fake_install.cli}" in version.stdout


def test_standalone_start_rules(fake_install: FakeInstall, tmp_path: Path) -> None:
    """``--data-dir`` is required; a busy port with ``--non-interactive`` fails at once
    (``crates/standalone/src/subcommands/start.rs:27-97,217-258 @2.8.3``)."""
    missing = run(fake_install.standalone, "start", "--jwt-key-dir", str(tmp_path / "k"))
    assert missing.returncode == 2 and "--data-dir <data_dir>" in missing.stderr
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run(fake_install.standalone, "start", "--data-dir", str(tmp_path / "d"), "--jwt-key-dir",
                  str(tmp_path / "k"), "--listen-addr", f"127.0.0.1:{port}", "--non-interactive")
    assert out.returncode == 1 and f"Port {port} is already in use. Please free up the port" in out.stderr
    no_keys = run(fake_install.standalone, "start", "--data-dir", str(tmp_path / "d"))
    assert no_keys.returncode == 1 and "cannot omit --jwt-{pub,priv}-key-path" in no_keys.stderr


# -- finding the binaries ------------------------------------------------------------------------------------
def test_parse_version_from_real_banners() -> None:
    banner = ("Path: /home/u/.local/share/spacetime/bin/2.8.3/spacetimedb-cli\nCommit: 4032a4\n"
              "spacetimedb tool version 2.8.3; spacetimedb-lib version 2.8.3;")
    assert parse_version(banner) == (2, 8, 3)
    assert parse_version("nothing") is None


@pytest.mark.parametrize("entry", ["proxy", "cli", "standalone"])
def test_locate_finds_the_real_binaries_from_any_entry(fake_install: FakeInstall, entry: str) -> None:
    install = SpacetimeInstall.locate(str(getattr(fake_install, entry)))
    assert install.version == (2, 8, 3)
    assert (install.cli, install.cli_is_real) == (str(fake_install.cli), True)
    assert install.standalone in (str(fake_install.standalone), str(fake_install.standalone.resolve()))


def test_locate_without_a_path_line_goes_through_the_entry(fake_install: FakeInstall,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SPACETIME_NO_PATH", "1")
    install = SpacetimeInstall.locate(str(fake_install.proxy))
    assert (install.cli, install.cli_is_real, install.standalone) == (str(fake_install.proxy), False, None)
    root = Path("/r")
    assert install.start_argv(root)[:3] == [str(fake_install.proxy), "--config-path=/r/cli.toml", "start"]


def test_argv_by_version(tmp_path: Path) -> None:
    old = SpacetimeInstall("x", (1, 11, 2), "/b/spacetimedb-cli", True, "/b/spacetimedb-standalone")
    new = SpacetimeInstall("x", (1, 12, 0), "/b/spacetimedb-cli", True, "/b/spacetimedb-standalone")
    assert old.start_argv(tmp_path) == ["/b/spacetimedb-standalone", "start", "--data-dir", str(tmp_path / "data"),
                                        "--jwt-key-dir", str(tmp_path / "keys"), "--listen-addr", "127.0.0.1:0"]
    assert new.start_argv(tmp_path)[-1] == "--non-interactive"
    assert new.publish_argv(tmp_path, "http://h:1", MODULE, "db") == [
        "/b/spacetimedb-cli", f"--root-dir={tmp_path}", f"--config-path={tmp_path / 'cli.toml'}", "publish", "-s",
        "http://h:1", "-p", str(MODULE), "db", "-c", "--yes"]
    v2 = SpacetimeInstall("x", (2, 0, 0), "/p/spacetime", False, None)
    assert v2.publish_argv(tmp_path, "u", MODULE, "db", clear=False)[1:] == [
        f"--config-path={tmp_path / 'cli.toml'}", "publish", "-s", "u", "-p", str(MODULE), "db", "--no-config", "--yes"]
    with pytest.raises(EngineUnavailable, match="spacetimedb-cli"):
        SpacetimeInstall("s", (2, 8, 3), None, False, "/s").publish_argv(tmp_path, "u", MODULE, "db")


def test_find_spacetime(tmp_path: Path, fake_install: FakeInstall) -> None:
    assert find_spacetime(str(fake_install.proxy), environ={}) == str(fake_install.proxy)
    assert find_spacetime(None, environ={"SPACETIME_BIN": str(fake_install.cli)}) == str(fake_install.cli)
    assert find_spacetime(None, environ={"PATH": str(fake_install.bin_home)}) == str(fake_install.proxy)
    with pytest.raises(EngineUnavailable, match="--spacetime-bin points at"):
        find_spacetime(str(tmp_path / "nope"), environ={})
    with pytest.raises(EngineUnavailable, match=r"not found on PATH.*install"):
        find_spacetime(None, environ={"PATH": str(tmp_path)})


def test_version_of_something_else_is_an_error(tmp_path: Path) -> None:
    exe = tmp_path / "notspacetime"
    exe.write_text("#!/bin/sh\necho hello\nexit 0\n")
    exe.chmod(0o755)
    with pytest.raises(EngineError, match="printed no version"):
        SpacetimeInstall.locate(str(exe))


def test_loopback_mapping() -> None:
    assert _loopback("0.0.0.0:3000") == "127.0.0.1:3000"
    assert _loopback("127.0.0.1:41234") == "127.0.0.1:41234"
    assert _loopback("[::]:3000") == "127.0.0.1:3000"


# -- the server process -----------------------------------------------------------------------------------------
def test_standard_install_starts_isolated_publishes_and_leaves_nothing(fake_install: FakeInstall,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SPACETIME_CHILD", "1")
    server = SpacetimeServer(str(fake_install.proxy), timeout=20)
    url = server.start()
    root = server.root
    assert root is not None and url.startswith("http://127.0.0.1:")
    try:
        assert HttpApi(url).ping() and HttpApi(url).health()["version"] == "2.8.3"
        result = server.publish(MODULE, "blackholio")
        assert result.identity is not None and len(result.identity) == 64
        assert "We have logged in directly to your target server." in result.output
        (start,) = applet_calls(fake_install, "spacetimedb-standalone")
        assert start == ["start", "--data-dir", str(root / "data"), "--jwt-key-dir", str(root / "keys"),
                         "--listen-addr", "127.0.0.1:0", "--non-interactive"]
        (publish,) = [a for a in applet_calls(fake_install, "spacetimedb-cli") if "publish" in a]
        assert publish == [f"--root-dir={root}", f"--config-path={root / 'cli.toml'}", "publish", "-s", url, "-p",
                           str(MODULE), "blackholio", "-c", "--no-config", "--yes"]
        assert "spacetimedb_token" in (root / "cli.toml").read_text()  # this server's login, in its root
        assert (root / "keys" / "id_ecdsa").exists() and (root / "data" / "config.toml").exists()
        assert HttpApi(url).schema("blackholio").tables["player"].primary_key == "identity"
        child = int((root / "data" / "child.pid").read_text())
        leader = server.process.pid  # type: ignore[union-attr]
        assert pid_alive(child)
    finally:
        server.stop()
    deadline = time.monotonic() + 5
    while (pid_alive(child) or pid_alive(leader)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(leader) and not pid_alive(child)  # the whole process group is gone
    assert not root.exists()  # its own temporary root is removed
    # only the proxy's update-notice cache (from `spacetime --version`) touched the user's directories
    assert fake_install.user_files() == ["home/.config/spacetime/.update_check_cache"]
    server.stop()  # idempotent


def test_start_through_the_proxy_when_the_binaries_are_hidden(fake_install: FakeInstall,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``Path:`` line: ``spacetime --config-path=… start`` with the data and key dirs forwarded; the
    forwarded values come last and win (``args_override_self``)."""
    monkeypatch.setenv("FAKE_SPACETIME_NO_PATH", "1")
    with SpacetimeServer(str(fake_install.proxy), timeout=20) as server:
        root = server.root
        assert root is not None
        server.publish(MODULE, "blackholio")
        (start,) = applet_calls(fake_install, "spacetimedb-standalone")
        config = fake_install.config_home / "spacetime"
        assert start[:5] == ["start", "--data-dir", str(fake_install.data_home / "spacetime" / "data"),
                             "--jwt-key-dir", str(config)]
        assert start[5:] == ["--data-dir", str(root / "data"), "--jwt-key-dir", str(root / "keys"), "--listen-addr",
                             "127.0.0.1:0", "--non-interactive"]
        assert (root / "keys" / "id_ecdsa").exists()
        publish = [c for c in applet_calls(fake_install, "spacetime") if "publish" in c]
        assert publish and publish[0][0] == f"--config-path={root / 'cli.toml'}"
    assert fake_install.user_files() == ["home/.config/spacetime/.update_check_cache"]


def test_tokens_of_one_server_are_refused_by_another(tmp_path: Path, fake_install: FakeInstall) -> None:
    with SpacetimeServer(str(fake_install.cli), timeout=20) as a, SpacetimeServer(str(fake_install.standalone),
                                                                                  timeout=20) as b:
        _, token = HttpApi(a.url).create_identity()
        a.publish(MODULE, "blackholio")
        with pytest.raises(HttpError) as info:
            HttpApi(b.url).schema("blackholio", token)
        assert info.value.status == 401 and "token not signed by this instance" in info.value.body
        assert a.root != b.root and applet_calls(fake_install, "spacetime") == []  # the direct binaries only


def test_a_1x_install_gets_the_1x_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install = make_fake_install(tmp_path / "old", "1.12.0")
    monkeypatch.setenv("XDG_DATA_HOME", str(install.data_home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(install.config_home))
    monkeypatch.setenv("FAKE_SPACETIME_LOG", str(install.log))
    with SpacetimeServer(str(install.proxy), timeout=20) as server:
        server.publish(MODULE, "blackholio")
        assert server.version == (1, 12, 0) and HttpApi(server.url).health()["version"] == "1.12.0"
    (publish,) = [a for a in applet_calls(install, "spacetimedb-cli") if "publish" in a]
    assert "--no-config" not in publish and publish[-2:] == ["-c", "--yes"]
    assert install.user_files() == []  # the 1.12 proxy has no update check


def test_server_crash_reports_exit_status_and_log_tail(fake_install: FakeInstall, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SPACETIME_MODE", "crash")
    server = SpacetimeServer(str(fake_install.proxy), timeout=20)
    with pytest.raises(EngineError, match=r"(?s)exited with status 3.*Permission denied"):
        server.start()
    assert server.process is None


def test_server_that_never_listens_times_out(fake_install: FakeInstall, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SPACETIME_MODE", "hang")
    server = SpacetimeServer(str(fake_install.proxy), timeout=1.5)
    with pytest.raises(EngineError, match=r"(?s)no 'Starting SpacetimeDB listening on' line within 1.5 s.*"
                                          r"still running \(killed\).*database running in data directory"):
        server.start()


def test_publish_failure_shows_the_build_output(fake_install: FakeInstall, monkeypatch: pytest.MonkeyPatch) -> None:
    with SpacetimeServer(str(fake_install.proxy), timeout=20) as server:
        monkeypatch.setenv("FAKE_SPACETIME_MODE", "publish-fail")
        with pytest.raises(EngineError, match=r"(?s)exited with status 1.*cannot find value `x`.*build failed"):
            server.publish(MODULE, "blackholio")
        with pytest.raises(EngineError, match="does not exist"):
            server.publish(MODULE / "nope", "blackholio")


def test_engine_full_lifecycle_with_the_standard_install(fake_install: FakeInstall, tmp_path: Path) -> None:
    """spacetimedb:<relative module dir> -> start server, publish, play, close (no process left)."""
    settings = Settings.defaults(ROOT).replace(engine_timeout=20.0, spacetime_bin=str(fake_install.proxy))
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
        assert engine.describe()["spacetime_version"] == "2.8.3"
        assert (tmp_path / "art" / "spacetimedb-server.log").read_text().count("Starting SpacetimeDB") == 1
        assert "identity:" in (tmp_path / "art" / "spacetimedb-publish.log").read_text()
    finally:
        engine.close()
    assert process is not None and process.poll() is not None


def test_publishing_to_a_running_server_keeps_one_login_per_server(fake_install: FakeInstall, tmp_path: Path) -> None:
    """``--spacetimedb-url`` with ``publish=True``: the login lives under the artifacts folder, so a later
    session (a new engine) is still the database's owner and may publish over it."""
    with FakeServerThread(databases={}) as srv:
        settings = Settings.defaults(ROOT).replace(engine_timeout=20.0, spacetime_bin=str(fake_install.cli),
                                                   spacetimedb_url=srv.url, artifacts=tmp_path / "art")
        for _ in range(2):
            ctx = EngineContext(artifacts_dir=tmp_path / "t", seed=1, settings=settings, nodeid="t",
                                options={"publish": True}, paths=PathBase.option(ROOT))
            engine = SpacetimeEngine("example_project/spacetimedb/blackholio", ctx)
            engine.start()
            engine.close()
        assert (remote_cli_root(settings, srv.url) / "cli.toml").is_file()
        assert srv.server.dbs["blackholio"].module.name == "blackholio"
        stranger = SpacetimeInstall.locate(str(fake_install.cli))
        with pytest.raises(EngineError, match="PermissionDenied"):  # another login may not publish over it
            publish_module(stranger, tmp_path / "other", srv.url, MODULE, "blackholio")


# -- HTTP API (against the server double) ----------------------------------------------------------------------
def test_http_api_against_the_double() -> None:
    with FakeServerThread(databases={"game": "blackholio"}) as srv:
        api = HttpApi(srv.url, timeout=5)
        identity, token = api.create_identity()
        assert len(identity) == 64 and token.count(".") == 2
        api.call_reducer("game", "enter_game", ["bot"], token)  # 200 (then undone by disconnect)
        with pytest.raises(HttpError, match=r"the reducer failed \(HTTP 530\): name must be") as info:
            api.call_reducer("game", "enter_game", [""], token)
        assert info.value.status == 530
        with pytest.raises(HttpError, match=r"bad arguments.*\(HTTP 400\): invalid arguments for reducer enter_game"):
            api.call_reducer("game", "enter_game", [1, 2])
        with pytest.raises(HttpError, match=r"\(HTTP 404\): No such procedure"):
            api.call_reducer("game", "move_all_players", [[1, [0, {"__time_duration_micros__": 1}]]])
        with pytest.raises(HttpError, match=r"\(HTTP 404\): No such database"):
            api.call_reducer("nope", "enter_game", ["x"])
        result = api.sql("game", "SELECT * FROM config")
        assert result[0]["rows"] == [[0, 200]]
        assert [e["name"]["some"] for e in result[0]["schema"]["elements"]] == ["id", "world_size"]
        assert set(api.schema("game").client_reducers()) == {"enter_game", "update_player_input", "player_split",
                                                             "respawn", "suicide"}


def test_http_api_unreachable() -> None:
    api = HttpApi("http://127.0.0.1:9", timeout=2)
    assert not api.ping()
    with pytest.raises(HttpError, match="failed"):
        api.create_identity()
    with pytest.raises(HttpError, match="did not answer 200 within"):
        api.wait_ready(0.3)
