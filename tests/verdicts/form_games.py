"""Tiny Gymnasium games and fixed agents for the verdict mutation suite (``test_form_*.py``).

Each verdict form is run through pytester against a known-good and a known-bad agent or game, so a
verdict that passes silently (or fails a good game) is caught. Everything here is deterministic and
plays in milliseconds:

* :class:`Pick`: each step the observation points left (-1) or right (+1) and the agent picks a side;
  an episode of ``horizon`` picks succeeds when every pick was right. ``frame_ms`` is reported every
  step (``None``: not reported). ``alternate=True`` points the first pick of each episode alternately
  right and left instead of at random, so a constant agent succeeds in exactly half the episodes.
* :class:`Gap`: walk right (1) or wait (0) on a line; the planted bug is a gap in the floor at
  ``x == 3`` (event ``out_of_world``). ``FORM_GAP_FIXED=1`` in the environment is the fixed build.
* :func:`write_agent`: a Stable-Baselines3 PPO ``.zip`` with a hand-set linear policy for Pick:
  ``"good"`` picks the side the observation points to, ``"bad"`` the other one, ``"right"`` always
  picks right.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

AGENTS = ("good", "bad", "right")


class Pick(gym.Env):  # type: ignore[type-arg]
    """Pick the side the observation points to; success when every pick of the episode is right."""

    def __init__(self, horizon: int = 3, frame_ms: float | None = 2.0, alternate: bool = False) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.horizon, self.frame_ms, self.alternate = horizon, frame_ms, alternate
        self.side = self.t = self.episodes = 0
        self.all_right = True

    def _obs(self) -> np.ndarray:
        return np.array([1.0 if self.side else -1.0], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.side = self.episodes % 2 if self.alternate else int(self.np_random.integers(0, 2))
        self.episodes += 1
        self.t, self.all_right = 0, True
        return self._obs(), {}

    def step(self, action: Any) -> Any:
        self.t += 1
        right = int(action) == self.side
        self.all_right = self.all_right and right
        self.side = int(self.np_random.integers(0, 2))
        done = self.t >= self.horizon
        info: dict[str, Any] = {}
        if self.frame_ms is not None:
            info["frame_ms"] = float(self.frame_ms) * (1.0 + 0.1 * self.t)
        if done:
            info["is_success"] = self.all_right
        return self._obs(), 1.0 if right else 0.0, done, False, info


class Gap(gym.Env):  # type: ignore[type-arg]
    """Walk right (1) or wait (0); the floor has a gap at x == 3 unless FORM_GAP_FIXED=1."""

    def __init__(self, horizon: int = 20) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.horizon = horizon
        self.x = self.t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.x = self.t = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action: Any) -> Any:
        self.t += 1
        self.x = min(10, self.x + int(action))
        info: dict[str, Any] = {}
        fell = self.x == 3 and os.environ.get("FORM_GAP_FIXED") != "1"  # the planted bug
        if fell:
            info["events"] = ["out_of_world"]
        obs = np.array([self.x / 10.0], dtype=np.float32)
        return obs, 0.0, fell, self.t >= self.horizon and not fell, info


def write_agent(path: Path, kind: str) -> Path:
    """Save a PPO agent for :class:`Pick` whose greedy action is fixed by hand (see the module docs)."""
    import torch
    from stable_baselines3 import PPO

    if kind not in AGENTS:
        raise ValueError(f"kind must be one of {AGENTS}, got {kind!r}")
    model = PPO("MlpPolicy", Pick(), policy_kwargs={"net_arch": []}, n_steps=8, batch_size=8, seed=0, device="cpu")
    weight = {"good": 10.0, "bad": -10.0, "right": 0.0}[kind]
    with torch.no_grad():
        action_net = model.policy.action_net
        action_net.weight.copy_(torch.tensor([[-weight], [weight]]))
        action_net.bias.copy_(torch.tensor([0.0, 10.0 if kind == "right" else 0.0]))
    model.save(path)
    return path
