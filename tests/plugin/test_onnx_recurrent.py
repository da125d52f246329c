"""A RecurrentPPO policy exported to ONNX acts as SB3 does over whole episodes, carrying its state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _rollout_agree(model: object, agent: object, env_id: str, episodes: int) -> tuple[int, int, float]:
    """Steps, action agreements and the largest state difference over ``episodes`` episodes of SB3
    driving the env while both carry their own state."""
    import gymnasium as gym

    env = gym.make(env_id)
    steps = same = 0
    worst = 0.0
    sb3_state = onnx_state = None
    start = np.ones((1,), dtype=bool)
    for episode in range(episodes):
        obs, _ = env.reset(seed=episode)
        start[:] = True
        done = False
        while not done:
            expected, sb3_state = model.predict(obs, state=sb3_state, episode_start=start,  # type: ignore[attr-defined]
                                                deterministic=True)
            got, onnx_state = agent.predict(obs, state=onnx_state, episode_start=start)  # type: ignore[attr-defined]
            worst = max(worst, float(np.abs(np.asarray(sb3_state) - np.asarray(onnx_state)).max()))
            steps += 1
            same += int(np.allclose(np.asarray(expected).ravel(), np.asarray(got).ravel(), atol=1e-4))
            obs, _, term, trunc, _ = env.step(np.asarray(expected).ravel()[0] if np.ndim(expected) else expected)
            done = term or trunc
            start[:] = False
    return steps, same, worst


def test_recurrent_export_matches_sb3_over_episodes(tmp_path: Path) -> None:
    from sb3_contrib import RecurrentPPO

    from pytest_rlplaytest.agents.onnx_recurrent import RecurrentOnnxAgent, export_recurrent_onnx

    model = RecurrentPPO("MlpLstmPolicy", "CartPole-v1", seed=3, device="cpu")
    out = export_recurrent_onnx(model, tmp_path / "lstm.onnx")
    agent = RecurrentOnnxAgent(out, model.action_space)
    steps, same, worst = _rollout_agree(model, agent, "CartPole-v1", episodes=2)
    assert steps > 3 and same == steps
    assert worst < 1e-4


def test_episode_start_resets_the_state(tmp_path: Path) -> None:
    from sb3_contrib import RecurrentPPO

    from pytest_rlplaytest.agents.onnx_recurrent import RecurrentOnnxAgent, export_recurrent_onnx

    model = RecurrentPPO("MlpLstmPolicy", "CartPole-v1", seed=4, device="cpu")
    agent = RecurrentOnnxAgent(export_recurrent_onnx(model, tmp_path / "lstm.onnx"), model.action_space)
    obs = np.full((1, 4), 0.3, dtype=np.float32)
    _, fresh = agent.predict(obs, state=None, episode_start=np.ones(1))
    carried = (fresh[0] + 5.0, fresh[1] + 5.0)
    _, reset = agent.predict(obs, state=carried, episode_start=np.ones(1))
    _, kept = agent.predict(obs, state=carried, episode_start=np.zeros(1))
    np.testing.assert_allclose(reset[0], fresh[0], atol=1e-6)
    assert np.abs(kept[0] - fresh[0]).max() > 1e-3


def test_feed_forward_models_are_refused(tmp_path: Path) -> None:
    from stable_baselines3 import PPO

    from pytest_rlplaytest.agents import AgentError
    from pytest_rlplaytest.agents.onnx_recurrent import export_recurrent_onnx

    with pytest.raises(AgentError, match="use export_onnx"):
        export_recurrent_onnx(PPO("MlpPolicy", "CartPole-v1", device="cpu"), tmp_path / "x.onnx")
