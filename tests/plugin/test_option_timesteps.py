"""--rl-timesteps caps every scenario's training budget (also long_training ones)."""

from __future__ import annotations

import pytest


def test_cap_applies_to_marker_budget(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=50_000)
        def test_capped(rl_scenario):
            assert rl_scenario.requested_timesteps == 50_000
            assert rl_scenario.timesteps == 300

        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=100)
        def test_below_cap(rl_scenario):
            assert rl_scenario.timesteps == 100
        """
    )
    tiny_game.runpytest("--rl-timesteps=300").assert_outcomes(passed=2)


def test_trained_budget_respects_cap(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=100_000, episodes=4)
        def test_train(rl_agent):
            assert rl_agent.num_timesteps <= 256
        """
    )
    tiny_game.runpytest("--rl-timesteps=256").assert_outcomes(passed=1)


def test_cap_from_environment(tiny_game: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLPLAYTEST_TIMESTEPS", "1_000")
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=5000)
        def test_capped(rl_scenario):
            assert rl_scenario.timesteps == 1000
        """
    )
    tiny_game.runpytest().assert_outcomes(passed=1)
