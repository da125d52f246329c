"""Corridor: a tiny Gymnasium game in which the agent must walk to the exit it is shown.

The agent starts in the middle of a corridor of ``length`` cells; one end, chosen at random each
episode, is the exit, and the observation says which. Moving toward the exit earns a small reward,
reaching it earns 1 and ends the episode with ``info["is_success"] = True``; running out of time
truncates it. ``reward_mode="sparse"`` (what a curriculum stage's ``reward="sparse"`` sets) drops the
shaping: only reaching the exit pays. ``info`` also carries the agent's ``position`` (for heatmaps) and ``events``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class Corridor(gym.Env):  # type: ignore[type-arg]
    """Walk left or right to the exit shown in the observation."""

    metadata = {"render_modes": []}

    def __init__(self, length: int = 9, max_steps: int = 24, reward_mode: str = "shaped") -> None:
        if reward_mode not in ("shaped", "sparse"):
            raise ValueError(f"Corridor: reward_mode must be 'shaped' or 'sparse', got {reward_mode!r}")
        self.reward_mode = reward_mode
        self.length = length
        self.max_steps = max_steps
        self.observation_space = spaces.Box(low=-1.0, high=1.0, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)  # 0: left, 1: right
        self.pos = length // 2
        self.exit = 0
        self.steps = 0

    def _obs(self) -> np.ndarray:
        centre = (self.length - 1) / 2
        return np.array([(self.pos - centre) / centre, 1.0 if self.exit else -1.0], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.pos = self.length // 2
        self.exit = int(self.np_random.integers(0, 2))
        self.steps = 0
        return self._obs(), {"position": [float(self.pos), 0.0]}

    def step(self, action: Any) -> Any:
        self.steps += 1
        goal = self.length - 1 if self.exit else 0
        before = abs(goal - self.pos)
        self.pos = int(np.clip(self.pos + (1 if int(action) == 1 else -1), 0, self.length - 1))
        after = abs(goal - self.pos)
        reached = self.pos == goal
        reward = 1.0 if reached else 0.0 if self.reward_mode == "sparse" else 0.1 * (before - after) - 0.01
        info: dict[str, Any] = {"position": [float(self.pos), 0.0], "distance": float(after)}
        if reached:
            info["is_success"] = True
            info["events"] = ["exit_reached"]
        truncated = not reached and self.steps >= self.max_steps
        if truncated:
            info["is_success"] = False
        return self._obs(), reward, reached, truncated, info
