"""The GitHub Actions job summary: Markdown appended to the file ``$GITHUB_STEP_SUMMARY`` names.

At the end of a run (controller only) the plugin appends the scenario table (the terminal summary's
columns, success with its 95% Clopper-Pearson interval), each failed test's verdict message (its
tables included) and links to its plots. GitHub strips ``data:`` images and cannot show files of
the runner, so plots are links to their paths in the uploaded artifacts folder (relative to the
rootdir). A step's summary is limited to 1 MiB: the text is cut to fit, ending with a line that says
so. ``--rl-job-summary=auto|on|off`` (auto: whenever ``GITHUB_STEP_SUMMARY`` is set; on: also
without it, into ``<--rl-artifacts>/job_summary.md``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..common.files import folder_lock
from ..common.table import render_markdown_table
from ..verdicts.stats import CI_LABEL
from .plots import PLOTS
from .terminal import HEADER, summary_rows

__all__ = ["ENV_VAR", "LIMIT_BYTES", "append_job_summary", "render_job_summary",
           "summary_file", "truncate"]

ENV_VAR = "GITHUB_STEP_SUMMARY"
#: GitHub's limit on one step's summary
LIMIT_BYTES = 1024 * 1024


def summary_file(mode: str, artifacts: Path, environ: Mapping[str, str] | None = None) -> Path | None:
    """The file to append to: ``$GITHUB_STEP_SUMMARY`` unless ``mode`` is ``off``; when it is unset,
    ``<artifacts>/job_summary.md`` under ``on`` (a local preview) and none under ``auto``."""
    environ = os.environ if environ is None else environ
    target = environ.get(ENV_VAR, "")
    if mode == "off":
        return None
    if target:
        return Path(target)
    return artifacts / "job_summary.md" if mode == "on" else None


def _rel(target: str, root: Path) -> str:
    try:
        return os.path.relpath(target, root)
    except ValueError:
        return target


def _failure_lines(row: Mapping[str, Any], root: Path) -> list[str]:
    """One failed test: its verdict message (tables kept as preformatted text) and plot links."""
    props = row["properties"]
    lines = [f"### ❌ `{row['nodeid']}`", ""]
    message = str(row.get("message") or "").strip()
    if message:
        lines += ["```", *message.replace("```", "'''").splitlines(), "```", ""]
    if props.get("rl_artifacts"):
        lines += [f"Artifacts: `{_rel(str(props['rl_artifacts']), root)}`", ""]
    return lines


def render_job_summary(rows: Sequence[Mapping[str, Any]], root: Path) -> str:
    """The summary Markdown for collected rows (``nodeid``, ``outcome``, ``properties``, and for a
    failure ``message``); paths relative to ``root`` (the rootdir, where CI uploads from)."""
    table = []
    for row, cells in zip(rows, summary_rows(rows)):
        props = row["properties"]
        plots = [f"[{label}]({_rel(str(props[key]), root)})" for key, label in PLOTS if props.get(key)]
        table.append([*cells, ", ".join(plots) or "-"])
    failed = [row for row in rows if row["outcome"] == "failed"]
    lines = ["## rlplaytest", "",
             f"{len(rows)} scenario test(s), {len(failed)} failed. Success rates show their {CI_LABEL}. "
             "Plots and artifacts are in the uploaded artifacts folder (paths relative to the repository root).",
             "", *render_markdown_table([*HEADER, "plots"], table), ""]
    from .curriculum import curriculum_notes

    lines += curriculum_notes(rows, "### Curriculum")  # each curriculum stage's budget used and verdict
    if failed:
        lines += ["### Failed verdicts", ""]
        for row in failed:
            lines += _failure_lines(row, root)
    return "\n".join(lines) + "\n"


def truncate(text: str, budget: int) -> str:
    """``text`` cut at a line boundary to at most ``budget`` UTF-8 bytes, ending with a line saying
    it was cut (unchanged when it fits)."""
    data = text.encode("utf-8")
    if len(data) <= budget:
        return text
    note = (f"\n\n_rlplaytest: job summary truncated: GitHub limits a step's summary to "
            f"{LIMIT_BYTES // 1024} KiB; the full table is in the artifacts' report.md._\n")
    room = max(0, budget - len(note.encode("utf-8")))
    cut = data[:room].decode("utf-8", errors="ignore")
    cut = cut[:cut.rfind("\n")] if "\n" in cut else ""
    return cut + note


def append_job_summary(path: Path, rows: Sequence[Mapping[str, Any]], root: Path) -> Path:
    """Append the summary of ``rows`` to ``path`` under the folder lock (so parallel jobs writing
    one file do not interleave), cut to what remains of the 1 MiB limit."""
    with folder_lock(path.parent):
        used = path.stat().st_size if path.exists() else 0
        text = truncate(render_job_summary(rows, root), max(0, LIMIT_BYTES - used))
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    return path
