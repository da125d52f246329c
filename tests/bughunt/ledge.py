"""Ledge: a Gymnasium test game with a planted bug, for the bug-hunt tests.

The agent walks on a line from x=0; the world ends at x=+10 where a missing guard rail lets it fall
off (event ``out_of_world``): the planted bug. Moving left past -10 is blocked properly. Episodes
last 120 steps. The shortest reproduction is ten "right" moves.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class Ledge(gym.Env):  # type: ignore[type-arg]
    """Walk left (0), right (1) or wait (2); falling off the right end is the bug."""

    def __init__(self, horizon: int = 120) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Discrete(3)
        self.horizon = horizon
        self.x = 0
        self.t = 0
        self.wind = 0.0

    def _obs(self) -> np.ndarray:
        return np.array([self.x / 10.0, self.wind], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.x, self.t = 0, 0
        self.wind = float(self.np_random.uniform(-1, 1))  # seeded: replays must reproduce it
        return self._obs(), {"position": [0.0, 0.0]}

    def step(self, action: Any) -> Any:
        self.t += 1
        move = {0: -1, 1: 1, 2: 0}[int(action)]
        self.x = max(-10, self.x + move)  # the left end has its guard rail
        info: dict[str, Any] = {"position": [float(self.x), 0.0]}
        fell = self.x >= 10  # the planted bug: no guard rail on the right
        if fell:
            info["events"] = ["out_of_world"]
        return self._obs(), 0.0, fell, self.t >= self.horizon and not fell, info
