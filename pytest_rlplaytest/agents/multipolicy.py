"""One policy per ``policy_name`` in the same game instances: training, the combined agent, loading.

A Godot scene whose Training agents carry several ``policy_name``s gives a ``VecEnv`` with
``policy_groups`` (name -> env indices) and ``policy_spaces`` (name -> spaces). Each policy learns
on a :class:`~.multiagent.PolicyView` of its agents; the other policies' agents act with those
policies' *latest* weights (sampled, not greedy, as in their own training).

**Rounds of whole rollouts.** The policies take turns: each learns one rollout (``n_steps`` per
agent for PPO/A2C/RecurrentPPO; a quarter of its budget for off-policy algorithms), in name order,
until each has its budget. Why not all at once: SB3 learners each own their rollout loop, and an
on-policy rollout must be collected with the opponents it is judged against fixed, so alternating
whole rollouts keeps every learner's data on-policy against stationary opponents, needs no threads,
and is deterministic (the order is fixed; each policy's model is seeded with
``derive_seed(seed, "policy", name)``). The game is reset once; a policy resuming its turn starts
from the observations the game shows now (no transition spans another policy's turn).

Every policy's ``model.zip`` (and ``training_episodes.csv``, ``learning_curve.png``, TensorBoard)
goes to ``<artifacts>/policies/<name>/``. ``model={"red": "red.zip", "blue": "blue.zip"}`` loads
them back (paths relative to the test file); each is an ordinary SB3 ``.zip``, exportable to ONNX
on its own (:func:`~.onnx.export_onnx`). Not supported here yet: checkpoints/resume, engine
restarts, ``normalize=`` and the agent cache.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..scenario import ScenarioError, ScenarioSpec, derive_seed
from .base import Agent, AgentError
from .multiagent import PolicyView, take_rows

__all__ = ["MultiPolicyAgent", "is_multi_policy", "load_policies", "train_policies"]

#: where each policy's artifacts go, under the test's artifact folder
POLICIES_DIR = "policies"


def is_multi_policy(venv: Any) -> bool:
    """The env's agents belong to several policies (``policy_groups`` with more than one name)."""
    groups = getattr(venv, "policy_groups", None)
    return isinstance(groups, dict) and len(groups) > 1


