"""One Markdown report for the whole run, linking every scenario's artifacts.

Written at the end of a run to ``<--rl-artifacts>/report.md``; rebuilt from an artifacts folder alone
by ``rlplaytest report DIR`` (it reads each test's ``summary.json``, recomputing the success interval
from the counts, so every row shows the 95% Clopper-Pearson interval whatever wrote the summary).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..common.files import atomic_write_text
from ..common.table import render_markdown_table
from ..verdicts.stats import CI_LABEL, CI_METHOD, success_interval
from .plots import PLOTS
from .terminal import HEADER, summary_lines, summary_rows

__all__ = ["rating_sections", "render_markdown", "rows_from_artifacts", "write_run_report"]

ARTIFACT_KEYS = (
    ("rl_summary_json", "summary"),
    ("rl_episodes_csv", "episodes"),
    ("rl_tensorboard", "tensorboard"),
    *PLOTS,
    ("rl_replay_bundle", "replay bundle"),
    ("rl_ratings_json", "ratings"),
)


def _link(target: str, root: Path, label: str) -> str:
    try:
        rel = os.path.relpath(target, root)
    except ValueError:
        rel = target
    return f"[{label}]({rel})"


def render_markdown(rows: Sequence[Mapping[str, Any]], root: Path) -> str:
    """The report text for collected rows (``nodeid``, ``outcome``, ``properties``)."""
    table = []
    for row, cells in zip(rows, summary_rows(rows)):
        props = row["properties"]
        links = [_link(str(props[k]), root, label) for k, label in ARTIFACT_KEYS if props.get(k)]
        if props.get("rl_artifacts"):
            links.insert(0, _link(str(props["rl_artifacts"]), root, "folder"))
        table.append([*cells, ", ".join(links)])
    lines = [
        "# rlplaytest run report",
        "",
        f"Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')}; {len(rows)} scenario test(s). "
        f"Success rates show their {CI_LABEL}.",
        "",
        *render_markdown_table([*HEADER, "artifacts"], table),
        "", "```", *summary_lines(rows), "```", "",
    ]
    from .training_notes import training_notes

    lines += training_notes(rows)  # resumed runs, engine restarts with the game's log tail, the agent cache
    from .curriculum import curriculum_notes

    lines += curriculum_notes(rows)  # each curriculum stage's budget used and verdict
    lines += rating_sections(rows)
    return "\n".join(lines)


def rating_sections(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One Elo-style rating table per test that recorded ``rl_ratings_json`` (self-play's
    ``ratings.json``, :func:`~..agents.selfplay.write_ratings`); an unreadable file is named."""
    import json

    lines: list[str] = []
    for row in rows:
        path = row["properties"].get("rl_ratings_json")
        if not path:
            continue
        lines += [f"## Ratings: {row['nodeid']}", ""]
        try:
            data = json.loads(Path(str(path)).read_text())
        except (OSError, ValueError) as exc:
            lines += [f"(ratings file {path} unreadable: {exc})", ""]
            continue
        table = [[r["player"], f"{r['elo']:.0f}", str(r["games"]), f"{r['score']:.3f}"] for r in data["ratings"]]
        lines += [f"Fitted by {data['method']} ({data['scale']}) from the evaluation games.", "",
                  *render_markdown_table(["player", "elo", "games", "score"], table), ""]
    return lines


def write_run_report(root: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``report.md`` under ``root`` atomically and return its path."""
    return atomic_write_text(root / "report.md", render_markdown(rows, root))


def _success_properties(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The success properties of a ``summary.json``, the interval recomputed from its counts."""
    judged, successes = summary.get("judged_episodes") or 0, summary.get("successes") or 0
    if not judged:
        return {"rl_success_rate": "n/a", "rl_success_ci_low": "n/a", "rl_success_ci_high": "n/a",
                "rl_success_ci_method": "n/a"}
    low, high = success_interval(int(successes), int(judged))
    return {"rl_success_rate": successes / judged, "rl_success_ci_low": low, "rl_success_ci_high": high,
            "rl_success_ci_method": CI_METHOD}


def rows_from_artifacts(root: Path) -> list[dict[str, Any]]:
    """Rebuild report rows from the ``summary.json`` files of an artifacts folder."""
    rows = []
    for summary_path in sorted(root.glob("*/summary.json")):
        try:
            data = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        summary = data.get("summary", {})
        scenario = data.get("scenario", {})
        folder = summary_path.parent
        props: dict[str, Any] = {
            **_success_properties(summary),
            "rl_mean_return": summary.get("mean_return"),
            "rl_episodes": summary.get("episodes"),
            "rl_timesteps": summary.get("timesteps"),
            "rl_train_seconds": summary.get("train_seconds"),
            "rl_eval_seconds": summary.get("eval_seconds"),
            "rl_seed": scenario.get("seed"),
            "rl_artifacts": str(folder),
            "rl_summary_json": str(summary_path),
        }
        for name, key in (("episodes.csv", "rl_episodes_csv"), ("tensorboard", "rl_tensorboard"),
                          ("learning_curve.png", "rl_learning_curve_png"), ("heatmap.png", "rl_heatmap_png"),
                          ("heatmap-diff.png", "rl_heatmap_diff_png"), ("frame-cost.png", "rl_frame_cost_png")):
            if (folder / name).exists():
                props[key] = str(folder / name)
        from .training_notes import artifact_properties

        props.update(artifact_properties(folder))  # resumed, engine restarts: the report's Training section
        if (folder / "curriculum.json").is_file():
            props["rl_curriculum_json"] = str(folder / "curriculum.json")
        rows.append({"nodeid": data.get("nodeid") or folder.name, "outcome": data.get("outcome", "?"),
                     "properties": props})
    return rows
