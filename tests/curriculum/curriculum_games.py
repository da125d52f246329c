"""The game of the curriculum tests, written into pytester folders by the ``ladder_game`` fixture
(conftest.py).

``Ladder-v0``: pick the side the observation points to, ``horizon`` picks per episode; an episode
succeeds when every pick is right (``info["is_success"]``), so its difficulty is an env kwarg: a
longer horizon asks for more right picks in a row. ``blind=True`` hides the side (the observation is
0): no policy beats chance, ``1 / 2**horizon``. ``reward_mode`` (what a stage's ``reward=`` sets):
``"dense"`` pays 1 per right pick, ``"sparse"`` 1 at the end of a successful episode. Every step's
info reports ``horizon`` and ``reward_mode``, so a test sees which game it played. It plays in
microseconds: PPO learns the unblind game in about a thousand steps.
"""

from __future__ import annotations

import textwrap

GAMES = textwrap.dedent(
    '''
    import gymnasium as gym
    import numpy as np
    from gymnasium import spaces


    class Ladder(gym.Env):
        def __init__(self, horizon=1, blind=False, reward_mode="dense"):
            if reward_mode not in ("dense", "sparse"):
                raise ValueError(f"Ladder: reward_mode must be 'dense' or 'sparse', got {reward_mode!r}")
            self.observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
            self.action_space = spaces.Discrete(2)
            self.horizon, self.blind, self.reward_mode = horizon, blind, reward_mode
            self.side = self.t = 0
            self.all_right = True

        def _obs(self):
            shown = 0.0 if self.blind else (1.0 if self.side else -1.0)
            return np.array([shown], dtype=np.float32)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.side = int(self.np_random.integers(0, 2))
            self.t, self.all_right = 0, True
            return self._obs(), {}

        def step(self, action):
            self.t += 1
            right = int(action) == self.side
            self.all_right = self.all_right and right
            self.side = int(self.np_random.integers(0, 2))
            done = self.t >= self.horizon
            info = {"horizon": self.horizon, "reward_mode": self.reward_mode}
            if done:
                info["is_success"] = self.all_right
            if self.reward_mode == "dense":
                reward = 1.0 if right else 0.0
            else:
                reward = 1.0 if done and self.all_right else 0.0
            return self._obs(), reward, done, False, info


    gym.register("Ladder-v0", entry_point=Ladder)
    '''
)

#: PPO small enough to learn Ladder in about a thousand steps
FAST_PPO = "dict(n_steps=128, n_epochs=4, batch_size=64, learning_rate=3e-3)"
