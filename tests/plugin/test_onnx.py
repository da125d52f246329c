"""A .zip model and its .onnx export act alike; both load through model=."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def cartpole_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from stable_baselines3 import PPO

    from pytest_rlplaytest.agents import export_onnx

    folder = tmp_path_factory.mktemp("models")
    model = PPO("MlpPolicy", "CartPole-v1", seed=3, n_steps=256, batch_size=64, device="cpu")
    model.learn(512)
    zip_path = folder / "cartpole.zip"
    model.save(zip_path)
    return zip_path, export_onnx(model, folder / "cartpole.onnx")


def test_onnx_layout_is_godot_plugins(cartpole_model: tuple[Path, Path]) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(cartpole_model[1]), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["obs", "state_ins"]
    assert [o.name for o in session.get_outputs()] == ["output", "state_outs"]
    out = session.run(None, {"obs": np.zeros((5, 4), np.float32), "state_ins": np.zeros((5,), np.float32)})
    assert out[0].shape == (5, 2)  # logits, dynamic batch


def test_zip_and_onnx_same_greedy_actions(cartpole_model: tuple[Path, Path]) -> None:
    import gymnasium as gym
    from stable_baselines3 import PPO

    from pytest_rlplaytest.agents import OnnxAgent

    model = PPO.load(cartpole_model[0], device="cpu")
    env = gym.make("CartPole-v1")
    onnx_agent = OnnxAgent(cartpole_model[1], env.action_space)
    rng = np.random.default_rng(0)
    obs = rng.uniform(-2, 2, size=(2000, 4)).astype(np.float32)
    expected, _ = model.predict(obs, deterministic=True)
    got, _ = onnx_agent.predict(obs)
    assert got.dtype.kind == "i"
    np.testing.assert_array_equal(expected, got)
    assert 0 < expected.mean() < 1  # both actions occur: the comparison is not trivial


def test_scenarios_load_zip_and_onnx_and_agree(pytester: pytest.Pytester, cartpole_model: tuple[Path, Path]) -> None:
    zip_path, onnx_path = cartpole_model
    pytester.makepyfile(
        f"""
        import pytest
        @pytest.mark.rl_scenario(env="CartPole-v1", model=r"{zip_path}", episodes=5, seed=1)
        def test_zip(rl_playtest):
            print("ZIP", rl_playtest().table()["length"].tolist())

        @pytest.mark.rl_scenario(env="CartPole-v1", model=r"{onnx_path}", episodes=5, seed=1)
        def test_onnx(rl_playtest, rl_agent):
            assert type(rl_agent).__name__ == "OnnxAgent"
            print("ONNX", rl_playtest().table()["length"].tolist())
        """
    )
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=2)
    zip_lens = next(ln for ln in result.outlines if "ZIP " in ln).split("ZIP ", 1)[1]
    onnx_lens = next(ln for ln in result.outlines if "ONNX " in ln).split("ONNX ", 1)[1]
    assert zip_lens == onnx_lens


def test_export_cli_checks_agreement(cartpole_model: tuple[Path, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_rlplaytest.cli import main

    assert main(["export-onnx", str(cartpole_model[0]), str(tmp_path / "out.onnx")]) == 0
    assert "agree on 100.0% of 256" in capsys.readouterr().out
    assert (tmp_path / "out.onnx").stat().st_size > 1000


def test_missing_and_mismatched_models_explain_the_fix(pytester: pytest.Pytester,
                                                       cartpole_model: tuple[Path, Path]) -> None:
    pytester.makepyfile(
        f"""
        import pytest
        @pytest.mark.rl_scenario(env="CartPole-v1", model="nowhere/agent.zip")
        def test_missing(rl_agent):
            pass

        @pytest.mark.rl_scenario(env="Acrobot-v1", model=r"{cartpole_model[0]}")
        def test_other_game(rl_agent):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*agent.zip, which does not exist. Train one*",
                                 "*the stored agent observes Box*but the game sends*Retrain the agent*"])
