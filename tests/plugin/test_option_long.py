"""long_training tests are skipped unless selected by -m or --rl-long."""

from __future__ import annotations

import pytest

TESTS = """
import pytest

@pytest.mark.long_training
@pytest.mark.rl_scenario(env="Coin-v0", timesteps=100_000)
def test_nightly(rl_scenario):
    print("TIMESTEPS", rl_scenario.timesteps)

def test_quick():
    pass
"""


def test_skipped_by_default_with_reason(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(TESTS)
    result = tiny_game.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*long_training: runs only when selected with -m long_training or --rl-long*"])


def test_selected_by_marker_expression(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(TESTS)
    result = tiny_game.runpytest("-m", "long_training", "-s", "--rl-timesteps=500")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*TIMESTEPS 500*"])


def test_not_long_training_deselects(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(TESTS)
    tiny_game.runpytest("-m", "not long_training").assert_outcomes(passed=1, deselected=1)


def test_rl_long_flag_runs_everything(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(TESTS)
    result = tiny_game.runpytest("--rl-long", "-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*TIMESTEPS 100000*"])
