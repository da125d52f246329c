"""The compact verdict table shown in failure messages.

Columns: ``metric | baseline | observed | interval | allowed | verdict``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
    grid = [COLUMNS, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in grid) for i in range(len(COLUMNS))]
    lines = []
    for n, line in enumerate(grid):
        lines.append(indent + " | ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
        if n == 0:
            lines.append(indent + "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt(value: float | None, digits: int = 4) -> str:
    """Format a number compactly (``-`` for None, ``nan`` for NaN)."""
    if value is None:
        return "-"
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


def fmt_interval(low: float | None, high: float | None, label: str = "") -> str:
    """Format an interval as ``[low, high] label``; ``-`` when unknown."""
    if low is None or high is None or low != low or high != high:
        return "-"
    text = f"[{fmt(low)}, {fmt(high)}]"
    return f"{text} {label}" if label else text
