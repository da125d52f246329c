"""The end-of-run table (one row per scenario test), printed on the controller only.

The success column shows the rate with the one interval every report and verdict uses, the 95%
Clopper-Pearson interval (named in the header). Rendering is the package's one table renderer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..common.table import render_text_table
from ..verdicts.stats import CI_LABEL

__all__ = ["HEADER", "render_table", "summary_lines", "summary_rows"]

HEADER = ["scenario", "outcome", f"success [{CI_LABEL}]", "mean return", "episodes", "timesteps", "train s",
          "eval s"]

#: the table renderer (kept under this name for callers of the terminal summary)
render_table = render_text_table


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


def summary_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The terminal summary table of ``rows`` as lines."""
    return render_text_table(HEADER, summary_rows(rows))