class MultiPolicyAgent:
    """Acts for every agent of a multi-policy env: each policy for its own agents.

    Attributes:
        policies: policy name -> its agent (an SB3 model, or any :class:`~.base.Agent`).
        groups: policy name -> its env indices.
    """

    def __init__(self, policies: Mapping[str, Agent], groups: Mapping[str, list[int]], mixed: bool) -> None:
        self.policies = dict(policies)
        self.groups = {k: list(v) for k, v in groups.items()}
        self.mixed = mixed
        self.n_envs = sum(len(v) for v in self.groups.values())

    def predict(self, observation: Any, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[Any, Any]:
        """Actions for the full env: each policy predicts for its agents' rows; ``state`` is a
        dict of the policies' recurrent states."""
        states = dict(state or {})
        rows: list[Any] = [None] * self.n_envs
        for name, idx in self.groups.items():
            starts = None if episode_start is None else np.asarray(episode_start)[idx]
            actions, states[name] = self.policies[name].predict(
                take_rows(observation, np.asarray(idx)), state=states.get(name), episode_start=starts,
                deterministic=deterministic)
            for k, i in enumerate(idx):
                rows[i] = np.asarray(actions)[k]
        if self.mixed:
            return rows, states
        return np.stack(rows), states


class _Latest:
    """An actor for policy ``name`` with its current weights (sampled actions, recurrent state kept)."""

    def __init__(self, models: dict[str, Any], name: str) -> None:
        self.models, self.name, self.state = models, name, None

    def __call__(self, obs: Any, episode_start: np.ndarray) -> np.ndarray:
        actions, self.state = self.models[self.name].predict(obs, state=self.state, episode_start=episode_start,
                                                             deterministic=False)
        return np.asarray(actions)


def _views(venv: Any, models: dict[str, Any]) -> dict[str, PolicyView]:
    groups, spaces = venv.policy_groups, venv.policy_spaces
    return {name: PolicyView(venv, idx, [(groups[o], _Latest(models, o)) for o in groups if o != name],
                             observation_space=spaces[name][0], action_space=spaces[name][1])
            for name, idx in groups.items()}


def _turn_size(spec: ScenarioSpec, kwargs: dict[str, Any], total: int, n_agents: int) -> int:
    if "n_steps" in kwargs and spec.algo in ("PPO", "A2C", "RecurrentPPO"):
        return int(kwargs["n_steps"]) * n_agents
    return max(1, total // 4)


def train_policies(spec: ScenarioSpec, venv: Any, artifacts_dir: Path | None) -> tuple[MultiPolicyAgent, dict[str, Any]]:
    """Train one ``spec.algo`` model per policy name in rounds (see the module docstring), each
    for ``spec.timesteps``; returns the combined agent and the record (per policy: timesteps,
    model path, seed)."""
    from .training import (
        TrainingLog,
        _build_model,
        budget_kwargs,
        check_algo_fits,
        save_model,
        training_logger,
        write_training_artifacts,
    )

    start = time.monotonic()
    models: dict[str, Any] = {}
    views = _views(venv, models)
    plan: dict[str, tuple[int, int, TrainingLog]] = {}
    for name, view in views.items():
        pspec = dataclasses.replace(spec, seed=derive_seed(spec.seed, "policy", name))
        check_algo_fits(pspec, view)
        kwargs, total = budget_kwargs(pspec, view.num_envs)
        models[name] = model = _build_model(pspec, view, kwargs)
        folder = artifacts_dir / POLICIES_DIR / name if artifacts_dir is not None else None
        model.set_logger(training_logger(folder / "tensorboard" if folder is not None else None))
        plan[name] = (total, _turn_size(spec, kwargs, total, view.num_envs),
                      TrainingLog(total, f"{spec.nodeid} [{name}]", log_progress=False))
    last = next(iter(views.values()))
    last.reset()
    while any(models[n].num_timesteps < plan[n][0] for n in views):
        for name, view in views.items():
            total, turn, log = plan[name]
            model = models[name]
            if model.num_timesteps >= total:
                continue
            view.adopt(last)
            model._last_obs, model._last_episode_starts = view.current()
            model.learn(min(turn, total - model.num_timesteps), reset_num_timesteps=False, callback=[log])
            last = view
    record: dict[str, Any] = {"timesteps": sum(int(m.num_timesteps) for m in models.values()),
                              "seconds": time.monotonic() - start, "policies": {}}
    for name, model in models.items():
        entry: dict[str, Any] = {"timesteps": int(model.num_timesteps), "seed": derive_seed(spec.seed, "policy", name),
                                 "agents": len(venv.policy_groups[name])}
        if artifacts_dir is not None:
            folder = artifacts_dir / POLICIES_DIR / name
            entry["model"] = str(save_model(model, folder / "model.zip"))
            write_training_artifacts(plan[name][2].episodes, folder, f"{spec.algo} policy {name!r} ({spec.nodeid})")
        record["policies"][name] = entry
    return MultiPolicyAgent(models, venv.policy_groups, bool(getattr(venv, "mixed_spaces", False))), record


def load_policies(spec: ScenarioSpec, venv: Any) -> MultiPolicyAgent:
    """Load ``model={name: path}``: one stored agent per policy of the scene, each checked against
    that policy's spaces.

    Raises:
        AgentError: a name the scene has no policy of, or a policy without a model.
    """
    from .loading import load_agent

    groups = getattr(venv, "policy_groups", None) or {"shared_policy": list(range(venv.num_envs))}
    given = dict(spec.models)
    scene = ", ".join(map(repr, groups))
    unknown = sorted(set(given) - set(groups))
    if unknown:
        raise AgentError(f"{spec.nodeid}: rl_scenario(model=...) names policy {', '.join(map(repr, unknown))}, "
                         f"but the scene's agents train the policies {scene} (their policy_name); use those names")
    missing = [n for n in groups if n not in given]
    if missing:
        raise AgentError(f"{spec.nodeid}: rl_scenario(model=...) has no model for policy "
                         f"{', '.join(map(repr, missing))}; the scene's policies are {scene}: give one path per policy")
    spaces = getattr(venv, "policy_spaces", None) or {n: (venv.observation_space, venv.action_space) for n in groups}
    agents = {}
    for name, path in given.items():
        shaped = SimpleNamespace(observation_space=spaces[name][0], action_space=spaces[name][1])
        agents[name] = load_agent(dataclasses.replace(spec, model=path, models={}), shaped)  # type: ignore[arg-type]
    return MultiPolicyAgent(agents, groups, bool(getattr(venv, "mixed_spaces", False)))


def check_single_policy_model(spec: ScenarioSpec) -> None:
    """``model=`` as a mapping needs a multi-policy scene (raises :class:`ScenarioError`)."""
    if spec.models:
        raise ScenarioError(f"{spec.nodeid}: rl_scenario(model={{...}}) maps policy names to models, but the "
                            "scene's agents all train one policy; give model='<path>.zip' instead")
