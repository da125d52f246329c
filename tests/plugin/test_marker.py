"""rl_scenario arguments are validated; a bad one fails its test naming the argument and the test."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ('env="Coin-v0", timestep=10', "*test_bad: rl_scenario got an unknown argument 'timestep'; did you mean 'timesteps'?*"),
        ('env="Coin-v0", algo="PPO2"', "*test_bad: rl_scenario(algo='PPO2'): algo must be one of PPO, A2C, DQN, SAC, TD3, RecurrentPPO*"),
        ('env="Coin-v0", episodes=0', "*test_bad: rl_scenario(episodes=0): episodes must be a whole number >= 1*"),
        ('env="Coin-v0", timesteps="many"', "*rl_scenario(timesteps='many'): timesteps must be a whole number >= 1*"),
        ('env="Coin-v0", kind="speedrun"', "*rl_scenario(kind='speedrun'): kind must be one of custom, locomotion*"),
        ('env="Coin-v0", model="agent.pkl"', "*rl_scenario(model='agent.pkl'): model must name a stored agent: a .zip (SB3) or .onnx file*"),
        ('env="Coin-v0", success=3', "*rl_scenario(success=3): success must be an info key or a callable*"),
        ('env="Coin-v0", algo_kwargs=[1]', "*rl_scenario(algo_kwargs=[[]1]): algo_kwargs must be a dict*"),
        ("", "*test_bad: rl_scenario needs env=*"),
        ('env=42', "*rl_scenario(env=...): env=42 is not a Gymnasium id*"),
        ('env="godot:game", scene="res://a.tscn", agentz=4', "*unknown argument 'agentz'; did you mean 'agents'?*"),
    ],
)
def test_bad_marker_fails_naming_argument(tiny_game: pytest.Pytester, marker: str, expected: str) -> None:
    tiny_game.makepyfile(
        f"""
        import pytest
        @pytest.mark.rl_scenario({marker})
        def test_bad(rl_scenario):
            pass

        def test_unrelated():
            pass
        """
    )
    result = tiny_game.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([expected])


def test_env_may_be_positional(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario("Coin-v0", episodes=2)
        def test_ok(rl_scenario):
            assert rl_scenario.env == "Coin-v0" and rl_scenario.engine_scheme == "gym"
        """
    )
    tiny_game.runpytest().assert_outcomes(passed=1)


def test_fixture_without_marker_is_an_error(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile("def test_nomarker(rl_playtest):\n    pass\n")
    result = tiny_game.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*has no @pytest.mark.rl_scenario(env=...) marker*"])


def test_unknown_gym_id_names_close_matches(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario(env="CartPol-v1")
        def test_typo(rl_env):
            pass
        """
    )
    result = tiny_game.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*Gymnasium has no environment 'CartPol-v1'. Did you mean CartPole-v1*"])


def test_algo_must_fit_action_space(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario(env="Coin-v0", algo="SAC", timesteps=100)
        def test_sac(rl_agent):
            pass
        """
    )
    result = tiny_game.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*rl_scenario(algo='SAC') needs a continuous (Box) action space*"])
