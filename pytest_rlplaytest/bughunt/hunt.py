"""The exploring agent's reward and the recorder of bug-hitting episodes.

:func:`make_hunt_wrapper` wraps a ``VecEnv`` so that the reward is the bug's signature (``bug_reward``
when it is hit) plus a count-based novelty bonus ``novelty / sqrt(N(cell))`` over the cells the agent
visits (``info["position"]`` on a grid of ``cell_size``). No per-bug reward shaping is needed: the
agent is paid for going where it has not been, and much more for the bug. The game's own reward is
kept in ``info["game_reward"]``. Every episode that hits the signature is recorded whole (its seed
and every action until the episode ends, with the step of the first hit); shrinking then truncates
it after the signature and removes what the bug does not need.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..telemetry import EPISODE_SEED_KEY, EVENTS_KEY, POSITION_KEY
from .signature import BugSignature

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv


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
        return bool(self.hits)

    @property
    def first_hit_timestep(self) -> int | None:
        return self.hits[0].timestep if self.hits else None


def make_hunt_wrapper(venv: VecEnv, signature: BugSignature, *, novelty: float = 0.1, cell_size: float = 1.0,
                      bug_reward: float = 10.0, max_records: int = 20,
                      log_lines: Callable[[int], Sequence[str]] | None = None) -> Any:
    """Wrap ``venv`` for a bug hunt (see the module docstring); ``.stats`` holds the findings."""
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class BugHunt(VecEnvWrapper):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(venv)
            self.stats = HuntStats()
            self.visits: Counter[tuple[int, ...]] = Counter()
            self._actions: list[list[Any]] = [[] for _ in range(venv.num_envs)]
            self._events: list[list[list[Any]]] = [[] for _ in range(venv.num_envs)]
            self._hit: list[bool] = [False] * venv.num_envs
            self._open: list[HitRecord | None] = [None] * venv.num_envs  # hit, episode still running
            self._pending: np.ndarray | None = None

        def reset(self) -> Any:
            self.finish()
            return self.venv.reset()

        def finish(self) -> None:
            """Close the records of hit episodes still running (the hunt's budget ran out)."""
            for i in range(self.num_envs):
                record = self._open[i]
                if record is not None:
                    record.actions, record.events = list(self._actions[i]), list(self._events[i])
                self._actions[i], self._events[i], self._hit[i], self._open[i] = [], [], False, None

        def step_async(self, actions: np.ndarray) -> None:
            self._pending = actions
            self.venv.step_async(actions)

        def step_wait(self) -> Any:
            obs, game_rewards, dones, infos = self.venv.step_wait()
            rewards = np.zeros(self.num_envs, dtype=np.float32)
            assert self._pending is not None
            for i in range(self.num_envs):
                info = infos[i]
                info["game_reward"] = float(game_rewards[i])
                self.stats.timesteps += 1
                self._actions[i].append(np.asarray(self._pending[i]).tolist())
                step = len(self._actions[i])
                events = info.get(EVENTS_KEY) or ()
                for name in [events] if isinstance(events, str) else events:
                    self._events[i].append([step, str(name)])
                bonus = 0.0
                position = info.get(POSITION_KEY)
                if position is not None:
                    cell = tuple(math.floor(float(v) / cell_size) for v in np.asarray(position).ravel())
                    self.visits[cell] += 1
                    bonus = novelty / math.sqrt(self.visits[cell])
                lines = log_lines(i) if log_lines is not None else ()
                hit = signature.hit(info, lines)
                rewards[i] = bonus + (bug_reward if hit and not self._hit[i] else 0.0)
                if hit and not self._hit[i] and len(self.stats.hits) < max_records:
                    seed = info.get(EPISODE_SEED_KEY)
                    record = HitRecord(env_index=i, seed=int(seed) if seed is not None else None,
                                       actions=[], hit_step=step, timestep=self.stats.timesteps)
                    self._open[i] = record
                    self.stats.hits.append(record)
                self._hit[i] = self._hit[i] or hit
                if dones[i]:
                    self.stats.episodes += 1
                    done_record = self._open[i]
                    if done_record is not None:  # the episode is over: keep all of it
                        done_record.actions, done_record.events = self._actions[i], self._events[i]
                    self._actions[i], self._events[i], self._hit[i], self._open[i] = [], [], False, None
            self.stats.cells_visited = len(self.visits)
            return obs, rewards, dones, infos

    return BugHunt()
