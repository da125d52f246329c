"""An engine error (here: the real godot3-server game quitting mid-episode) is reported short: the
one-line cause, the game's last log lines and the artifact folder, without the plugin's frames;
--rl-full-trace, --tb=long or --tb=native bring the full traceback back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_rlplaytest.engines.godot.install import install_godot_addon

PROBE = Path(__file__).parents[1] / "godot" / "probe_project"
GODOT = shutil.which("godot3-server")

CRASHING = """
import numpy as np
import pytest

@pytest.mark.rl_scenario(env="godot:probe_game", agents=1, godot_args=["--fault=quit", "--fault_at=3"])
def test_game_quits(rl_env):
    rl_env.reset()
    for _ in range(10):
        rl_env.step(np.zeros((1, 2), dtype=np.float32))
"""

pytestmark = pytest.mark.skipif(GODOT is None, reason="needs godot3-server (apt-get install godot3-server)")


@pytest.fixture
def crashing_game(pytester: pytest.Pytester) -> pytest.Pytester:
    dest = pytester.path / "probe_game"
    shutil.copytree(PROBE, dest)
    install_godot_addon(dest)
    pytester.makepyfile(CRASHING)
    return pytester


def test_engine_error_is_short(crashing_game: pytest.Pytester) -> None:
    result = crashing_game.runpytest("--rl-artifacts=out", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    folder = crashing_game.path / "out" / "test_engine_error_is_short.py__test_game_quits"
    result.stdout.fnmatch_lines([
        "GodotCrashed: *exit code 5*",
        "in test_engine_error_is_short.py:8: rl_env.step(np.zeros((1, 2), dtype=np.float32))",
        "game log (last * lines):",
        "*godot.log*",
        f"artifacts: {folder}",
        "(full traceback: --rl-full-trace or --tb=long)",
    ])
    text = result.stdout.str()
    assert "pytest_rlplaytest/" not in text and "pytest_asyncio" not in text and "site-packages" not in text


@pytest.mark.parametrize("flag", ["--rl-full-trace", "--tb=long", "--tb=native"])
def test_full_trace_on_request(crashing_game: pytest.Pytester, flag: str) -> None:
    result = crashing_game.runpytest("--rl-artifacts=out", "-p", "no:cacheprovider", flag)
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "pytest_rlplaytest/engines/godot/" in text and "GodotCrashed" in text
    assert "(full traceback: --rl-full-trace" not in text
