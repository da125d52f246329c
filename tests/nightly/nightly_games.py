"""Games for the nightly-training tests (checkpoints, resume, engine restarts, training verdicts, the
agent cache, normalisation), written into pytester folders by the ``nightly_games`` fixture (conftest.py).

Every game is a tiny Gymnasium env that plays in microseconds:

* ``Coin-v1``: pick the side the observation points to, 3 picks per episode; 1 per right pick (a
  learnt agent scores 3, a random one 1.5). ``frame_ms`` is reported every step (``frame_ms=``
  sets it). With ``RLPT_SLOW_FILE`` set, every step sleeps 20 ms once that file exists (a run to
  be killed after its first checkpoint crawls from then on, so the kill lands mid-training).
* ``Fading-v0``: the same picks, but every episode is worth less than the one before, whatever the
  agent does: a training whose returns cannot improve.
* ``Crashy-v0``: Coin, but the step with global number in ``crash_at`` (counted across every
  instance, so relaunched games keep counting) raises ``EngineError`` as a crashed game would,
  with an exit status and an output tail.
* ``Shifted-v0``: Coin with observations 100 +- 50: a policy trained on normalised observations
  acts differently on raw ones.
"""

from __future__ import annotations

import textwrap

GAMES = textwrap.dedent(
    '''
    import os
    import time

    import gymnasium as gym
    import numpy as np
    from gymnasium import spaces

    from pytest_rlplaytest.engines.base import EngineError


    class Coin(gym.Env):
        def __init__(self, horizon=3, frame_ms=2.0, offset=0.0, scale=1.0):
            self.observation_space = spaces.Box(-1000.0, 1000.0, (1,), np.float32)
            self.action_space = spaces.Discrete(2)
            self.horizon, self.frame_ms, self.offset, self.scale = horizon, frame_ms, offset, scale
            self.side = self.t = 0
            self.slow_file = os.environ.get("RLPT_SLOW_FILE")

        def _obs(self):
            return np.array([self.offset + self.scale * (1.0 if self.side else -1.0)], dtype=np.float32)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.side = int(self.np_random.integers(0, 2))
            self.t = 0
            return self._obs(), {}

        def reward(self, right):
            return 1.0 if right else 0.0

        def step(self, action):
            if self.slow_file and os.path.exists(self.slow_file):
                time.sleep(0.02)
            self.t += 1
            right = int(action) == self.side
            self.side = int(self.np_random.integers(0, 2))
            done = self.t >= self.horizon
            info = {"frame_ms": float(self.frame_ms)}
            if done:
                info["is_success"] = True
            return self._obs(), self.reward(right), done, False, info


    class Fading(Coin):
        episodes = 0

        def reset(self, *, seed=None, options=None):
            Fading.episodes += 1
            return super().reset(seed=seed, options=options)

        def reward(self, right):
            return 1.0 - 0.002 * Fading.episodes


    class Crashy(Coin):
        steps = 0

        def __init__(self, crash_at=(), **kwargs):
            super().__init__(**kwargs)
            self.crash_at = set(crash_at)

        def step(self, action):
            Crashy.steps += 1
            if Crashy.steps in self.crash_at:
                raise EngineError(f"Crashy: the game stopped answering at step {Crashy.steps} (killed by SIGKILL)."
                                  f"\\nlast 2 lines of the game's output:\\n    physics tick {Crashy.steps}"
                                  "\\n    Segmentation fault")
            return super().step(action)


    gym.register("Coin-v1", entry_point=Coin)
    gym.register("Fading-v0", entry_point=Fading)
    gym.register("Crashy-v0", entry_point=Crashy)
    gym.register("Shifted-v0", entry_point=Coin, kwargs={"offset": 100.0, "scale": 50.0})
    '''
)

#: PPO small enough to train a few thousand Coin steps in seconds
FAST_PPO = "dict(n_steps=128, n_epochs=2, batch_size=64, learning_rate=3e-3)"
