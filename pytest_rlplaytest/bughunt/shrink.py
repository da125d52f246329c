"""Shrinking a bug's action sequence: truncation after the signature, a "stop and wait" pass, then
delta debugging.

``ddmin`` (Zeller & Hildebrandt, 2002) removes chunks of the sequence while the bug still recurs:
it tries every chunk alone and every complement at the current granularity, keeps the first that
reproduces, and refines the granularity until no single action can be removed (1-minimal). The
candidates of one round are replayed in parallel game instances.

For continuous (``Box``) actions that contain the neutral input (all zeros: sticks centred), a
"stop and wait" pass runs before and after ``ddmin``: it replaces the tail of the sequence from a cut
point on with neutral actions and keeps the earliest cut that still reproduces. Many game bugs are
"get there, then the world lets you down" (a hole in the floor, a trigger that fires late): once
the agent is there, the exploring agent's remaining random inputs are what make the ending fragile
(a character jittering on the edge of a hole), and chunk deletion before such a chaotic ending
almost never reproduces. Waiting instead makes the ending robust and usually earlier, so truncation
after the hit shortens the sequence, and ``ddmin`` then works on a sequence whose end tolerates
small shifts. Discrete action spaces skip the pass (no action is known to be neutral).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import RLPlaytestError
from .replay import Replayer


class NotReproducedError(RLPlaytestError, ValueError):
    """The recorded actions do not reproduce the bug from their seed, so they cannot be shrunk."""


@dataclass
class ShrinkResult:
    """The shrunk sequence and how it was found."""

    actions: list[Any]
    hit_step: int
    original_length: int
    replays: int
    rounds: int

    @property
    def ratio(self) -> float:
        """The shrunk length as a fraction of the original."""
        return len(self.actions) / max(self.original_length, 1)


def _split(seq: Sequence[Any], n: int) -> list[list[Any]]:
    size, extra = divmod(len(seq), n)
    chunks, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        chunks.append(list(seq[start:end]))
        start = end
    return [c for c in chunks if c]


def neutral_action(space: Any, example: Any) -> Any | None:
    """The neutral input for ``space`` shaped like ``example`` (a recorded action): zeros, when the
    space is continuous and contains them; otherwise None (no action is known to be neutral)."""
    import numpy as np

    low, high = getattr(space, "low", None), getattr(space, "high", None)
    dtype = getattr(space, "dtype", None)
    if low is None or high is None or dtype is None or not np.issubdtype(dtype, np.floating):
        return None
    if not (np.all(np.asarray(low) <= 0) and np.all(np.asarray(high) >= 0)):
        return None
    return (np.zeros_like(np.asarray(example, dtype=float))).tolist()


def _wait_pass(replayer: Replayer, seed: int, current: list[Any], hit: int, neutral: Any,
               points: int = 24) -> tuple[list[Any], int]:
    """Replace the tail from a cut point on with ``neutral`` (keeping the length) and keep the cut
    whose replay hits earliest: first at ``points`` evenly spaced cuts, then at every cut around the
    best one. The earliest hit is also the most robust stop (well inside the bug's region, not on
    its edge), which matters for the deletions that follow."""
    n = len(current)
    if n < 2:
        return current, hit

    def candidate(cut: int) -> list[Any]:
        return current[:cut] + [neutral] * (n - cut)

    def best_of(cuts: list[int]) -> tuple[int, int] | None:
        outcomes = replayer.run(seed, [candidate(c) for c in cuts])
        found = [(o.hit_step, c) for c, o in zip(cuts, outcomes)
                 if o is not None and o.reproduced and o.hit_step is not None]
        return min(found) if found else None

    stride = max(1, n // points)
    coarse = best_of(list(range(0, n, stride)))
    if coarse is None:
        return current, hit
    around = [c for c in range(coarse[1] - stride + 1, coarse[1] + stride) if 0 <= c < n and c != coarse[1]]
    fine = best_of(around) if around else None
    best_hit, best_cut = min(coarse, fine) if fine is not None else coarse
    if best_hit > hit:
        return current, hit
    return candidate(best_cut)[:best_hit], best_hit


def shrink(replayer: Replayer, seed: int, actions: Sequence[Any], max_replays: int = 5000) -> ShrinkResult:
    """Shrink ``actions`` (which must reproduce from ``seed``) to a 1-minimal reproducing sequence.

    Raises:
        NotReproducedError: the original sequence does not reproduce (the game is not deterministic, or the
            bundle belongs to another build).
    """
    first = replayer.run(seed, [list(actions)])[0]
    if first is None or not first.reproduced or first.hit_step is None:
        raise NotReproducedError("the recorded actions do not reproduce the bug from their seed; the game is not "
                         "deterministic under lockstep, or the bundle was recorded on another build")
    original = len(actions)
    current, hit = list(actions[: first.hit_step]), first.hit_step
    neutral = neutral_action(replayer.venv.action_space, current[0])
    if neutral is not None:
        current, hit = _wait_pass(replayer, seed, current, hit, neutral)
    rounds = 0
    while True:
        current, hit, done = _ddmin(replayer, seed, current, hit, max_replays)
        rounds += done
        if neutral is None or replayer.replays >= max_replays:
            break
        shorter, shorter_hit = _wait_pass(replayer, seed, current, hit, neutral)
        if len(shorter) >= len(current):
            break
        current, hit = shorter, shorter_hit  # waiting shortened it: deletions may work again
    return ShrinkResult(current, hit, original, replayer.replays, rounds)


def _ddmin(replayer: Replayer, seed: int, current: list[Any], hit: int,
           max_replays: int) -> tuple[list[Any], int, int]:
    """ddmin until 1-minimal or out of replays: (sequence, hit step, rounds)."""
    n, rounds = 2, 0
    while len(current) >= 2 and replayer.replays < max_replays:
        rounds += 1
        chunks = _split(current, n)
        complements = [[a for j, c in enumerate(chunks) if j != i for a in c] for i in range(len(chunks))]
        candidates = chunks + (complements if len(chunks) > 2 else [])
        outcomes = replayer.run(seed, candidates, stop_at_first=True)
        winner = next((i for i, o in enumerate(outcomes) if o is not None and o.reproduced), None)
        if winner is not None:
            outcome = outcomes[winner]
            assert outcome is not None and outcome.hit_step is not None
            current, hit = candidates[winner][: outcome.hit_step], outcome.hit_step
            n = 2 if winner < len(chunks) else max(n - 1, 2)
        elif n >= len(current):
            break
        else:
            n = min(2 * n, len(current))
    return current, hit, rounds
