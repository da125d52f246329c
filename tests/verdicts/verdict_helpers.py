"""Build PlaytestResults without playing a game (imported by the verdicts tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_rlplaytest.playtest import Episode, PlaytestResult


def build_result(
    outcomes: Sequence[bool | None],
    returns: Sequence[float] | None = None,
    frame_ms: Sequence[Sequence[float]] | None = None,
    extra_metrics: dict[str, Sequence[Sequence[float]]] | None = None,
    scenario: dict[str, Any] | None = None,
    engine: dict[str, Any] | None = None,
) -> PlaytestResult:
    """A PlaytestResult with one episode per outcome (True/False/None = no verdict)."""
    episodes = []
    for i, success in enumerate(outcomes):
        metrics: dict[str, list[float]] = {}
        if frame_ms is not None:
            metrics["frame_ms"] = [float(v) for v in frame_ms[i]]
        for name, per_episode in (extra_metrics or {}).items():
            metrics[name] = [float(v) for v in per_episode[i]]
        length = max((len(v) for v in metrics.values()), default=10)
        episodes.append(Episode(
            index=i, env_index=0, seed=i, total_return=float(returns[i]) if returns is not None else 1.0,
            length=length, outcome="terminated", final_info={}, metrics=metrics, success=success,
        ))
    return PlaytestResult(episodes=episodes, scenario=dict(scenario or {}), engine=dict(engine or {}))


def counts_result(successes: int, n: int, **kwargs: Any) -> PlaytestResult:
    """A result with ``successes`` successes out of ``n`` judged episodes."""
    return build_result([True] * successes + [False] * (n - successes), **kwargs)
