"""What every verdict returns (:class:`Verdict`) and the one place a verdict is concluded.

:func:`conclude` turns a verdict into the test's outcome: a failure raises
:class:`~.errors.VerdictFailure`; an inconclusive verdict fails, skips or passes with an
:class:`~.errors.InconclusiveWarning` according to ``inconclusive=`` or, when that is not given,
``--rl-inconclusive`` (default ``fail``). Every assertion, and the ``rl_playtest(at_least=...)`` call,
ends here, so no check can pass without deciding.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any

from . import config as _config
from .errors import InconclusiveWarning, VerdictFailure, VerdictUsageError
from .table import INCONCLUSIVE, Row, render_table

__all__ = ["FAILED", "INCONCLUSIVE", "PASS", "UPDATED", "Verdict", "conclude", "current_nodeid", "record_verdicts",
           "take_verdicts"]

PASS = "pass"
FAILED = "fail"
UPDATED = "updated"


@dataclass
class Verdict:
    """The outcome of one assertion.

    Attributes:
        outcome: ``pass``, ``fail``, ``inconclusive`` or ``updated`` (a baseline was written).
        title: one line saying what was judged and how it came out.
        rows: the table rows.
        notes: further lines (statistics used, power, how to decide or update).
        details: the numbers behind the verdict (p-values, bounds, counts) for programmatic use.
    """

    outcome: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True for ``pass`` and ``updated``."""
        return self.outcome in (PASS, UPDATED)

    @property
    def message(self) -> str:
        """Title, table and notes as one text."""
        parts = [self.title]
        if self.rows:
            parts.append(render_table(self.rows))
        parts.extend(self.notes)
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.message


def inconclusive_policy(inconclusive: str | None) -> str:
    """``inconclusive`` when given, else ``--rl-inconclusive``; validated."""
    policy = inconclusive or _config.current().inconclusive
    if policy not in _config.INCONCLUSIVE_CHOICES:
        raise VerdictUsageError(f"inconclusive must be one of {', '.join(_config.INCONCLUSIVE_CHOICES)}, "
                                f"got {policy!r}")
    return policy


#: the verdicts each running test concluded, by node id (None: not recording)
_RECORDED: dict[str, list[Verdict]] | None = None
#: how many sessions (an outer one and pytester's inner ones) asked for recording
_RECORDERS = [0]


def record_verdicts(on: bool) -> None:
    """Start (``on``) or stop keeping every concluded verdict for :func:`take_verdicts` (the HTML
    report's extras turn it on); recording stops when every session that started it has stopped."""
    global _RECORDED
    _RECORDERS[0] = max(0, _RECORDERS[0] + (1 if on else -1))
    if _RECORDERS[0] == 0:
        _RECORDED = None
    elif _RECORDED is None:
        _RECORDED = {}


def take_verdicts(nodeid: str) -> list[Verdict]:
    """The verdicts test ``nodeid`` concluded so far, in order (forgotten afterwards)."""
    return [] if _RECORDED is None else _RECORDED.pop(nodeid, [])


def conclude(verdict: Verdict, inconclusive: str | None = None) -> Verdict:
    """Raise for a failure; apply the inconclusive policy; return the verdict otherwise."""
    __tracebackhide__ = True
    nodeid = current_nodeid()
    if _RECORDED is not None and nodeid is not None:
        _RECORDED.setdefault(nodeid, []).append(verdict)
    if verdict.outcome == FAILED:
        raise VerdictFailure(verdict.message)
    if verdict.outcome == INCONCLUSIVE:
        policy = inconclusive_policy(inconclusive)
        note = (f"(an inconclusive verdict {policy}s under inconclusive={policy!r}; set it per assertion or "
                "for the run with --rl-inconclusive=fail|skip|pass)")
        if policy == "fail":
            raise VerdictFailure(verdict.message + "\n" + note)
        if policy == "skip":
            import pytest

            pytest.skip(verdict.message + "\n" + note)
        warnings.warn(InconclusiveWarning(verdict.message), stacklevel=3)
    return verdict


def current_nodeid() -> str | None:
    """The running test's node id, from ``PYTEST_CURRENT_TEST``."""
    current = os.environ.get("PYTEST_CURRENT_TEST")
    if not current:
        return None
    return current.rsplit(" ", 1)[0] if current.endswith(")") else current
