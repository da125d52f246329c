"""A RecurrentPPO policy trained on a Godot game (the real Godot 3 engine on rlplaytest's addon, and
the official plugin's main-branch double) evaluates on ONNX with SB3's actions, carrying its state.

The official plugin's own in-game inference cannot run it (onnx_layout.RECURRENT_REFUSAL cites
why); this is the recurrent layout that playtests run (agents/onnx_recurrent.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pytest_rlplaytest.engines.godot.engine import GodotEngine


@pytest.mark.parametrize("game", ["fake4", pytest.param("addon", marks=pytest.mark.needs_godot)])
def test_recurrent_policy_on_a_godot_game_evaluates_on_onnx(game: str, request: pytest.FixtureRequest,
                                                            make_engine: Callable[..., GodotEngine],
                                                            tmp_path: Path) -> None:
    from sb3_contrib import RecurrentPPO

    from pytest_rlplaytest.agents.eval_backend import choose_eval_backend
    from pytest_rlplaytest.agents.onnx_recurrent import RecurrentOnnxAgent

    if game == "fake4":
        binary = request.getfixturevalue("fake_godot4")
        engine = make_engine(binary.parent / "project", godot_bin=str(binary),
                             godot_args=["--fake_episode_frames=48", "--fake_connect_delay_ms=100"])
    else:
        engine = make_engine(request.getfixturevalue("counter_project"), scene="res://addon.tscn",
                             godot_args=["--episode_frames=6"])
    venv = engine.make_vec_env(n_envs=2)
    model = RecurrentPPO("MlpLstmPolicy", venv, n_steps=8, batch_size=16, n_epochs=1, seed=0, device="cpu",
                         policy_kwargs={"lstm_hidden_size": 16})
    model.learn(total_timesteps=32)
    backend = choose_eval_backend(model, "onnx", tmp_path / "_onnx", deterministic=True)
    assert isinstance(backend.agent, RecurrentOnnxAgent), backend.reason
    obs = venv.reset()
    start = np.ones(venv.num_envs, dtype=bool)
    sb3_state = onnx_state = None
    resets = 0
    for _ in range(20):  # several whole episodes: states reset where the game starts one
        expected, sb3_state = model.predict(obs, state=sb3_state, episode_start=start, deterministic=True)
        got, onnx_state = backend.agent.predict(obs, state=onnx_state, episode_start=start)
        np.testing.assert_allclose(np.asarray(got, float), np.asarray(expected, float), atol=1e-4)
        assert np.abs(np.asarray(sb3_state) - np.asarray(onnx_state)).max() < 1e-4
        obs, _, dones, _ = venv.step(expected)
        start = np.asarray(dones, dtype=bool)
        resets += int(start.sum())
    assert resets >= 2
