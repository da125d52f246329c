"""Exceptions raised by verdicts.

Failures of the game under test are :class:`AssertionError` subclasses (pytest reports them as
test failures); mistakes in how a verdict was asked for are :class:`ValueError` subclasses.
"""

from __future__ import annotations


class VerdictFailure(AssertionError):
    """The game did not meet the stated criterion (or the verdict was inconclusive under
    ``--rl-inconclusive=fail``)."""


class BaselineMissing(VerdictFailure):
    """No stored baseline for this test; the message names the path and the flag that writes it."""


class BaselineError(RuntimeError):
    """A stored baseline cannot be used (malformed JSON, unknown or older schema)."""


class ToleranceError(ValueError):
    """A tolerance expression is malformed; the message names the expression."""


class MissingMetricError(ValueError):
    """The playtest reported nothing for a metric a verdict needs (e.g. no ``frame_ms``)."""
