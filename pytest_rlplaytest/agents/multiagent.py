"""Several policies in one game: :class:`PolicyView`, a ``VecEnv`` over some of the agents of a full one.

A scene whose agents belong to several policies (the official Godot RL Agents plugin's
``policy_name``; our addon's too) runs as one full SB3 ``VecEnv`` with one env per agent. A learner
sees only its own agents through a :class:`PolicyView`: ``mine`` are the indices of the agents it
controls, and every other agent is acted for by an :class:`AgentActor` (another policy with its latest
weights, a past snapshot, a scripted opponent). Each ``step`` composes the full action array (the
learner's actions for ``mine``, each actor's for its agents, fed those agents' latest observations),
steps the full ``VecEnv`` once and returns ``mine``'s slice: observations, rewards, dones and infos
(``terminal_observation`` included, it is per agent).

The full ``VecEnv``'s observations may be an array ``[n, ...]``, a dict of such arrays, or, when the
agents' spaces differ (one policy's agents see other things than another's), a list with one
observation per agent; a view stacks its agents' rows. Its actions are composed the same way: an
array ``[n, ...]``, or a list of per-agent actions when the full ``VecEnv`` says
``mixed_spaces = True``.

Nothing here imports torch; SB3's ``VecEnv`` base class is imported with this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from .base import Agent, AgentError

__all__ = ["AgentActor", "PolicyView", "PolicyViewError", "policy_actor", "take_rows"]


class PolicyViewError(AgentError, ValueError):
    """A :class:`PolicyView` was built with agent indices that do not partition the full ``VecEnv``."""


class AgentActor(Protocol):
    """Acts for a group of agents that the learner does not control."""

    def __call__(self, obs: Any, episode_start: np.ndarray) -> np.ndarray:
        """Actions ``[k, ...]`` for the group's ``k`` agents, given their observations (array
        ``[k, ...]`` or dict of arrays) and ``episode_start`` (``[k]`` bool, True on the first step
        of an agent's episode, so an actor can redraw its opponent per episode)."""
        ...


def take_rows(obs: Any, idx: np.ndarray) -> Any:
    """The rows ``idx`` of a batch of observations: an array, a dict of arrays, or a list of
    per-agent observations (stacked into an array, or a dict of arrays)."""
    if isinstance(obs, dict):
        return {k: np.asarray(v)[idx] for k, v in obs.items()}
    if isinstance(obs, list):
        rows = [obs[int(i)] for i in idx]
        if rows and isinstance(rows[0], dict):
            return {k: np.stack([np.asarray(r[k]) for r in rows]) for k in rows[0]}
        return np.stack([np.asarray(r) for r in rows])
    return np.asarray(obs)[idx]


def policy_actor(agent: Agent, deterministic: bool = False) -> AgentActor:
    """An :class:`AgentActor` acting with ``agent.predict`` (an SB3 model or any :class:`~.base.Agent`),
    carrying a recurrent policy's state between steps (reset where ``episode_start`` is True)."""
    state: list[Any] = [None]

    def act(obs: Any, episode_start: np.ndarray) -> np.ndarray:
        actions, state[0] = agent.predict(obs, state=state[0], episode_start=episode_start,
                                          deterministic=deterministic)
        return np.asarray(actions)

    return act


def _indices(values: Sequence[int], what: str) -> list[int]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise PolicyViewError(f"PolicyView: {what} holds {v!r}; agent indices must be whole numbers")
        out.append(int(v))
    return out


class PolicyView(VecEnv):
    """The agents ``mine`` of the full ``venv`` as a ``VecEnv`` for one learner; ``others`` are
    ``(indices, actor)`` pairs acting for the rest. ``mine`` and every group of ``others`` must
    partition ``range(venv.num_envs)``. ``observation_space``/``action_space`` default to the full
    ``venv``'s (give them when the agents' spaces differ). ``close()`` leaves the shared ``venv``
    running unless ``close_venv`` is True."""

    def __init__(self, venv: VecEnv, mine: Sequence[int], others: Sequence[tuple[Sequence[int], AgentActor]],
                 observation_space: gym.Space | None = None, action_space: gym.Space | None = None,
                 close_venv: bool = False) -> None:
        n = venv.num_envs
        self.venv = venv
        self.mine = np.asarray(_indices(mine, "mine"), dtype=np.int64)
        self.others = [(np.asarray(_indices(idx, f"others[{g}]"), dtype=np.int64), actor)
                       for g, (idx, actor) in enumerate(others)]
        self._check_partition(n)
        for g, (_, actor) in enumerate(self.others):
            if not callable(actor):
                raise PolicyViewError(f"PolicyView: others[{g}]'s actor {actor!r} is not callable; give a "
                                      "function (obs, episode_start) -> actions, e.g. policy_actor(model)")
        self.close_venv = close_venv
        self._full_obs: Any = None
        self._starts = np.ones(n, dtype=bool)
        self._mixed = bool(getattr(venv, "mixed_spaces", False))
        super().__init__(len(self.mine), observation_space or venv.observation_space,
                         action_space or venv.action_space)

    def _check_partition(self, n: int) -> None:
        groups = [("mine", self.mine)] + [(f"others[{g}]", idx) for g, (idx, _) in enumerate(self.others)]
        if len(self.mine) == 0:
            raise PolicyViewError("PolicyView: mine is empty; the learner must control at least one agent")
        seen: dict[int, str] = {}
        for name, idx in groups:
            for i in idx.tolist():
                if not 0 <= i < n:
                    raise PolicyViewError(f"PolicyView: {name} holds agent {i}, but the VecEnv has {n} agents "
                                          f"(0..{n - 1})")
                if i in seen:
                    raise PolicyViewError(f"PolicyView: agent {i} is in both {seen[i]} and {name}; each agent "
                                          "must be acted for by exactly one policy")
                seen[i] = name
        missing = sorted(set(range(n)) - set(seen))
        if missing:
            raise PolicyViewError(f"PolicyView: agents {missing} of the VecEnv's {n} are in neither mine nor "
                                  "others; give every agent to the learner or to an actor")

    # -- stepping --------------------------------------------------------------------------
    def reset(self) -> Any:
        """Reset the full ``venv``; return this view's agents' first observations."""
        if any(s is not None for s in self._seeds):
            full: list[int | None] = [None] * self.venv.num_envs
            for k, i in enumerate(self.mine.tolist()):
                full[i] = self._seeds[k]
            self.venv._seeds = full
        self._full_obs = self.venv.reset()
        self._starts[:] = True
        self.reset_infos = [self.venv.reset_infos[i] for i in self.mine] if self.venv.reset_infos else []
        self._reset_seeds()
        self._reset_options()
        return take_rows(self._full_obs, self.mine)

    def _compose(self, actions: Any) -> Any:
        if self._full_obs is None:
            raise AgentError("PolicyView: step before reset(); call reset() first")
        n = self.venv.num_envs
        rows: list[Any] = [None] * n
        mine_actions = np.asarray(actions)
        for k, i in enumerate(self.mine.tolist()):
            rows[i] = mine_actions[k]
        for g, (idx, actor) in enumerate(self.others):
            acted = np.asarray(actor(take_rows(self._full_obs, idx), self._starts[idx].copy()))
            if acted.shape[:1] != (len(idx),):
                raise AgentError(f"PolicyView: others[{g}]'s actor returned actions of shape {acted.shape} for "
                                 f"{len(idx)} agents; it must return one action per agent (shape [{len(idx)}, ...])")
            for k, i in enumerate(idx.tolist()):
                rows[i] = acted[k]
        if self._mixed:
            return rows
        return np.stack([np.asarray(r) for r in rows]).astype(mine_actions.dtype, copy=False)

    def step_async(self, actions: np.ndarray) -> None:
        """Compose the full action array and send it to the full ``venv``."""
        self.venv.step_async(self._compose(actions))

    def step_wait(self) -> Any:
        """Wait for the full ``venv``; return this view's agents' slice."""
        obs, rewards, dones, infos = self.venv.step_wait()
        self._full_obs = obs
        self._starts = np.asarray(dones, dtype=bool).copy()
        mine = self.mine
        return (take_rows(obs, mine), np.asarray(rewards)[mine], np.asarray(dones)[mine],
                [infos[i] for i in mine.tolist()])

    def adopt(self, other: PolicyView) -> None:
        """Take ``other``'s latest full observations and episode starts (``other`` views the same
        ``venv`` and stepped it last), so this view's learner resumes where the game is now."""
        self._full_obs, self._starts = other._full_obs, other._starts.copy()

    def current(self) -> tuple[Any, np.ndarray]:
        """This view's agents' latest observations and episode-start flags."""
        return take_rows(self._full_obs, self.mine), self._starts[self.mine].copy()

    # -- the rest of the VecEnv interface, on this view's agents ----------------------------
    def _full_indices(self, indices: Any) -> list[int]:
        return [int(self.mine[i]) for i in self._get_indices(indices)]

    def close(self) -> None:
        """Close the full ``venv`` only if this view owns it (``close_venv=True``)."""
        if self.close_venv:
            self.venv.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """``venv.get_attr`` for this view's agents."""
        return self.venv.get_attr(attr_name, self._full_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """``venv.set_attr`` for this view's agents."""
        self.venv.set_attr(attr_name, value, self._full_indices(indices))

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        """``venv.env_method`` for this view's agents."""
        return self.venv.env_method(method_name, *method_args, indices=self._full_indices(indices), **method_kwargs)

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        """``venv.env_is_wrapped`` for this view's agents."""
        return self.venv.env_is_wrapped(wrapper_class, self._full_indices(indices))  # type: ignore[arg-type]

    def world_seed(self, env_index: int) -> int:
        """The full ``venv``'s ``world_seed`` of this view's agent ``env_index``."""
        return int(self.venv.world_seed(int(self.mine[env_index])))  # type: ignore[attr-defined]

    def new_log_lines(self, env_index: int) -> list[str]:
        """The full ``venv``'s ``new_log_lines`` of this view's agent ``env_index``."""
        return list(self.venv.new_log_lines(int(self.mine[env_index])))  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        """Anything else (``seeding``, ``sessions``, ``world_seed``...) from the full ``venv``."""
        if name == "venv" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.venv, name)
