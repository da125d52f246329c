"""An exported ONNX model acts in the official plugin's in-game inference as the SB3 policy acts here.

The policy's spaces come from the driver's codecs (spaces.ObsCodec / ActionCodec over an
``env_info`` entry, as a Godot game sends it). SB3's side is what the game receives in training and
evaluation: ``model.predict(deterministic=True)``, then the driver's action encoding. The plugin's
side is fed exactly what ``ONNXInference.RunInference`` feeds (one float32 ``[1, n]`` input per key
of ``get_obs()`` plus ``state_ins`` = 1.0) and decoded exactly as ``Sync._extract_action_dict``
decodes, walking ``get_action_space()`` in the game's key order (onnx_layout.plugin_*).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import onnxruntime as ort
import pytest
import torch

from pytest_rlplaytest.engines.godot.onnx_export import export_plan, write_onnx
from pytest_rlplaytest.engines.godot.onnx_layout import (
    METADATA_KEY,
    OnnxLayoutError,
    PluginLayout,
    plugin_extract_action,
    plugin_feed,
    plugin_means_only,
)
from pytest_rlplaytest.engines.godot.spaces import ActionCodec, ObsCodec


class SpaceEnv(gym.Env):  # type: ignore[type-arg]
    """Just the spaces (the policies are not trained: the test compares two runtimes of one policy)."""

    def __init__(self, observation_space: Any, action_space: Any) -> None:
        self.observation_space, self.action_space = observation_space, action_space

    def reset(self, *, seed: int | None = None, options: Any = None) -> Any:
        return self.observation_space.sample(), {}

    def step(self, action: Any) -> Any:
        return self.observation_space.sample(), 0.0, False, False, {}


OBS = {"obs": {"size": [5], "space": "box"}}
CASES = {
    "discrete": (OBS, {"move": {"size": 3, "action_type": "discrete"}}),
    "multidiscrete_game_order": (OBS, {"turn": {"size": 3, "action_type": "discrete"},
                                       "jump": {"size": 2, "action_type": "discrete"}}),
    "continuous": (OBS, {"steer": {"size": 2, "action_type": "continuous"},
                         "gas": {"size": 1, "action_type": "continuous"}}),
    "mixed": (OBS, {"steer": {"size": 1, "action_type": "continuous"}, "jump": {"size": 2, "action_type": "discrete"},
                    "look": {"size": 2, "action_type": "continuous"}, "fire": {"size": 3, "action_type": "discrete"}}),
    "obs_key_not_obs": ({"features": {"size": [6], "space": "box"}}, {"move": {"size": 4, "action_type": "discrete"}}),
    "several_obs_keys": ({"vel": {"size": [2], "space": "box"}, "pos": {"size": [3], "space": "box"}},
                         {"steer": {"size": 1, "action_type": "continuous"},
                          "jump": {"size": 2, "action_type": "discrete"}}),
}


def _model(algo: str, obs_spec: dict[str, Any], act_spec: dict[str, Any], tmp_path: Path) -> Any:
    import stable_baselines3 as sb3

    obs_space = ObsCodec(obs_spec).space()
    act_space = ActionCodec(act_spec).space()
    policy = "MultiInputPolicy" if isinstance(obs_space, gym.spaces.Dict) else "MlpPolicy"
    model = getattr(sb3, algo)(policy, SpaceEnv(obs_space, act_space), seed=0, device="cpu")
    with torch.no_grad():  # large outputs, so clamping (and ties after it) really happens
        for p in model.policy.parameters():
            p.mul_(3.0)
        head = getattr(model.policy, "action_net", None)  # (PPO initialises it with gain 0.01)
        if head is not None:
            head.weight.mul_(300.0)
    model.save(tmp_path / "model.zip")  # through SB3's save/load: the game's spec must survive it
    return getattr(sb3, algo).load(tmp_path / "model.zip", device="cpu")


def _game_observations(obs_spec: dict[str, Any], n: int, rng: np.random.Generator) -> list[dict[str, list[float]]]:
    """What get_obs() returns, n times (game key order)."""
    return [{k: rng.uniform(-3, 3, int(np.prod(v["size"]))).round(4).tolist() for k, v in obs_spec.items()}
            for _ in range(n)]


def _compare(model: Any, obs_spec: dict[str, Any], act_spec: dict[str, Any], path: Path, n: int = 200) -> int:
    """Check every action; return how many discrete choices were ties in the model's output."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}
    assert inputs == {*obs_spec, "state_ins"}, "one input per get_obs() key, named by it, plus state_ins"
    width = session.get_outputs()[0].shape[1]
    assert isinstance(width, int), "ONNXInference.Initialize reads output dimension 1: it must be static"
    means_only = plugin_means_only(act_spec, width)
    observations = _game_observations(obs_spec, n, np.random.default_rng(1))
    codec, actions_codec = ObsCodec(obs_spec), ActionCodec(act_spec)
    batch = codec.decode_batch(observations, n, "test")
    sb3_actions, _ = model.predict(batch, deterministic=True)
    expected = actions_codec.encode_batch(sb3_actions, n)  # what the game's set_action() gets in training
    ties = 0
    for obs, want in zip(observations, expected):
        output, state_outs = session.run(["output", "state_outs"], plugin_feed(obs))
        assert state_outs.tolist() == [1.0]
        got = plugin_extract_action(output[0].tolist(), act_spec, means_only)
        assert list(got) == list(act_spec) == list(want), "actions in the game's key order"
        col = 0
        for key, entry in act_spec.items():
            if entry["action_type"] == "discrete":
                assert got[key] == want[key], (key, output[0], got, want)
                block = output[0][col:col + entry["size"]]
                ties += int((block == block.max()).sum() > 1)
                col += entry["size"]
            else:
                np.testing.assert_allclose(got[key], want[key], atol=1e-4)
                col += entry["size"] if means_only else 2 * entry["size"]
    return ties


