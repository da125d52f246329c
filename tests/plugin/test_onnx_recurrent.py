"""A RecurrentPPO policy exported to ONNX acts as SB3 does over whole episodes, carrying its state."""

from __future__ import annotations

import json
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


TRAIN = """
    import json
    import numpy as np
    import pytest
    from pytest_rlplaytest.agents.onnx_recurrent import RecurrentOnnxAgent

    @pytest.mark.rl_scenario(env="Coin-v0", algo="RecurrentPPO", timesteps=256, n_envs=2, episodes=6, seed=5)
    def test_train(rl_playtest, rl_agent, rl_env):
        result = rl_playtest()
        assert result.eval_backend["backend"] == "onnx", result.eval_backend
        assert "4 sequences, each runtime carrying its LSTM state" in result.eval_backend["reason"]
        onnx = rl_playtest.eval_backend(True).agent
        assert isinstance(onnx, RecurrentOnnxAgent)
        # whole episodes (3 steps each) in the game, both runtimes carrying their own state and
        # resetting it where an episode starts
        obs = rl_env.reset()
        start = np.ones(rl_env.num_envs, dtype=bool)
        sb3_state = onnx_state = None
        steps = resets = 0
        for _ in range(12):
            expected, sb3_state = rl_agent.predict(obs, state=sb3_state, episode_start=start, deterministic=True)
            got, onnx_state = onnx.predict(obs, state=onnx_state, episode_start=start)
            assert np.array_equal(expected, got)
            assert np.abs(np.asarray(sb3_state) - np.asarray(onnx_state)).max() < 1e-4
            assert np.abs(np.asarray(onnx_state)).max() > 1e-3  # a state is carried
            obs, _, dones, _ = rl_env.step(expected)
            start = np.asarray(dones, dtype=bool)
            steps, resets = steps + 1, resets + int(start.sum())
        assert resets >= 6  # episodes ended and the next ones started with a reset state
        print("RETURNS", json.dumps([ep.total_return for ep in result.episodes]))
"""

LOAD = """
    import json
    import pytest

    @pytest.mark.rl_scenario(env="Coin-v0", model=r"{zip}", episodes=6, n_envs=2, seed=5)
    def test_zip(rl_playtest):
        result = rl_playtest()
        assert result.eval_backend["backend"] == "torch"
        print("ZIP", json.dumps([ep.total_return for ep in result.episodes]))

    @pytest.mark.rl_scenario(env="Coin-v0", model=r"{onnx}", episodes=6, n_envs=2, seed=5)
    def test_onnx(rl_playtest, rl_agent):
        assert type(rl_agent).__name__ == "RecurrentOnnxAgent"
        result = rl_playtest()
        assert result.eval_backend["backend"] == "onnx"
        print("ONNX", json.dumps([ep.total_return for ep in result.episodes]))

    @pytest.mark.rl_scenario(env="CartPole-v1", model=r"{onnx}", episodes=2)
    def test_other_game(rl_agent):
        pass
"""


def _printed(result: pytest.RunResult, tag: str) -> str:
    return next(line for line in result.outlines if f"{tag} [" in line).split(f"{tag} ", 1)[1]


