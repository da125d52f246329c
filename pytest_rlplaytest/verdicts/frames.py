"""Frame budgets: per-step ``frame_ms`` percentiles and FPS against fixed limits."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..common.table import fmt_number
from .errors import MissingMetricError, VerdictUsageError
from .table import FAIL, OK, Row
from .tolerances import metric_value
from .verdict import FAILED, PASS, Verdict, conclude

if TYPE_CHECKING:
    from ..playtest import PlaytestResult

__all__ = ["assert_frame_budget", "unreported_metric_message"]


def unreported_metric_message(result: PlaytestResult, key: str) -> str:
    """Why ``key`` cannot be judged: the game reported no numeric ``info[key]`` in any step."""
    reported = ", ".join(result.metric_names) or "none"
    return (f"the game does not report {key!r}: no step of the {result.n_episodes} episodes has a numeric "
            f"info[{key!r}] (numeric info keys reported: {reported}); have the game put it in every step's "
            "info (see pytest_rlplaytest.telemetry)")


def assert_frame_budget(result: PlaytestResult, p99_ms: float | None = None, *, fps_at_least: float | None = None,
                        p50_ms: float | None = None, p95_ms: float | None = None, mean_ms: float | None = None,
                        max_ms: float | None = None, key: str = "frame_ms") -> Verdict:
    """Assert per-step frame times are within budget.

    Judged on every per-step ``frame_ms`` value of every episode (``result.step_values``): the
    percentiles are plain sample percentiles (numpy's linear interpolation) and the FPS is
    ``1000 / mean(frame_ms)`` (frames per second of game work). These are point estimates
    against fixed budgets, not statistical tests: frame times are strongly autocorrelated.

    Args:
        result: the playtest.
        p99_ms, p50_ms, p95_ms, mean_ms, max_ms: upper budgets in milliseconds.
        fps_at_least: lower budget on ``1000 / mean(frame_ms)``.
        key: the per-step metric (default ``frame_ms``, see :mod:`pytest_rlplaytest.telemetry`).

    Raises:
        VerdictFailure: a budget is exceeded.
        MissingMetricError: the game reported no ``frame_ms``.
    """
    __tracebackhide__ = True
    given = {"p50": p50_ms, "p95": p95_ms, "p99": p99_ms, "mean": mean_ms, "max": max_ms}
    budgets: dict[str, float] = {k: float(v) for k, v in given.items() if v is not None}
    if not budgets and fps_at_least is None:
        raise VerdictUsageError("assert_frame_budget needs a budget: p99_ms=, p95_ms=, p50_ms=, mean_ms=, max_ms= "
                                "or fps_at_least=")
    values = result.step_values(key)
    if values.size == 0:
        raise MissingMetricError(unreported_metric_message(result, key)
                                 + "; engines must report the frame's work time in milliseconds")
    rows = []
    for stat, budget in budgets.items():
        observed = metric_value(values, "median" if stat == "p50" else stat)
        rows.append(Row(metric=f"{key}.{stat}", observed=f"{fmt_number(observed)} ms", allowed=f"<= {budget:g} ms",
                        verdict=OK if observed <= budget else FAIL))
    if fps_at_least is not None:
        mean = float(values.mean())
        fps = 1000.0 / mean if mean > 0 else math.inf
        rows.append(Row(metric=f"fps (1000/mean {key})", observed=fmt_number(fps), allowed=f">= {fps_at_least:g}",
                        verdict=OK if fps >= fps_at_least else FAIL))
    failed = any(r.failed for r in rows)
    title = (f"frame budget {'exceeded' if failed else 'met'}: {values.size} frames over "
             f"{result.n_episodes} episodes")
    verdict = Verdict(outcome=FAILED if failed else PASS, title=title, rows=rows,
                      notes=[f"per-step {key} percentiles are sample percentiles over all steps (point estimates)"],
                      details={"frames": int(values.size)})
    return conclude(verdict)
