"""Leak checks: a per-episode count (objects, bodies, memory) must not grow across episodes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..common.table import fmt_number
from .errors import VerdictUsageError
from .table import FAIL, OK, Row
from .verdict import FAILED, PASS, Verdict, conclude

__all__ = ["assert_no_growth"]


def assert_no_growth(values: Sequence[float], *, alpha: float = 0.05, what: str = "object_count") -> Verdict:
    """Assert that ``values`` (one per episode, in episode order; e.g. the object count right after
    each reset) show no upward trend: a one-sided test of the least-squares slope against episode
    index (``scipy.stats.linregress``, ``alternative="greater"``, H0: slope <= 0).

    A series with no variation has slope 0 and passes (nothing grows). A growing series fails when
    the test rejects H0 at ``alpha``; a slope that is positive but not significant passes, with the
    slope and p-value in the verdict (more episodes give the test more power).

    Args:
        values: at least 3 per-episode measurements.
        alpha: the test's level.
        what: the measurement's name, for the verdict table.

    Raises:
        VerdictFailure: the count grows across episodes (p-value <= alpha).
        VerdictUsageError: fewer than 3 values, a non-finite value or alpha outside (0, 1).
    """
    __tracebackhide__ = True
    y = np.asarray(values, dtype=float).ravel()
    if y.size < 3 or not np.all(np.isfinite(y)):
        raise VerdictUsageError(f"assert_no_growth needs at least 3 finite per-episode values of {what}; got "
                                f"{y.tolist()}: play more episodes")
    if not 0.0 < alpha < 1.0:
        raise VerdictUsageError(f"assert_no_growth: alpha must be in (0, 1), got {alpha}")
    x = np.arange(y.size, dtype=float)
    if np.ptp(y) == 0:
        slope, p_value = 0.0, 1.0
    else:
        from scipy import stats  # on first use: loading the plugin stays fast

        fit = stats.linregress(x, y, alternative="greater")
        slope, p_value = float(fit.slope), float(fit.pvalue)
    failed = p_value <= alpha
    row = Row(metric=f"{what} slope per episode", observed=fmt_number(slope),
              interval=f"p={p_value:.4g} (H0: slope <= 0)", allowed=f"not > 0 at alpha={alpha:g}",
              verdict=FAIL if failed else OK)
    title = (f"{what} {'grows' if failed else 'does not grow'} across {y.size} episodes "
             f"(first {fmt_number(float(y[0]))}, last {fmt_number(float(y[-1]))})")
    verdict = Verdict(outcome=FAILED if failed else PASS, title=title, rows=[row],
                      notes=["one-sided least-squares slope test (scipy.stats.linregress, alternative='greater')"],
                      details={"slope": slope, "p_value": p_value, "n": int(y.size)})
    return conclude(verdict)
