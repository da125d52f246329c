"""The end-of-run table (one row per scenario test), printed on the controller only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or value == "n/a":
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{as_float:.{digits}f}" if not float(as_float).is_integer() else str(int(as_float))


def summary_rows(rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Turn collected per-test property dicts into table rows."""
    table = []
    for row in rows:
        p = row["properties"]
        rate = p.get("rl_success_rate")
        ci = ""
        if rate not in (None, "n/a"):
            ci = f"{_fmt(rate, 2)} [{_fmt(p.get('rl_success_ci_low'), 2)}, {_fmt(p.get('rl_success_ci_high'), 2)}]"
        table.append([
            row["nodeid"], row["outcome"], ci or "-", _fmt(p.get("rl_mean_return"), 2), _fmt(p.get("rl_episodes")),
            _fmt(p.get("rl_timesteps")), _fmt(p.get("rl_train_seconds"), 1), _fmt(p.get("rl_eval_seconds"), 1),
        ])
    return table


HEADER = ["scenario", "outcome", "success [95% CI]", "mean return", "episodes", "timesteps", "train s", "eval s"]


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A plain-text table with aligned columns."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(header)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]
