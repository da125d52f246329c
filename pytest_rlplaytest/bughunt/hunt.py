"""The exploring agent's reward and the recorder of bug-hitting episodes.

:class:`BugHunt` wraps a ``VecEnv`` so that the reward is the bug's signature (``bug_reward``
when it is hit) plus a count-based novelty bonus ``novelty / sqrt(N(cell))`` over the cells the agent
visits (``info["position"]`` on a grid of ``cell_size``). No per-bug reward shaping is needed: the
agent is paid for going where it has not been, and much more for the bug. The game's own reward is
kept in ``info["game_reward"]``. Every episode that hits the signature is recorded whole (its seed
and every action until the episode ends, with the step of the first hit); shrinking then truncates
it after the signature and removes what the bug does not need.

This module imports SB3 when it is imported: only hunts import it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from ..telemetry import EPISODE_SEED_KEY, POSITION_KEY, info_events
from .signature import BugSignature


@dataclass
class HitRecord:
    """One episode that hit the signature during the hunt (``actions``: the whole episode)."""

    env_index: int
    seed: int | None
    actions: list[Any]
    hit_step: int
    timestep: int
    events: list[list[Any]] = field(default_factory=list)


@dataclass
class HuntStats:
    """What the hunt saw."""

    timesteps: int = 0
    episodes: int = 0
    hits: list[HitRecord] = field(default_factory=list)
    cells_visited: int = 0

    @property
    def found(self) -> bool:
        """Whether the signature was hit at least once."""
        return bool(self.hits)

    @property
    def first_hit_timestep(self) -> int | None:
        """The hunt's timestep of the first hit (None if none)."""
        return self.hits[0].timestep if self.hits else None


class BugHunt(VecEnvWrapper):  # type: ignore[misc]
    """Wraps ``venv`` for a bug hunt (see the module docstring); :attr:`stats` holds the findings.

    Args:
        venv: the game's ``VecEnv``.
        signature: the bug's signature.
        novelty: the count-based novelty bonus ``novelty / sqrt(N(cell))``.
        cell_size: the side of a cell of the grid over ``info["position"]``.
        bug_reward: the reward for the step that first hits the signature in an episode.
        max_records: how many hitting episodes are recorded at most.
        log_lines: ``callable(env_index) -> new log lines`` for log signatures.
    """

    def __init__(self, venv: VecEnv, signature: BugSignature, *, novelty: float = 0.1, cell_size: float = 1.0,
                 bug_reward: float = 10.0, max_records: int = 20,
                 log_lines: Callable[[int], Sequence[str]] | None = None) -> None:
        super().__init__(venv)
        self.signature, self.log_lines = signature, log_lines
        self.novelty, self.cell_size, self.bug_reward, self.max_records = novelty, cell_size, bug_reward, max_records
        self.stats = HuntStats()
        self.visits: Counter[tuple[int, ...]] = Counter()
        self._actions: list[list[Any]] = [[] for _ in range(venv.num_envs)]
        self._events: list[list[list[Any]]] = [[] for _ in range(venv.num_envs)]
        self._hit: list[bool] = [False] * venv.num_envs
        self._open: list[HitRecord | None] = [None] * venv.num_envs  # hit, episode still running
        self._pending: np.ndarray | None = None

    def reset(self) -> Any:
        """Close the running records and reset the game."""
        self.finish()
        return self.venv.reset()

    def finish(self) -> None:
        """Close the records of hit episodes still running (the hunt's budget ran out)."""
        for i in range(self.num_envs):
            record = self._open[i]
            if record is not None:
                record.actions, record.events = list(self._actions[i]), list(self._events[i])
            self._end_episode(i)

    def _end_episode(self, i: int) -> None:
        self._actions[i], self._events[i], self._hit[i], self._open[i] = [], [], False, None

    def step_async(self, actions: np.ndarray) -> None:
        """Remember the actions (for the records) and send them."""
        self._pending = actions
        self.venv.step_async(actions)

    def step_wait(self) -> Any:
        """The game's step with the hunt's reward; the game's own reward is in ``info["game_reward"]``."""
        obs, game_rewards, dones, infos = self.venv.step_wait()
        rewards = np.zeros(self.num_envs, dtype=np.float32)
        assert self._pending is not None
        for i in range(self.num_envs):
            infos[i]["game_reward"] = float(game_rewards[i])
            rewards[i] = self._record_step(i, np.asarray(self._pending[i]).tolist(), infos[i], bool(dones[i]))
        self.stats.cells_visited = len(self.visits)
        return obs, rewards, dones, infos

    def _novelty(self, info: dict[str, Any]) -> float:
        position = info.get(POSITION_KEY)
        if position is None:
            return 0.0
        cell = tuple(math.floor(float(v) / self.cell_size) for v in np.asarray(position).ravel())
        self.visits[cell] += 1
        return self.novelty / math.sqrt(self.visits[cell])

    def _record_step(self, i: int, action: Any, info: dict[str, Any], done: bool) -> float:
        """Record env ``i``'s step and return its hunt reward."""
        self.stats.timesteps += 1
        self._actions[i].append(action)
        step = len(self._actions[i])
        self._events[i].extend([step, name] for name in info_events(info))
        reward = self._novelty(info)
        lines = self.log_lines(i) if self.log_lines is not None else ()
        first_hit = self.signature.hit(info, lines) and not self._hit[i]
        if first_hit:
            reward += self.bug_reward
            self._hit[i] = True
            if len(self.stats.hits) < self.max_records:
                seed = info.get(EPISODE_SEED_KEY)
                record = HitRecord(env_index=i, seed=int(seed) if seed is not None else None,
                                   actions=[], hit_step=step, timestep=self.stats.timesteps)
                self._open[i] = record
                self.stats.hits.append(record)
        if done:
            self.stats.episodes += 1
            running = self._open[i]
            if running is not None:  # the episode is over: keep all of it
                running.actions, running.events = self._actions[i], self._events[i]
            self._end_episode(i)
        return reward
