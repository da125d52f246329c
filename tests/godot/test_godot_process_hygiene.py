"""No Godot process survives a pytest run: under xdist (-n 4), on Ctrl-C, when an xdist worker dies,
and when pytest itself is killed. Each run uses its own copy of the probe game, so the processes of
that run can be told apart from any other by their command line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_rlplaytest.engines.godot.install import install_godot_addon

pytestmark = pytest.mark.needs_godot

HERE = Path(__file__).resolve().parent


def _games_of(marker: str) -> list[int]:
    """Live (non-zombie) processes whose command line mentions ``marker``."""
    pids = []
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            cmdline = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (pid_dir / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and "godot" in cmdline.lower() and state != "Z":
            pids.append(int(pid_dir.name))
    return pids


def _wait_gone(marker: str, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _games_of(marker):
            return []
        time.sleep(0.05)
    return _games_of(marker)


@pytest.fixture
def game_dir(pytester: pytest.Pytester) -> Path:
    dest = pytester.path / "probe_game"
    shutil.copytree(HERE / "probe_project", dest)
    install_godot_addon(dest)
    return dest


def _spawn(pytester: pytest.Pytester, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=pytester.path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_file(path: Path, proc: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"the test never started its game:\n{out[-3000:]}")
        time.sleep(0.05)


@pytest.mark.expensive  # an inner `pytest -n 4` run (four workers importing torch): ~100 s on 2 busy cores
def test_none_left_after_xdist_run(pytester: pytest.Pytester, game_dir: Path) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("i", range(8))
        @pytest.mark.rl_scenario(env="godot:probe_game", agents=2, timesteps=64, episodes=2)
        def test_play(rl_playtest, i):
            assert rl_playtest().n_episodes == 2
        """
    )
    result = pytester.runpytest_subprocess("-n", "4", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)
    assert _wait_gone(str(game_dir), 3.0) == []


HANGING = """
import time
from pathlib import Path
import pytest

@pytest.mark.rl_scenario(env="godot:probe_game", agents=2)
def test_hang(rl_env):
    rl_env.reset()
    Path("started").write_text("yes")
    time.sleep(120)
"""


def test_none_left_after_ctrl_c(pytester: pytest.Pytester, game_dir: Path) -> None:
    pytester.makepyfile(HANGING)
    proc = _spawn(pytester)
    _wait_file(pytester.path / "started", proc)
    assert _games_of(str(game_dir)), "the game should be running"
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends to the foreground group
    out = proc.communicate(timeout=30)[0].decode()
    assert "KeyboardInterrupt" in out
    assert _wait_gone(str(game_dir)) == []


def test_none_left_when_pytest_is_killed(pytester: pytest.Pytester, game_dir: Path) -> None:
    pytester.makepyfile(HANGING)
    proc = _spawn(pytester)
    _wait_file(pytester.path / "started", proc)
    assert _games_of(str(game_dir))
    os.kill(proc.pid, signal.SIGKILL)  # no cleanup code runs: the game must die with its parent
    proc.wait(timeout=10)
    assert _wait_gone(str(game_dir)) == []


@pytest.mark.expensive  # an inner `pytest -n 2` run with training: ~100 s on 2 busy cores
def test_none_left_when_an_xdist_worker_dies(pytester: pytest.Pytester, game_dir: Path) -> None:
    pytester.makepyfile(
        """
        import os, signal
        import pytest

        @pytest.mark.rl_scenario(env="godot:probe_game", agents=2)
        def test_worker_crashes(rl_env):
            rl_env.reset()
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies holding a live game

        @pytest.mark.rl_scenario(env="godot:probe_game", agents=2, timesteps=64, episodes=2)
        def test_other(rl_playtest):
            rl_playtest()
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*worker*crashed while running*test_worker_crashes*"])
    assert _wait_gone(str(game_dir)) == []
