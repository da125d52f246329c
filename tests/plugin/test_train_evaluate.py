"""Train-then-evaluate on CartPole with a small budget, through the fixtures."""

from __future__ import annotations

from pathlib import Path

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


@pytest.mark.parametrize("with_artifacts", [True, False], ids=["artifacts", "no-artifacts"])
def test_training_leaves_nothing_in_the_system_temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           with_artifacts: bool) -> None:
    """SB3 configures its own logger unless given one, and without a TensorBoard folder that logger
    creates an empty ``SB3-<date>`` folder in the system temp directory on every run."""
    import tempfile

    from pytest_rlplaytest.agents import train_agent
    from pytest_rlplaytest.engines.base import EngineContext
    from pytest_rlplaytest.engines.gym import GymEngine
    from pytest_rlplaytest.scenario import build_spec
    from pytest_rlplaytest.settings import Settings

    fresh = tmp_path / "system-temp"
    fresh.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(fresh))
    # torch's own per-user compile cache (created once when torch._dynamo is imported) lives elsewhere
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "torch-cache"))
    settings = Settings.defaults(tmp_path)
    spec = build_spec((), {"env": "CartPole-v1", "timesteps": 64}, nodeid="test_x.py::test_t", settings=settings,
                      test_file=tmp_path / "test_x.py")
    engine = GymEngine("CartPole-v1", EngineContext(artifacts_dir=tmp_path, seed=spec.seed, settings=settings))
    engine.start()
    venv = engine.make_vec_env(1, seed=spec.seed)
    try:
        model, report = train_agent(spec, venv, tmp_path / "art" if with_artifacts else None)
    finally:
        venv.close()
        engine.close()
    assert model.num_timesteps == report.timesteps == 64
    assert sorted(p.name for p in fresh.iterdir()) == []
    if with_artifacts:
        assert report.model_path is not None and report.model_path.stat().st_size > 1000
        assert list((tmp_path / "art" / "tensorboard").rglob("events.out.tfevents.*"))
        assert not list((tmp_path / "art").glob(".*.tmp"))  # the atomic writes left no temp file
    else:
        assert report.model_path is None and report.tensorboard_dir is None


def test_plain_import_loads_neither_torch_nor_sb3() -> None:
    """Importing the plugin (what every pytest run does) must not pay for torch or SB3; nor must
    importing the agents package, the bug-hunt package or the replay and bundle modules."""
    import subprocess
    import sys

    code = ("import sys, pytest_rlplaytest.plugin, pytest_rlplaytest.agents, pytest_rlplaytest.bughunt.session\n"
            "from pytest_rlplaytest.agents import Agent, AgentError, OnnxAgent, load_agent\n"
            "heavy = sorted(m for m in ('torch', 'stable_baselines3', 'sb3_contrib', 'onnx', 'onnxruntime') "
            "if m in sys.modules)\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out, out
