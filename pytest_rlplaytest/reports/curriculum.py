"""What a curriculum leaves in the reports: JUnit properties, and the run report's "Curriculum" section.

Properties (``rl_*``, through ``item.user_properties``, so they survive ``-n``):

==================================  ==============================================================
``rl_curriculum``                   ``2 of 2 stages passed`` / ``stopped at stage 'large' (2 of 3)``
``rl_curriculum_json``              the test's ``curriculum.json``
``rl_curriculum_<stage>_verdict``   ``pass``, ``fail``, ``inconclusive``, ``trained`` (a last stage
                                    without a rule) or ``not run``
``rl_curriculum_<stage>_timesteps`` timesteps the stage trained (its budget used)
``rl_curriculum_<stage>_success``   ``k/n`` evaluation episodes that succeeded (judged stages)
==================================  ==============================================================

:func:`curriculum_notes` reads each test's ``curriculum.json`` into a table (stage, budget, used,
success with its 95% Clopper-Pearson interval, rule, verdict) for the run report and the job summary.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..common.table import render_markdown_table
from ..verdicts.stats import CI_LABEL
from ..verdicts.table import fmt_interval
from .junit import set_property

if TYPE_CHECKING:
    import pytest

    from ..agents.curriculum import CurriculumRun

__all__ = ["curriculum_notes", "record_curriculum"]

HEADER = ["stage", "budget", "timesteps used", f"success [{CI_LABEL}]", "promotion rule", "verdict"]


def record_curriculum(item: pytest.Item, run: CurriculumRun) -> None:
    """Set the curriculum's JUnit properties on the test."""
    set_property(item, "rl_curriculum", run.summary)
    if run.json_path is not None:
        set_property(item, "rl_curriculum_json", str(run.json_path))
    for outcome in run.outcomes:
        prefix = f"rl_curriculum_{outcome.stage.name}"
        set_property(item, f"{prefix}_verdict", outcome.verdict)
        set_property(item, f"{prefix}_timesteps", outcome.timesteps)
        if outcome.episodes is not None:
            set_property(item, f"{prefix}_success", f"{outcome.successes}/{outcome.episodes}")


def _read(path: Any) -> dict[str, Any]:
    try:
        data = json.loads(Path(str(path)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def stage_rows(data: Mapping[str, Any]) -> list[list[str]]:
    """The table rows of one ``curriculum.json``."""
    rows = []
    for stage in data.get("stages", []):
        success = "-"
        if stage.get("episodes"):
            success = (f"{stage['successes'] / stage['episodes']:.2f} ({stage['successes']}/{stage['episodes']}) "
                       f"{fmt_interval(stage.get('ci_low'), stage.get('ci_high'))}")
        promote = stage.get("promote") or {}
        rule = f">= {promote['at_least']:g} at {promote['confidence']:g} confidence" if promote else "-"
        budget = str(stage["timesteps"])
        if stage.get("requested_timesteps") not in (None, stage["timesteps"]):
            budget += f" (asked {stage['requested_timesteps']}, capped by --rl-timesteps)"
        rows.append([f"{stage['index']}. {stage['name']}", budget, str(stage.get("timesteps_used", 0)), success,
                     rule, str(stage.get("verdict"))])
    return rows


def curriculum_notes(rows: Sequence[Mapping[str, Any]], heading: str = "## Curriculum") -> list[str]:
    """The "Curriculum" section (Markdown lines, under ``heading``) for the tests that trained through
    one, or nothing."""
    lines: list[str] = []
    for row in rows:
        path = row["properties"].get("rl_curriculum_json")
        data = _read(path) if path else {}
        if not data.get("stages"):
            continue
        lines += [f"- `{row['nodeid']}`: {data.get('summary', '')}", "",
                  *render_markdown_table(HEADER, stage_rows(data)), ""]
    return [heading, "", *lines] if lines else []
