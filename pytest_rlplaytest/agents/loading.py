"""Loading a stored agent: an SB3 ``.zip`` (algorithm read from the file) or an ``.onnx`` policy
(feed-forward, or recurrent in the recurrent layout)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..scenario import ScenarioSpec
from .base import Agent, AgentError, import_algo

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

__all__ = ["algo_of_zip", "load_agent"]

_ALGO_BY_MODULE = {
    "stable_baselines3.ppo": "PPO", "stable_baselines3.a2c": "A2C", "stable_baselines3.dqn": "DQN",
    "stable_baselines3.sac": "SAC", "stable_baselines3.td3": "TD3", "sb3_contrib.ppo_recurrent": "RecurrentPPO",
    # RecurrentPPO's MlpLstmPolicy (RecurrentActorCriticPolicy) lives here (sb3-contrib 2.x)
    "sb3_contrib.common.recurrent": "RecurrentPPO",
    # ActorCriticPolicy lives in common; PPO and A2C share it, and either loads the other's policy.
    "stable_baselines3.common.policies": "PPO",
}


def algo_of_zip(path: Path, fallback: str) -> str:
    """Which algorithm saved a SB3 ``.zip`` (read from its ``data`` entry), else ``fallback``."""
    try:
        with zipfile.ZipFile(path) as zf:
            data = json.loads(zf.read("data"))
    except (KeyError, ValueError, zipfile.BadZipFile, OSError):
        return fallback
    module = str(data.get("policy_class", {}).get("__module__", ""))
    for prefix, algo in _ALGO_BY_MODULE.items():
        if module.startswith(prefix):
            return algo
    return fallback


def load_agent(spec: ScenarioSpec, venv: VecEnv) -> Agent:
    """Load ``spec.model``: ``.zip`` through SB3 (algorithm read from the file), ``.onnx`` through
    onnxruntime. The stored agent's spaces must match the game's."""
    path = spec.model
    if path is None:
        raise AgentError(f"{spec.nodeid}: load_agent needs rl_scenario(model=...)")
    if not path.exists():
        raise AgentError(f"{spec.nodeid}: rl_scenario(model=...) names {path}, which does not exist. "
                         "Train one (run the test without model=, then copy <artifacts>/model.zip) "
                         "or fix the path (relative paths are relative to the test file).")
    if path.suffix == ".onnx":  # the plugin layout, or the recurrent one (RecurrentOnnxAgent)
        from .onnx import open_onnx_agent

        agent = open_onnx_agent(path, venv.action_space, venv.observation_space)
        _check_onnx_spaces(path, agent, venv)
        return agent  # type: ignore[return-value]
    if not zipfile.is_zipfile(path):
        raise AgentError(f"{path} is not a Stable-Baselines3 .zip (not a zip archive); if it is a Git LFS "
                         "pointer, run `git lfs pull`")
    model = import_algo(algo_of_zip(path, spec.algo)).load(path, device=spec.device)
    stored, game = model.observation_space, venv.observation_space
    if stored.shape != game.shape or type(stored) is not type(game):
        raise AgentError(f"{path}: the stored agent observes {stored}, but the game sends "
                         f"{game}. Retrain the agent for this build of the game.")
    if model.action_space != venv.action_space:
        raise AgentError(f"{path}: the stored agent acts in {model.action_space}, but the game expects "
                         f"{venv.action_space}. Retrain the agent for this build of the game.")
    from .normalize import NormalizedAgent, read_from_zip

    normalization = read_from_zip(path)  # saved with the model: it acts on normalised observations
    if normalization is not None and normalization.norm_obs:
        return NormalizedAgent(model, normalization)
    return model  # type: ignore[return-value]


def _check_onnx_spaces(path: Path, agent: Any, venv: VecEnv) -> None:
    """An exported model (with its layout in its metadata) must observe and act as the game does."""
    from ..engines.godot.onnx_layout import OnnxLayoutError, PluginLayout

    if agent.layout is None:
        return
    try:
        game = PluginLayout.for_spaces(venv.observation_space, venv.action_space)
    except OnnxLayoutError:
        return  # the game's spaces have no ONNX layout: the model's inputs cannot be compared to them
    # sizes only: the agent feeds its inputs by the names it stores
    stored = [i.size for i in agent.layout.inputs], [k.size for k in agent.layout.actions]
    sent = [i.size for i in game.inputs], [k.size for k in game.actions]
    if stored != sent:
        raise AgentError(f"{path}: the stored agent observes inputs of sizes {stored[0]} and acts with action sizes "
                         f"{stored[1]}, but the game sends {sent[0]} and expects {sent[1]}. Retrain the agent for "
                         "this build of the game, or export the matching model.")
