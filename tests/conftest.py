"""Shared helpers for the plugin's own tests.

``tiny_game`` writes a conftest with a two-action Gymnasium game into a pytester folder, so plugin
behaviour can be exercised end to end in seconds.
"""

from __future__ import annotations

import os
import sys
import textwrap

import pytest
from _pytest import pytester as _pytester

# pytester's in-process runs restore sys.modules after each run, dropping every module first
# imported during it. torch (and its lazily imported submodules) cannot be imported twice in one
# process, and a dropped stdlib submodule (multiprocessing.connection) breaks its parent. So only
# the runs' own modules are dropped: conftest, test_* and anything imported from a pytester folder
# (a run's helper package must not shadow a same-named module of a later run); libraries are kept.
_RUN_ROOTS: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _pytester_runs_root(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Remember the base temp folder, under which every pytester run's folder lives."""
    _RUN_ROOTS.append(str(tmp_path_factory.getbasetemp()))


def _is_test_module(name: str) -> bool:
    root = name.split(".", 1)[0]
    if root == "conftest" or root.startswith("test_"):
        return True
    file = getattr(sys.modules.get(name), "__file__", None) or ""
    return any(file.startswith(run_root + os.sep) for run_root in _RUN_ROOTS)


_original_snapshot_init = _pytester.SysModulesSnapshot.__init__


def _snapshot_init(self: object, preserve: object = None) -> None:
    def keep(name: str) -> bool:
        return not _is_test_module(name) or bool(preserve and preserve(name))  # type: ignore[operator]

    _original_snapshot_init(self, preserve=keep)  # type: ignore[arg-type]


_pytester.SysModulesSnapshot.__init__ = _snapshot_init  # type: ignore[method-assign]

TINY_GAME = textwrap.dedent(
    '''
    import gymnasium as gym
    import numpy as np
    from gymnasium import spaces

    CLOSED = []

    class Coin(gym.Env):
        """Pick the side the observation points to; 3 picks per episode."""

        def __init__(self, horizon=3):
            self.observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
            self.action_space = spaces.Discrete(2)
            self.horizon = horizon
            self.side = 0
            self.t = 0

        def _obs(self):
            return np.array([1.0 if self.side else -1.0], dtype=np.float32)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.side = int(self.np_random.integers(0, 2))
            self.t = 0
            return self._obs(), {}

        def step(self, action):
            self.t += 1
            right = int(action) == self.side
            self.side = int(self.np_random.integers(0, 2))
            done = self.t >= self.horizon
            info = {"frame_ms": 1.0 + self.t, "hits": float(right)}
            if done:
                info["is_success"] = True
            return self._obs(), 1.0 if right else 0.0, done, False, info

        def close(self):
            CLOSED.append(self)

    gym.register("Coin-v0", entry_point=Coin)
    '''
)


@pytest.fixture
def tiny_game(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder whose conftest registers ``Coin-v0`` (and records closed envs)."""
    pytester.makeconftest(TINY_GAME)
    return pytester


@pytest.fixture(autouse=True)
def _no_outer_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytester runs must not append their job summaries to the GitHub step summary of the
    run testing the plugin (the outer run still writes its own: the variable is back by then)."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
