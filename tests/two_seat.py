"""A tiny two-seat game for the self-play tests: both seats of a match pick 0..2 at step 1 (seat A
steps first in a DummyVecEnv), the higher number wins, step 2 ends the episode with info
``winner``/``seat``. Used directly by tests/agents/test_selfplay.py and copied into pytester folders
by tests/plugin/test_marker_self_play.py."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class Match:
    """The state both seats of one match share."""

    def __init__(self) -> None:
        self.a = 0
        self.winner = ""


class Seat(gym.Env):  # type: ignore[type-arg]
    """One seat of a :class:`Match`. Observation ``[seat, step]`` (seat 0.0 for A, 1.0 for B;
    ``seat_in_obs=False``: always 0.0); ``report_success`` adds ``is_success`` (this seat won) to
    the last step's info."""

    def __init__(self, match: Match, seat: str, *, seat_in_obs: bool = True, report_success: bool = True) -> None:
        self.match, self.seat, self.t = match, seat, 0
        self.seat_value = 1.0 if seat_in_obs and seat == "B" else 0.0
        self.report_success = report_success
        self.observation_space = spaces.Box(-10, 10, (2,), np.float32)
        self.action_space = spaces.Discrete(3)

    def _obs(self) -> np.ndarray:
        return np.array([self.seat_value, self.t], np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: Any) -> Any:
        self.t += 1
        if self.t == 1:
            if self.seat == "A":
                self.match.a = int(action)
            else:
                a, b = self.match.a, int(action)
                self.match.winner = "A" if a > b else "B" if b > a else "draw"
            return self._obs(), 0.0, False, False, {}
        won = self.match.winner == self.seat
        info: dict[str, Any] = {"winner": self.match.winner, "seat": self.seat}
        if self.report_success:
            info["is_success"] = won
        return self._obs(), float(won), True, False, info
