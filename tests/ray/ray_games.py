"""Games and agents for the Ray tests (pickled by value to the Ray workers: they are not installed).

* :class:`KillOnce`: CartPole whose worker process SIGKILLs itself when it resets the episode with
  ``kill_seed``, once (a marker file remembers it): a Ray worker lost mid-call, for the retry test.
* :class:`PoleHeuristic`: a deterministic CartPole agent (push towards where the pole leans).
* :class:`TowardsTarget`: a deterministic agent for the Godot probe game (move towards the target).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np


class KillOnce(gym.Wrapper):  # type: ignore[type-arg]
    """CartPole-v1 that kills its own process at the reset with ``kill_seed`` the first time."""

    def __init__(self, marker: str, kill_seed: int) -> None:
        super().__init__(gym.make("CartPole-v1"))
        self.marker, self.kill_seed = Path(marker), kill_seed

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        if seed == self.kill_seed and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return self.env.reset(seed=seed, options=options)


class PoleHeuristic:
    """Push the cart towards the side the pole leans to (deterministic; ~200 steps an episode)."""

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        obs = np.asarray(observation)
        return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64), None


class TowardsTarget:
    """Move the probe's point straight at its target."""

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        obs = np.asarray(observation, dtype=np.float32)
        return np.clip((obs[:, 2:4] - obs[:, 0:2]) * 10.0, -1.0, 1.0), None
