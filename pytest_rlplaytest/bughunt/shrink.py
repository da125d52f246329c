"""Shrinking a bug's action sequence: truncation after the signature, then delta debugging.

``ddmin`` (Zeller & Hildebrandt, 2002) removes chunks of the sequence while the bug still recurs:
it tries every chunk alone and every complement at the current granularity, keeps the first that
reproduces, and refines the granularity until no single action can be removed (1-minimal). The
candidates of one round are replayed in parallel game instances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .replay import Replayer


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
        return len(self.actions) / max(self.original_length, 1)


def _split(seq: Sequence[Any], n: int) -> list[list[Any]]:
    size, extra = divmod(len(seq), n)
    chunks, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        chunks.append(list(seq[start:end]))
        start = end
    return [c for c in chunks if c]


def shrink(replayer: Replayer, seed: int, actions: Sequence[Any], max_replays: int = 2000) -> ShrinkResult:
    """Shrink ``actions`` (which must reproduce from ``seed``) to a 1-minimal reproducing sequence.

    Raises:
        ValueError: the original sequence does not reproduce (the game is not deterministic, or the
            bundle belongs to another build).
    """
    first = replayer.run(seed, [list(actions)])[0]
    if first is None or not first.reproduced or first.hit_step is None:
        raise ValueError("the recorded actions do not reproduce the bug from their seed; the game is not "
                         "deterministic under lockstep, or the bundle was recorded on another build")
    original = len(actions)
    current, hit = list(actions[: first.hit_step]), first.hit_step
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
    return ShrinkResult(current, hit, original, replayer.replays, rounds)
