"""Validation shared by every engine: observations against their declared space, finite numbers.

A game that sends an observation of the wrong shape, or NaN, must fail its test with an error that
says which step, which key and what was expected, not poison training silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .base import EngineError


class ObservationError(EngineError):
    """An observation does not match its declared space, or holds NaN/inf.

    ``kind`` says which: ``"not_finite"`` (NaN/inf) or ``"out_of_space"`` (shape, keys, bounds);
    ``observation`` is the offending observation (or the part of it that offends).
    """

    def __init__(self, message: str, kind: str = "out_of_space", observation: Any = None) -> None:
        super().__init__(message)
        self.kind, self.observation = kind, observation


class RewardError(EngineError):
    """A reward is not a finite number."""


def check_observation(space: Any, obs: Any, where: str) -> None:
    """Raise :class:`ObservationError` unless ``obs`` fits ``space`` and is finite.

    Args:
        space: a ``gymnasium.spaces.Space``.
        obs: the observation.
        where: e.g. ``"step 12 of CartPole-v1"``, for the message.
    """
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        if not isinstance(obs, Mapping):
            raise ObservationError(f"{where}: observation should be a dict with keys {sorted(space.spaces)}, "
                                   f"got {type(obs).__name__}")
        missing = sorted(set(space.spaces) - set(obs))
        extra = sorted(set(obs) - set(space.spaces))
        if missing or extra:
            raise ObservationError(f"{where}: observation keys differ from the declared space: "
                                   f"missing {missing}, unexpected {extra}")
        for key, sub in space.spaces.items():
            check_observation(sub, obs[key], f"{where}, key {key!r}")
        return
    if isinstance(space, spaces.Box):
        arr = np.asarray(obs)
        if arr.shape != space.shape:
            raise ObservationError(f"{where}: observation shape {arr.shape} does not match the declared "
                                   f"space's shape {space.shape}", observation=arr)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            bad = np.argwhere(~np.isfinite(arr))[0].tolist()
            raise ObservationError(f"{where}: observation holds {arr[tuple(bad)]} at index {bad}; "
                                   "the game must send finite numbers", kind="not_finite", observation=arr)
        return
    if not space.contains(obs):
        raise ObservationError(f"{where}: observation {obs!r} is not in the declared space {space}", observation=obs)


def check_reward(reward: Any, where: str) -> float:
    """Return ``reward`` as float, raising :class:`RewardError` for NaN/inf or non-numbers."""
    try:
        value = float(reward)
    except (TypeError, ValueError):
        raise RewardError(f"{where}: reward {reward!r} is not a number") from None
    if not math.isfinite(value):
        raise RewardError(f"{where}: reward is {value}; the game must send finite numbers")
    return value
