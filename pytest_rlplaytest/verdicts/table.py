"""The compact verdict table shown in failure messages.

Columns: ``metric | baseline | observed | interval | allowed | verdict``, rendered by the package's
one table renderer (:func:`pytest_rlplaytest.common.table.render_text_table`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..common.table import fmt_number, render_text_table

__all__ = ["COLUMNS", "FAIL", "INCONCLUSIVE", "NOT_JUDGED", "OK", "Row", "fmt_interval", "render_table"]

COLUMNS = ("metric", "baseline", "observed", "interval", "allowed", "verdict")

#: row verdicts
OK = "ok"
FAIL = "FAIL"
INCONCLUSIVE = "inconclusive"
NOT_JUDGED = "not judged"


@dataclass(frozen=True)
class Row:
    """One line of a verdict table; every cell is already formatted text."""

    metric: str
    baseline: str = "-"
    observed: str = "-"
    interval: str = "-"
    allowed: str = "-"
    verdict: str = OK

    @property
    def failed(self) -> bool:
        """True for a failing row."""
        return self.verdict == FAIL

    def cells(self) -> tuple[str, ...]:
        """The cells in column order."""
        return (self.metric, self.baseline, self.observed, self.interval, self.allowed, self.verdict)


def render_table(rows: Sequence[Row], indent: str = "  ") -> str:
    """Render rows as an aligned text table with a header line."""
    return "\n".join(render_text_table(COLUMNS, [r.cells() for r in rows], sep=" | ", rule_sep="-+-",
                                       indent=indent))


def fmt_interval(low: float | None, high: float | None, label: str = "") -> str:
    """Format an interval as ``[low, high] label``; ``-`` when unknown."""
    if low is None or high is None or low != low or high != high:
        return "-"
    text = f"[{fmt_number(low)}, {fmt_number(high)}]"
    return f"{text} {label}" if label else text
