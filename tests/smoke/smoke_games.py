"""Small Gymnasium games, each with one planted fault a smoke oracle or the determinism check must
catch (and a healthy one that passes them all). ``fault_at`` is the 1-based step of an episode
where the fault shows; every game reports ``info["position"]`` and ``info["object_count"]``."""

from __future__ import annotations

import random
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

#: object counts grow by this per reset in the leaking game (the others keep theirs)
LEAK_PER_RESET = 7


class Walker(gym.Env):  # type: ignore[type-arg]
    """A point on a line, pushed left or right; seeded start; healthy unless a fault is chosen.

    ``fault``: ``nan`` (a NaN observation at ``fault_at``), ``out_of_space`` (an observation above
    the Box's high bound), ``leak`` (``object_count`` grows at every reset), ``stuck`` (the position
    freezes from ``fault_at`` on), ``unseeded`` (the start comes from Python's global ``random``),
    ``gust`` (from ``fault_at`` on, ``info["gust"]`` comes from the global ``random``), ``shared``
    (``info["ticks"]`` counts the steps of every copy: copies that interfere), ``nan_reward`` (a NaN
    reward at ``fault_at``).
    """

    ticks = 0  # shared by every copy: the planted interference of the "shared" fault

    observation_space = spaces.Box(-10.0, 10.0, shape=(2,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, fault: str = "", fault_at: int = 5) -> None:
        self.fault, self.fault_at = fault, fault_at
        self.x, self.t, self.objects = 0.0, 0, 100

    def _obs(self) -> np.ndarray:
        obs = np.array([self.x, self.t / 100.0], dtype=np.float32)
        if self.t == self.fault_at and self.fault == "nan":
            obs[1] = np.nan
        if self.t == self.fault_at and self.fault == "out_of_space":
            obs[0] = 42.0
        return obs

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"position": [self.x, 0.0], "object_count": self.objects}
        if self.fault == "gust":
            info["gust"] = round(random.random(), 3) if self.t >= self.fault_at else 0.0
        if self.fault == "shared":
            info["ticks"] = Walker.ticks
        return info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        start = random.random() if self.fault == "unseeded" else float(self.np_random.uniform(-1, 1))
        self.x, self.t = start, 0
        Walker.ticks = 0
        if self.fault == "leak":
            self.objects += LEAK_PER_RESET
        return self._obs(), self._info()

    def step(self, action: Any) -> Any:
        self.t += 1
        Walker.ticks += 1
        if not (self.fault == "stuck" and self.t >= self.fault_at):
            self.x = float(np.clip(self.x + (0.1 if int(action) == 1 else -0.1), -5, 5))
        reward = float("nan") if self.fault == "nan_reward" and self.t == self.fault_at else -abs(self.x)
        return self._obs(), reward, abs(self.x) >= 5, False, self._info()
