"""Train-then-evaluate on CartPole with a small budget, through the fixtures."""

from __future__ import annotations

import pytest


def test_cartpole_train_then_evaluate(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.rl_scenario(env="CartPole-v1", algo="PPO", timesteps=2048, episodes=8,
                                 success=lambda ep: ep.length >= 30, algo_kwargs=dict(learning_rate=1e-3))
        def test_cartpole(rl_playtest, rl_agent):
            result = rl_playtest()
            assert result.n_episodes == 8
            assert rl_agent.num_timesteps == 2048
            table = result.table()
            assert list(table.columns[:7]) == ["episode", "env", "seed", "success", "return", "length", "outcome"]
            assert (table["return"] == table["length"]).all()  # CartPole pays 1 per step
            assert table["seed"].nunique() == 8  # every episode its own seed
            summary = result.summary()
            assert summary["success_ci_low"] <= summary["success_rate"] <= summary["success_ci_high"]
            print("MEANLEN", table["length"].mean())
        """
    )
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=1)
    mean_len = float(next(ln for ln in result.outlines if "MEANLEN " in ln).split("MEANLEN ")[1].split()[0])
    assert mean_len > 9  # a trained policy outlasts CartPole's ~9-step failure floor


@pytest.mark.parametrize("algo", ["A2C", "DQN", "RecurrentPPO"])
def test_other_algorithms_train(tiny_game: pytest.Pytester, algo: str) -> None:
    tiny_game.makepyfile(
        f"""
        import pytest
        @pytest.mark.rl_scenario(env="Coin-v0", algo="{algo}", timesteps=200, episodes=3)
        def test_algo(rl_playtest, rl_agent):
            assert type(rl_agent).__name__ == "{algo}"
            assert rl_playtest().n_episodes == 3
        """
    )
    tiny_game.runpytest().assert_outcomes(passed=1)


def test_continuous_algorithms_via_parametrized_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        CASES = [
            pytest.param(algo, marks=pytest.mark.rl_scenario(
                env="Pendulum-v1", algo=algo, timesteps=120, episodes=1, algo_kwargs=dict(learning_starts=50)))
            for algo in ("SAC", "TD3")
        ]

        @pytest.mark.parametrize("algo", CASES)
        def test_pendulum(rl_playtest, rl_agent, algo):
            assert type(rl_agent).__name__ == algo
            episode = rl_playtest().episodes[0]
            assert episode.length == 200 and episode.truncated and episode.outcome == "truncated"
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_success_rule_by_info_key_and_event(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=4)
        def test_default_is_success(rl_playtest):
            r = rl_playtest()
            assert r.success_rate == 1.0  # Coin reports is_success=True at the end

        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=4, success="never_there")
        def test_key(rl_playtest):
            assert rl_playtest().success_rate == 0.0

        @pytest.mark.rl_scenario(env="CartPole-v1", timesteps=64, episodes=3)
        def test_no_rule(rl_playtest):
            r = rl_playtest()
            assert not r.has_success_rule and r.summary()["success_rate"] is None
        """
    )
    tiny_game.runpytest().assert_outcomes(passed=3)


def test_sequential_playtest_records_the_sprt_decision(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        from pytest_rlplaytest import assert_success_rate

        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=200)
        def test_seq(rl_playtest):
            result = rl_playtest(sequential=True, at_least=0.5)
            assert result.sequential_test.decision == "accept_h1"  # Coin always reports success
            assert result.n_episodes < 60 and result.stopped_early == "sequential test decided"
            assert assert_success_rate(result, at_least=0.5).details["method"] == "sprt"

        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=5)
        def test_needs_threshold(rl_playtest):
            with pytest.raises(TypeError, match="needs at_least="):
                rl_playtest(sequential=True)
        """
    )
    tiny_game.runpytest().assert_outcomes(passed=2)
