"""Sequential evaluation: stop a playtest as soon as Wald's SPRT decides.

Usage with :func:`pytest_rlplaytest.playtest.run_playtest`::

    stop = sequential_stopper(0.8, alpha=0.05, beta=0.2, delta=0.1)
    result = run_playtest(agent, venv, episodes=200, stop=stop)   # 200 is the cap
    assert_success_rate(result, at_least=0.8)                    # judged by the SPRT's decision

In a scenario test, ``rl_playtest(sequential=True, at_least=0.8)`` does both: it stops on the SPRT and
decides with :func:`~.success.decide_success_rate` (a "worse" decision fails the test).

The SPRT tests ``H0: rate = p`` against ``H1: rate = p + delta`` (see :class:`.stats.SPRT`):
``P(pass) <= ~alpha`` when the true rate is at most ``p`` and ``P(fail) <= ~beta`` when it is at
least ``p + delta``. With a true rate of 0.9 against a threshold of 0.8 (alpha 0.05, power 0.8) it
needs about 57 episodes on average, against 82 for the fixed-size exact test of the same power.

Episodes are consumed in the order they finish. With several envs in parallel, short episodes
finish first; when success correlates with episode length the early decision can be biased, so
evaluate sequential tests with one env (or episodes of similar length).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import VerdictUsageError
from .stats import SPRT

__all__ = ["SequentialOutcome", "SequentialStopper", "sequential_outcome", "sequential_stopper"]

RESULT_ATTRIBUTE = "sequential_test"


@dataclass(frozen=True)
class SequentialOutcome:
    """What a sequential run decided.

    Attributes:
        threshold: ``p`` (``H0: rate = p``).
        alternative: ``p + delta`` (``H1``).
        alpha, beta: the SPRT's nominal error rates.
        decision: ``accept_h1`` (pass), ``accept_h0`` (fail) or ``continue`` (undecided at the cap).
        episodes_used: judged episodes the SPRT consumed (the run may hold a few more that finished
            in the same step).
        successes: successes among them.
        llr: the final log-likelihood ratio; ``log_a``/``log_b`` are Wald's bounds.
        cap: the stopper's own episode cap (None: the run's ``episodes`` was the cap).
    """

    threshold: float
    alternative: float
    alpha: float
    beta: float
    decision: str
    episodes_used: int
    successes: int
    llr: float
    log_a: float
    log_b: float
    cap: int | None


class SequentialStopper:
    """A ``stop(episodes) -> bool`` callable for ``run_playtest`` that runs an SPRT.

    Only episodes with a success verdict are counted. ``True`` is returned once the SPRT decides or
    ``cap`` judged episodes have been seen.
    """

    def __init__(self, threshold: float, alpha: float = 0.05, beta: float = 0.2, delta: float = 0.1,
                 cap: int | None = None) -> None:
        """Set up ``H0: rate = threshold`` against ``H1: rate = threshold + delta``."""
        if cap is not None and cap < 1:
            raise VerdictUsageError(f"cap must be >= 1, got {cap}")
        self.sprt = SPRT.for_threshold(threshold, delta, alpha, beta)
        self.threshold = threshold
        self.delta = delta
        self.cap = cap
        self._consumed = 0
        self._judged = 0

    def __call__(self, episodes: Sequence[Any]) -> bool:
        """Feed the episodes finished so far (the whole list each time); True means stop."""
        new = episodes[self._consumed:]
        self._consumed = len(episodes)
        for episode in new:
            if self.sprt.decided or (self.cap is not None and self._judged >= self.cap):
                break
            success = getattr(episode, "success", None)
            if success is None:
                continue
            self._judged += 1
            self.sprt.update(bool(success))
        return self.sprt.decided or (self.cap is not None and self._judged >= self.cap)

    @property
    def decision(self) -> str:
        """``accept_h1``, ``accept_h0`` or ``continue``."""
        return self.sprt.decision

    def outcome(self) -> SequentialOutcome:
        """The current decision as a :class:`SequentialOutcome`."""
        s = self.sprt
        return SequentialOutcome(threshold=s.p0, alternative=s.p1, alpha=s.alpha, beta=s.beta,
                                 decision=s.decision, episodes_used=s.n, successes=s.successes,
                                 llr=s.llr, log_a=s.log_a, log_b=s.log_b, cap=self.cap)

    def attach(self, result: Any) -> SequentialOutcome:
        """Store the outcome on ``result`` (as ``result.sequential_test``) and return it;
        ``run_playtest`` calls this for the ``stop`` it was given."""
        outcome = self.outcome()
        setattr(result, RESULT_ATTRIBUTE, outcome)
        return outcome

    def __repr__(self) -> str:
        return f"SequentialStopper({self.sprt!r}, cap={self.cap})"


def sequential_stopper(p: float, alpha: float = 0.05, beta: float = 0.2, delta: float = 0.1,
                       cap: int | None = None) -> SequentialStopper:
    """A stop callable for ``run_playtest(..., stop=...)`` running Wald's SPRT of
    ``H0: rate = p`` vs ``H1: rate = p + delta``, with error rates ``alpha`` (false pass) and
    ``beta`` (false fail at ``p + delta``; power ``1 - beta``). ``cap`` bounds the judged episodes
    (default: the run's ``episodes``)."""
    return SequentialStopper(p, alpha=alpha, beta=beta, delta=delta, cap=cap)


def sequential_outcome(result: Any) -> SequentialOutcome | None:
    """The sequential decision behind ``result`` (``result.sequential_test``), if it came from a
    sequential run."""
    found = getattr(result, RESULT_ATTRIBUTE, None)
    return found if isinstance(found, SequentialOutcome) else None
