"""Running Godot games as Stable-Baselines3 / Gymnasium environments.

* :class:`GodotVecEnv`: the Training agents of one or more game instances as one SB3 ``VecEnv`` (one
  env per agent; its ``policy_groups`` and ``policy_spaces`` say which agent trains which policy).
* :class:`GodotEnv`: a one-agent instance as a ``gymnasium.Env``.

Both sit on :class:`.session.GodotSession` (one game process each), which handles the protocol,
episode ends and time limits. This module imports SB3 and Gymnasium; the engine imports it only
when an env is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from ...telemetry import EPISODE_SEED_KEY
from ..base import EngineError
from .policies import MixedObsCodec
from .session import GodotSession, _row


def _concat(parts: Sequence[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], list):  # (policies with different spaces: one observation per agent)
        return [row for part in parts for row in part]
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


class GodotVecEnv(VecEnv):
    """The Training agents of one or more running game instances as one SB3 ``VecEnv``.

    Env ``k`` is Training agent ``k`` in instance order. ``step`` (and ``reset``) sends every instance
    its message before waiting for any reply, so instances run in parallel. ``env_method(name)`` calls ``name``
    on the agents in the game (the protocol's ``call`` message); :meth:`call_scene_agents` returns
    what every scene agent answered, human and ONNX-controlled ones included.

    Per-env reset seeds come from ``VecEnv.set_options([{"rl_episode_seed": S}, ...])`` (replays) or
    SB3's ``VecEnv.seed()`` (its ``_seeds``), both consumed by the next ``reset()``; only games whose
    :attr:`seeding` is ``"per_episode"`` honour them.
    """

    def __init__(self, sessions: Sequence[GodotSession]) -> None:
        if not sessions:
            raise ValueError("GodotVecEnv needs at least one started GodotSession")
        self.sessions = list(sessions)
        first = self.sessions[0]
        assert first.obs_codec is not None and first.action_codec is not None
        for s in self.sessions[1:]:
            assert s.obs_codec is not None and s.action_codec is not None
            if s.obs_codec.keys != first.obs_codec.keys or s.action_codec.keys != first.action_codec.keys:
                raise EngineError("game instances declare different spaces; they must run the same scene")
        self._offsets: list[int] = np.cumsum([0] + [s.n_agents for s in self.sessions]).tolist()
        super().__init__(self._offsets[-1], first.obs_codec.space(), first.action_codec.space())
        #: env indices per policy name (the agents' ``policy_name``), over every instance
        self.policy_groups: dict[str, list[int]] = {
            name: [off + i for s, off in zip(self.sessions, self._offsets) for i in s.policy_groups.get(name, [])]
            for name in first.policy_groups}
        #: each policy's (observation space, action space)
        self.policy_spaces: dict[str, tuple[gym.Space[Any], gym.Space[Any]]] = {
            name: (obs.space(), act.space()) for name, (obs, act) in first.policy_codecs.items()}
        #: the policies' spaces differ: observations and actions are lists with one entry per agent
        self.mixed_spaces = isinstance(first.obs_codec, MixedObsCodec)
        self._actions: Any = None
        self._log_cursors: dict[int, int] = {}
        self.closed = False

    @property
    def seeding(self) -> str | None:
        """Whether the games honour reset seeds: ``"per_episode"`` or ``"launch_only"``."""
        return self.sessions[0].seeding

    def _session_of(self, env_index: int) -> GodotSession:
        for session, start, end in zip(self.sessions, self._offsets, self._offsets[1:]):
            if start <= env_index < end:
                return session
        raise IndexError(f"no agent {env_index} in this VecEnv of {self.num_envs}")

    def new_log_lines(self, env_index: int) -> list[str]:
        """What the game instance running agent ``env_index`` printed since this was last asked
        for that agent (log-pattern bug signatures). The agents of one instance share its output,
        so each of them sees every line."""
        session = self._session_of(env_index)
        if session.process is None:
            return []
        lines, self._log_cursors[env_index] = session.process.lines_since(self._log_cursors.get(env_index, 0))
        return lines

    def world_seed(self, env_index: int) -> int:
        """The ``--env_seed`` of the game instance that runs agent ``env_index`` (its world: a
        level generated from it must be generated alike for a replay)."""
        return int(self._session_of(env_index).spec.seed)

    def reset(self) -> Any:
        """Reset every instance at once (episode seeds from ``seed()``/reset options); the stacked first observations."""
        seeds = [options.get(EPISODE_SEED_KEY, seed) for options, seed in zip(self._options, self._seeds)]
        parts, infos = [], []
        for s, off in zip(self.sessions, self._offsets):  # every instance resets at once
            s.send_reset(seed=seeds[off] if off < len(seeds) else None)
        for s in self.sessions:
            obs, inf = s.recv_reset()
            parts.append(obs)
            infos.extend(inf)
        self.reset_infos = infos
        self._reset_seeds()
        self._reset_options()
        return _concat(parts)

    def step_async(self, actions: np.ndarray) -> None:
        """Send every instance its agents' actions (replies are read in ``step_wait``)."""
        self._actions = actions if isinstance(actions, list) else np.asarray(actions)
        if len(self.sessions) == 1:
            self.sessions[0].send_actions(self._actions)
            return
        for s, lo, hi in zip(self.sessions, self._offsets, self._offsets[1:]):
            s.send_actions(self._actions[lo:hi])

    def step_wait(self) -> Any:
        """Read every instance's reply: observations, rewards, dones and infos of all agents."""
        if len(self.sessions) == 1:
            return self.sessions[0].recv_step()
        parts, rewards, dones, infos = [], [], [], []
        for s in self.sessions:
            obs, rew, done, inf = s.recv_step()
            parts.append(obs)
            rewards.append(rew)
            dones.append(done)
            infos.extend(inf)
        return _concat(parts), np.concatenate(rewards), np.concatenate(dones), infos

    def close(self) -> None:
        """Close every instance's session (the Godot processes end; idempotent)."""
        if self.closed:
            return
        self.closed = True
        for s in self.sessions:
            s.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """``render_mode`` (None for every agent); other attributes are refused: the agents live in the game."""
        idx = list(self._get_indices(indices))
        if attr_name == "render_mode":
            return [None for _ in idx]
        raise AttributeError(f"Godot agents have no Python attribute {attr_name!r}; use env_method to call "
                             "a method on the agents in the game")

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Refused: the agents live in a Godot process."""
        raise AttributeError(f"cannot set {attr_name!r} on agents living in a Godot process")

    def call_scene_agents(self, method_name: str) -> list[list[Any]]:
        """Call ``method_name`` on the agents of every instance: one list per instance with one
        return value per agent of the scene (the official plugin: every node of group AGENT in tree
        order, Training or not)."""
        return [s.call(method_name) for s in self.sessions]

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        """Call ``method_name`` on the agents (the protocol's call message, no arguments); one value per agent."""
        if method_args or method_kwargs:
            raise TypeError("the Godot call message carries no arguments")
        returns: list[Any] = []
        for s, values in zip(self.sessions, self.call_scene_agents(method_name)):
            if len(values) != s.n_agents:
                raise EngineError(
                    f"{s.spec.label}: call {method_name!r} returned {len(values)} values for a scene with "
                    f"{s.n_agents} Training agents: the official plugin calls every agent of group AGENT, "
                    "Human and Onnx Inference ones included (sync.gd:542-547), and does not say which of them "
                    "train, so they cannot be matched to this VecEnv's envs. Use "
                    "venv.call_scene_agents(name) for one value per scene agent, in scene-tree order.")
            returns.extend(values)
        return [returns[i] for i in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        """False for every agent: no Gymnasium wrappers live in the game."""
        return [False for _ in self._get_indices(indices)]

    def describe(self) -> dict[str, Any]:
        """Boot and first-observation times per instance."""
        return {
            "instances": len(self.sessions),
            "agents_per_instance": [s.n_agents for s in self.sessions],
            "boot_seconds": [round(s.boot_seconds, 4) for s in self.sessions],
            "first_obs_seconds": [round(s.first_obs_seconds, 4) for s in self.sessions],
        }


class GodotEnv(gym.Env):  # type: ignore[type-arg]
    """One Godot agent as a Gymnasium env (terminated vs truncated as the game or the time limit
    says). The session must hold exactly one Training agent."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, session: GodotSession) -> None:
        if session.n_agents != 1:
            raise EngineError(f"{session.spec.label} has {session.n_agents} agents; a single-agent Env needs "
                              "exactly one. Use make_vec_env() (one env per agent).")
        assert session.obs_codec is not None and session.action_codec is not None
        self.session = session
        self.observation_space = session.obs_codec.space()
        self.action_space = session.action_codec.space()
        self._next: tuple[Any, dict[str, Any]] | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        """Reset the one agent's game; its first observation and info."""
        super().reset(seed=seed)
        if seed is None and self._next is not None:
            obs, info = self._next
            self._next = None
            return obs, info
        self._next = None
        obs, infos = self.session.reset(seed=seed)
        return _row(obs, 0), infos[0]

    def step(self, action: Any) -> Any:
        """One step of the one agent: Gymnasium's five-tuple."""
        batch = np.asarray(action)[None, ...]
        obs, rewards, dones, infos = self.session.step(batch)
        info = infos[0]
        first = _row(obs, 0)
        if not dones[0]:
            return first, float(rewards[0]), False, False, info
        truncated = bool(info.get("TimeLimit.truncated", False))
        terminal = info.pop("terminal_observation")
        if self.session.auto_reset or self.session.reset_in_last_step:
            self._next = (first, {})
        return terminal, float(rewards[0]), not truncated, truncated, info

    def close(self) -> None:
        """Close the game (idempotent)."""
        self.session.close()