def test_recurrent_scenario_trains_evaluates_on_onnx_stores_and_loads_back(
        tiny_game: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> None:
    import onnxruntime as ort

    from pytest_rlplaytest.cli import main

    tiny_game.makepyfile(test_train=TRAIN)
    first = tiny_game.runpytest("-s", "--rl-artifacts=art", "-p", "no:warnings")
    first.assert_outcomes(passed=1)
    trained = _printed(first, "RETURNS")
    (model_zip,) = (tiny_game.path / "art").glob("*test_train*/model.zip")
    assert len(list((tiny_game.path / "art" / "_onnx").glob("*.onnx"))) == 1

    onnx_path = tiny_game.path / "lstm.onnx"
    capsys.readouterr()
    assert main(["export-onnx", str(model_zip), str(onnx_path)]) == 0
    out = capsys.readouterr().out
    assert "(RecurrentPPO, recurrent layout: obs [B, 1], state_ins [2, 1, B, 256], episode_start [B]" in out
    assert "greedy actions and LSTM states agree on 100.0% of 256 sampled observations (sequences" in out
    meta = ort.InferenceSession(str(onnx_path)).get_modelmeta().custom_metadata_map
    assert meta["rlplaytest.layout"] == "recurrent" and meta["rlplaytest.algo"] == "RecurrentPPO"
    assert json.loads(meta["rlplaytest.recurrent"]) == {"layers": 1, "hidden": 256}

    tiny_game.makepyfile(test_load=LOAD.format(zip=model_zip, onnx=onnx_path))
    second = tiny_game.runpytest("-s", "test_load.py", "--rl-eval-backend=torch", "-p", "no:warnings")
    second.assert_outcomes(passed=2, errors=1)
    # the stored model on torch, its export on onnxruntime and the trained one: the same episodes
    assert _printed(second, "ZIP") == _printed(second, "ONNX") == trained
    second.stdout.fnmatch_lines(["*lstm.onnx: the stored agent observes inputs of sizes [[]1[]]*but the game sends "
                                 "[[]4[]]*Retrain the agent*"])


def test_plugin_layout_refusals_say_why_and_what_instead(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sb3_contrib import RecurrentPPO
    from stable_baselines3 import PPO

    from pytest_rlplaytest.agents import AgentError, OnnxAgent, export_onnx
    from pytest_rlplaytest.agents.onnx_recurrent import export_recurrent_onnx
    from pytest_rlplaytest.cli import main

    model = RecurrentPPO("MlpLstmPolicy", "CartPole-v1", seed=1, device="cpu", policy_kwargs={"lstm_hidden_size": 8})
    with pytest.raises(AgentError, match=r"cannot carry a recurrent state.*sync\.gd:235.*state_outs is dropped"
                                         r".*rlplaytest export-onnx"):
        export_onnx(model, tmp_path / "plugin.onnx")
    model.save(tmp_path / "lstm.zip")
    assert main(["export-onnx", str(tmp_path / "lstm.zip"), str(tmp_path / "p.onnx"), "--layout", "plugin"]) == 1
    assert "ONNXInference.cs:39,46" in capsys.readouterr().err and not (tmp_path / "p.onnx").exists()
    PPO("MlpPolicy", "CartPole-v1", device="cpu").save(tmp_path / "ppo.zip")
    assert main(["export-onnx", str(tmp_path / "ppo.zip"), str(tmp_path / "r.onnx"), "--layout", "recurrent"]) == 1
    assert "--layout recurrent is for RecurrentPPO models" in capsys.readouterr().err
    path = export_recurrent_onnx(model, tmp_path / "lstm.onnx")
    with pytest.raises(AgentError, match="run it with RecurrentOnnxAgent"):
        OnnxAgent(path, model.action_space)


def test_the_plugins_feed_cannot_run_a_recurrent_export(tmp_path: Path) -> None:
    """What ONNXInference.RunInference feeds (one [1, n] input per key, state_ins [1] = 1.0) is not
    what a recurrent model takes: onnxruntime refuses it, as the plugin would at its first step."""
    import onnxruntime as ort
    from sb3_contrib import RecurrentPPO

    from pytest_rlplaytest.agents.onnx_recurrent import export_recurrent_onnx
    from pytest_rlplaytest.engines.godot.onnx_layout import plugin_feed

    model = RecurrentPPO("MlpLstmPolicy", "CartPole-v1", seed=2, device="cpu", policy_kwargs={"lstm_hidden_size": 8})
    session = ort.InferenceSession(str(export_recurrent_onnx(model, tmp_path / "lstm.onnx")))
    with pytest.raises(Exception, match=r"episode_start|state_ins"):
        session.run(["output", "state_outs"], plugin_feed({"obs": [0.1, 0.2, 0.3, 0.4]}))


def _sequences_agree(model: object, agent: object, batch_of: object, steps: int = 40) -> tuple[int, float]:
    """Steps on which SB3 and the ONNX agent chose the same actions over ``steps`` steps of 3
    parallel sequences (episode starts every 7th step), and the largest state difference."""
    rng = np.random.default_rng(0)
    start = np.ones(3, dtype=bool)
    sb3_state = onnx_state = None
    same, worst = 0, 0.0
    for t in range(steps):
        obs = batch_of(rng)  # type: ignore[operator]
        expected, sb3_state = model.predict(obs, state=sb3_state, episode_start=start,  # type: ignore[attr-defined]
                                            deterministic=True)
        got, onnx_state = agent.predict(obs, state=onnx_state, episode_start=start)  # type: ignore[attr-defined]
        same += int(np.allclose(np.asarray(expected, float), np.asarray(got, float), atol=1e-4))
        worst = max(worst, float(np.abs(np.asarray(sb3_state) - np.asarray(onnx_state)).max()))
        start = np.array([(t + 1 + i) % 7 == 0 for i in range(3)])
    return same, worst


def test_dict_observations_and_multidiscrete_actions(tmp_path: Path) -> None:
    """Inputs named by the observation keys (the plugin layout's), logits per action branch."""
    import gymnasium as gym
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env

    from pytest_rlplaytest.agents.onnx_recurrent import RecurrentOnnxAgent, export_recurrent_onnx

    class Keys(gym.Env):  # type: ignore[type-arg]
        observation_space = gym.spaces.Dict({"vel": gym.spaces.Box(-1, 1, (2,)), "pos": gym.spaces.Box(-1, 1, (3,))})
        action_space = gym.spaces.MultiDiscrete([3, 2])

        def reset(self, *, seed: int | None = None, options: object = None) -> tuple[object, dict[str, object]]:
            return self.observation_space.sample(), {}

        def step(self, action: object) -> tuple[object, float, bool, bool, dict[str, object]]:
            return self.observation_space.sample(), 0.0, False, False, {}

    model = RecurrentPPO("MultiInputLstmPolicy", make_vec_env(Keys, 1), seed=0, device="cpu",
                         policy_kwargs={"lstm_hidden_size": 16})
    import torch

    with torch.no_grad():
        model.policy.action_net.weight.mul_(300.0)  # large logits: actions depend on obs and state
    agent = RecurrentOnnxAgent(export_recurrent_onnx(model, tmp_path / "keys.onnx"), model.action_space)
    inputs = [i.name for i in agent.session.get_inputs()]
    assert inputs == [*model.observation_space.spaces, "state_ins", "episode_start"] and {"vel", "pos"} <= set(inputs)

    def batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"vel": rng.uniform(-1, 1, (3, 2)).astype(np.float32),
                "pos": rng.uniform(-1, 1, (3, 3)).astype(np.float32)}

    same, worst = _sequences_agree(model, agent, batch)
    assert same == 40 and worst < 1e-4


def test_normalization_is_folded_in_and_a_wrong_export_disagrees(tmp_path: Path) -> None:
    from sb3_contrib import RecurrentPPO

    from pytest_rlplaytest.agents.normalize import Normalization, NormalizedAgent
    from pytest_rlplaytest.agents.onnx_recurrent import (
        RecurrentOnnxAgent,
        check_recurrent_onnx_matches,
        export_recurrent_onnx,
    )

    model = RecurrentPPO("MlpLstmPolicy", "CartPole-v1", seed=5, device="cpu", policy_kwargs={"lstm_hidden_size": 16})
    stats = Normalization(norm_obs=True, norm_reward=False, clip_obs=5.0, clip_reward=10.0, gamma=0.99, epsilon=1e-8,
                          obs={"mean": [3.0, -2.0, 0.5, 10.0], "var": [4.0, 0.25, 1.0, 9.0], "count": 100.0})
    normalized = NormalizedAgent(model, stats)
    folded = export_recurrent_onnx(normalized, tmp_path / "folded.onnx")
    assert check_recurrent_onnx_matches(normalized, folded) == 1.0
    agent = RecurrentOnnxAgent(folded, model.action_space)
    same, worst = _sequences_agree(normalized, agent, lambda rng: rng.normal(2.0, 3.0, (3, 4)).astype(np.float32))
    assert same == 40 and worst < 1e-4
    # the export of another policy (or without the statistics) is caught by the check
    other = RecurrentPPO("MlpLstmPolicy", "CartPole-v1", seed=6, device="cpu", policy_kwargs={"lstm_hidden_size": 16})
    assert check_recurrent_onnx_matches(other, folded) < 0.5
    assert check_recurrent_onnx_matches(normalized, export_recurrent_onnx(model, tmp_path / "raw.onnx")) < 0.5


def test_godot_game_spaces_with_mixed_actions(tmp_path: Path) -> None:
    """The spaces a Godot game declares (the driver's codecs), mixed discrete and continuous keys:
    the export's output is in the plugin layout's order (with its skip blocks) and decodes to
    SB3's actions."""
    import gymnasium as gym
    import torch
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env

    from pytest_rlplaytest.agents.onnx_recurrent import RecurrentOnnxAgent, export_recurrent_onnx
    from pytest_rlplaytest.engines.godot.spaces import ActionCodec, ObsCodec

    obs_space = ObsCodec({"obs": {"size": [5], "space": "box"}}).space()
    act_space = ActionCodec({"steer": {"size": 1, "action_type": "continuous"},
                             "jump": {"size": 2, "action_type": "discrete"}}).space()

    class Game(gym.Env):  # type: ignore[type-arg]
        observation_space, action_space = obs_space, act_space

        def reset(self, *, seed: int | None = None, options: object = None) -> tuple[object, dict[str, object]]:
            return self.observation_space.sample(), {}

        def step(self, action: object) -> tuple[object, float, bool, bool, dict[str, object]]:
            return self.observation_space.sample(), 0.0, False, False, {}

    model = RecurrentPPO("MlpLstmPolicy", make_vec_env(Game, 1), seed=0, device="cpu",
                         policy_kwargs={"lstm_hidden_size": 16})
    with torch.no_grad():
        model.policy.action_net.weight.mul_(300.0)
    agent = RecurrentOnnxAgent(export_recurrent_onnx(model, tmp_path / "game.onnx"), act_space)
    assert agent.session.get_outputs()[0].shape[1] == 4  # steer, its skipped block, jump's two slots
    same, worst = _sequences_agree(model, agent, lambda rng: rng.uniform(-3, 3, (3, 5)).astype(np.float32))
    assert same == 40 and worst < 1e-4
