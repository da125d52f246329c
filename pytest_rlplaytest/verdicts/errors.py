"""Exceptions and warnings raised by verdicts.

Failures of the game under test are :class:`AssertionError` subclasses (pytest reports them as
test failures); mistakes in how a verdict was asked for are :class:`ValueError` subclasses. All of
them derive from :class:`~pytest_rlplaytest.errors.RLPlaytestError`; the warnings derive from
:class:`~pytest_rlplaytest.errors.RLPlaytestWarning`.
"""

from __future__ import annotations

from ..errors import RLPlaytestError, RLPlaytestWarning

__all__ = [
    "BaselineError",
    "BaselineMissing",
    "BaselineWarning",
    "InconclusiveWarning",
    "MissingMetricError",
    "ToleranceError",
    "VerdictFailure",
    "VerdictUsageError",
]


class VerdictFailure(RLPlaytestError, AssertionError):
    """The game did not meet the stated criterion (or the verdict was inconclusive under
    ``--rl-inconclusive=fail``)."""


class BaselineMissing(VerdictFailure):
    """No stored baseline for this test; the message names the path and the flag that writes it."""


class BaselineError(RLPlaytestError, RuntimeError):
    """A stored baseline cannot be used (malformed JSON, unknown or older schema)."""


class VerdictUsageError(RLPlaytestError, ValueError):
    """A verdict was asked for with arguments it cannot use (a threshold of 1, alpha outside (0, 0.5),
    a sequential result judged against another threshold...); the message names the fix."""


class ToleranceError(VerdictUsageError):
    """A tolerance expression is malformed; the message names the expression."""


class MissingMetricError(VerdictUsageError):
    """The playtest reported nothing for a metric a verdict needs (no success verdicts, no
    ``frame_ms``, a tolerance naming a metric the game does not report)."""


class InconclusiveWarning(RLPlaytestWarning):
    """An inconclusive verdict was let pass (``--rl-inconclusive=pass``)."""


class BaselineWarning(RLPlaytestWarning):
    """Part of a baseline comparison could not be made (e.g. no frame times for this machine)."""