@pytest.mark.parametrize("case", sorted(CASES))
def test_ppo_export_acts_like_sb3_in_the_plugins_inference(case: str, tmp_path: Path) -> None:
    obs_spec, act_spec = CASES[case]
    model = _model("PPO", obs_spec, act_spec, tmp_path)
    plan = export_plan(model)
    path = write_onnx(plan, tmp_path / "model.onnx")
    ties = _compare(model, obs_spec, act_spec, path)
    meta = ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map
    assert PluginLayout.from_json(meta[METADATA_KEY]) == plan.layout
    mixed = {e["action_type"] for e in act_spec.values()} == {"discrete", "continuous"}
    assert plan.layout.mixed is mixed
    if mixed:  # the plugin skips `size` values after each continuous key: they are there
        assert ties > 0, "discrete slots clamped to 1 tie: the first must win on both sides"
        assert plan.layout.output_width == plan.layout.policy_width + sum(
            e["size"] for e in act_spec.values() if e["action_type"] == "continuous")


@pytest.mark.parametrize(("algo", "case"), [("DQN", "discrete"), ("SAC", "continuous"), ("SAC", "mixed")])
def test_other_algorithms(algo: str, case: str, tmp_path: Path) -> None:
    obs_spec, act_spec = CASES[case]
    model = _model(algo, obs_spec, act_spec, tmp_path)
    _compare(model, obs_spec, act_spec, write_onnx(export_plan(model), tmp_path / "model.onnx"), n=100)


def test_our_onnx_agent_side_of_the_layout(tmp_path: Path) -> None:
    """PluginLayout.feed / policy_output: how an ONNX agent of ours runs such a model on VecEnv batches."""
    obs_spec, act_spec = CASES["several_obs_keys"]
    model = _model("PPO", obs_spec, act_spec, tmp_path)
    plan = export_plan(model)
    session = ort.InferenceSession(str(write_onnx(plan, tmp_path / "m.onnx")))
    batch = ObsCodec(obs_spec).decode_batch(_game_observations(obs_spec, 7, np.random.default_rng(2)), 7, "t")
    output = session.run(["output"], plan.layout.feed(batch))[0]
    got = np.clip(plan.layout.policy_output(output), -1, 1)
    want, _ = model.predict(batch, deterministic=True)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_spaces_without_a_game_spec_and_unsupported_ones() -> None:
    box = gym.spaces.Box(-1, 1, (4,), np.float32)
    layout = PluginLayout.for_spaces(box, gym.spaces.MultiDiscrete([3, 2]))
    assert layout.input_names == ["obs", "state_ins"] and [k.size for k in layout.actions] == [3, 2]
    spec = {"b": {"size": 1, "action_type": "continuous"}, "a": {"size": 2, "action_type": "discrete"}}
    assert [k.name for k in PluginLayout.for_spaces(box, gym.spaces.Box(-1, 1, (3,)), spec).actions] == ["b", "a"]
    image = ObsCodec({"cam_2d": {"size": [1, 2, 2], "space": "box"}, "obs": {"size": [2], "space": "box"}}).space()
    with pytest.raises(OnnxLayoutError, match=r"'cam_2d'.*only float Box keys"):
        PluginLayout.for_spaces(image, gym.spaces.Discrete(2))


def test_plugin_decoder_reproduction() -> None:
    """sync.gd:291-345 / ONNX_wrapper.gd:39-51 on hand-made outputs."""
    space = {"steer": {"size": 1, "action_type": "continuous"}, "jump": {"size": 2, "action_type": "discrete"}}
    assert plugin_means_only(space, 3) is False
    assert plugin_extract_action([2.0, 9.0, 0.5, 0.5], space, False) == {"steer": [1.0], "jump": 0}  # skip + tie
    cont = {"a": {"size": 2, "action_type": "continuous"}}
    assert plugin_means_only(cont, 2) and not plugin_means_only(cont, 4)
    assert plugin_extract_action([-3.0, 0.25, 7.0, 7.0], cont, False) == {"a": [-1.0, 0.25]}
