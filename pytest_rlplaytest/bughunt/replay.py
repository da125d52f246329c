"""Deterministic lockstep replay of action sequences, several candidates in parallel.

A :class:`Replayer` owns a ``VecEnv`` of ``k`` independent single-agent envs (for Godot: ``k`` game
instances, which run in parallel processes). Each candidate action sequence is played from a reset
with the episode's seed; the outcome says whether, and at which step, the signature recurred.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..telemetry import EPISODE_SEED_KEY, info_events
from .signature import BugSignature

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv


@dataclass
class ReplayOutcome:
    """What one replay did.

    Attributes:
        reproduced: the signature recurred within the sequence.
        hit_step: 1-based step of the first hit (None if none).
        steps: steps played (stops at the hit, the episode's end, or the sequence's end).
        events: ``[step, name]`` pairs observed.
        ended_early: the game ended the episode before the actions ran out, without a hit.
    """

    reproduced: bool
    hit_step: int | None
    steps: int
    events: list[list[Any]] = field(default_factory=list)
    ended_early: bool = False


def seed_each(venv: VecEnv, seeds: Sequence[int]) -> None:
    """Make the next ``reset()`` start env ``i``'s episode with seed ``seeds[i]``.

    SB3's ``VecEnv.seed(s)`` would give env ``i`` the seed ``s + i``; replays need the same seed in
    every env. The seeds travel through SB3's public per-env reset options
    (``VecEnv.set_options([...])``, consumed by the next ``reset()``) as
    ``{"rl_episode_seed": S}`` (:data:`~pytest_rlplaytest.telemetry.EPISODE_SEED_KEY`), which the
    engines' replay envs honour as the episode's seed (the contract of
    ``Engine.make_replay_vec_env``).
    """
    if len(seeds) != venv.num_envs:
        raise ValueError(f"seed_each needs one seed per env: {len(seeds)} seeds for {venv.num_envs} envs")
    venv.set_options([{EPISODE_SEED_KEY: int(s)} for s in seeds])


def to_action(space: Any, value: Any) -> np.ndarray:
    """A recorded (JSON) action as an array of the action space's dtype and shape."""
    dtype = getattr(space, "dtype", None) or np.float32
    shape = getattr(space, "shape", None) or ()
    return np.asarray(value, dtype=dtype).reshape(shape)


class Replayer:
    """Replays candidate action sequences from one seed, ``venv.num_envs`` at a time.

    Args:
        venv: independent single-agent envs (a fresh episode starts at each ``reset``).
        signature: the bug's signature.
        log_lines: optional ``callable(env_index) -> new log lines`` for log signatures.
    """

    def __init__(self, venv: VecEnv, signature: BugSignature,
                 log_lines: Callable[[int], Sequence[str]] | None = None) -> None:
        self.venv = venv
        self.signature = signature
        self.log_lines = log_lines
        self.replays = 0

    def run(self, seed: int, candidates: Sequence[Sequence[Any]],
            stop_at_first: bool = False) -> list[ReplayOutcome | None]:
        """Outcomes of every candidate, in order (``None`` for candidates not run because an
        earlier batch already reproduced and ``stop_at_first`` is set)."""
        k = self.venv.num_envs
        outcomes: list[ReplayOutcome | None] = [None] * len(candidates)
        for start in range(0, len(candidates), k):
            batch = list(candidates[start:start + k])
            for offset, outcome in enumerate(self._run_batch(seed, batch)):
                outcomes[start + offset] = outcome
            if stop_at_first and any(o is not None and o.reproduced for o in outcomes):
                break
        return outcomes

    def _run_batch(self, seed: int, batch: list[Sequence[Any]]) -> list[ReplayOutcome]:
        venv, space = self.venv, self.venv.action_space
        k = venv.num_envs
        seed_each(venv, [seed] * k)
        venv.reset()
        if self.log_lines is not None:
            for i in range(k):
                self.log_lines(i)  # drop what was printed before this replay
        active = [i < len(batch) and len(batch[i]) > 0 for i in range(k)]
        result = [ReplayOutcome(False, None, 0) for _ in range(k)]
        idle = to_action(space, space.sample()) * 0
        step = 0
        while any(active):
            actions = np.stack([to_action(space, batch[i][step]) if active[i] else idle for i in range(k)])
            _, _, dones, infos = venv.step(actions)
            step += 1
            for i in range(k):
                if not active[i]:
                    continue
                out, info = result[i], infos[i]
                out.steps = step
                out.events.extend([step, name] for name in info_events(info))
                lines = self.log_lines(i) if self.log_lines is not None else ()
                if self.signature.hit(info, lines):
                    out.reproduced, out.hit_step, active[i] = True, step, False
                elif dones[i]:
                    out.ended_early, active[i] = step < len(batch[i]), False
                elif step >= len(batch[i]):
                    active[i] = False
        self.replays += len(batch)
        return result[: len(batch)]
