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


@pytest.mark.parametrize(
    ("algo", "timesteps", "algo_kwargs", "n_envs"),
    [("PPO", 300_000, {"n_steps": 256, "batch_size": 512}, 16), ("PPO", 1000, {}, 1), ("PPO", 3000, {}, 4),
     ("PPO", 1000, {"n_steps": 256, "batch_size": 512}, 16), ("A2C", 1000, {"n_steps": 256}, 16),
     ("RecurrentPPO", 500, {}, 2), ("PPO", 120_000, {"n_steps": 256, "batch_size": 256}, 8)],
)
def test_budget_is_a_cap(algo: str, timesteps: int, algo_kwargs: dict, n_envs: int) -> None:
    from pytest_rlplaytest.agents import budget_kwargs
    from pytest_rlplaytest.scenario import ScenarioSpec

    spec = ScenarioSpec(env="x", nodeid="t", seed=0, algo=algo, timesteps=timesteps, algo_kwargs=algo_kwargs)
    kwargs, total = budget_kwargs(spec, n_envs)
    rollout = kwargs["n_steps"] * n_envs
    assert total <= timesteps and total % rollout == 0 and total >= timesteps - rollout
    if algo != "A2C":
        assert rollout % kwargs["batch_size"] == 0


def test_marker_rollout_larger_than_cap_is_fitted(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=100_000, n_envs=4,
                                 algo_kwargs=dict(n_steps=512, batch_size=256))
        def test_train(rl_agent):
            assert rl_agent.num_timesteps <= 500
            assert rl_agent.n_steps * 4 <= 500
        """
    )
    tiny_game.runpytest("--rl-timesteps=500").assert_outcomes(passed=1)
