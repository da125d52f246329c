"""Per-test artifact folders: ``<--rl-artifacts>/<test id>/`` holding model, logs, tables, plots.

Artifacts are never deleted by the plugin, so the evidence of a failed run stays for inspection
(CI uploads the folder). A rerun of the same test overwrites its files. Folder names come from
:func:`pytest_rlplaytest.common.paths.nodeid_to_filename`; every file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..common.files import atomic_write_json
from ..common.paths import nodeid_to_filename

if TYPE_CHECKING:
    import pytest

    from ..playtest import PlaytestResult

__all__ = ["artifacts_dir_for", "record_outcome", "record_playtest", "write_result_artifacts"]


def artifacts_dir_for(root: Path, nodeid: str) -> Path:
    """Create and return the artifact folder of one test."""
    path = root / nodeid_to_filename(nodeid)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_result_artifacts(result: PlaytestResult, folder: Path, stem: str = "") -> dict[str, Path]:
    """Write ``episodes.csv`` and ``summary.json`` (``<stem>-episodes.csv`` for a second playtest)."""
    prefix = f"{stem}-" if stem else ""
    paths = {
        "episodes_csv": result.to_csv(folder / f"{prefix}episodes.csv"),
        "summary_json": folder / f"{prefix}summary.json",
    }
    result.to_json(paths["summary_json"])
    return paths


def record_playtest(item: pytest.Item, result: PlaytestResult, folder: Path, call: int) -> dict[str, Path]:
    """Everything a finished ``rl_playtest()`` call leaves behind, written before any verdict so a
    failing run keeps its evidence: ``episodes.csv``, ``summary.json``, the visited-cells heatmap,
    TensorBoard ``eval`` scalars, and the ``rl_*`` JUnit properties naming them.

    ``call`` counts the test's playtests from 1; the second and later ones prefix their files with
    ``playtest<call>-``. Returns the paths written, by property-less name (``episodes_csv``,
    ``summary_json``, ``heatmap_png``, ``tensorboard``).
    """
    from .junit import record_result, set_property
    from .tensorboard import write_eval_scalars

    stem = "" if call == 1 else f"playtest{call}"
    paths = write_result_artifacts(result, folder, stem=stem)
    record_result(item, result)
    set_property(item, "rl_episodes_csv", str(paths["episodes_csv"]))
    set_property(item, "rl_summary_json", str(paths["summary_json"]))
    for prop, path in _plots(item, result, folder, f"{stem}-" if stem else "").items():
        paths[prop] = path
        set_property(item, f"rl_{prop}", str(path))
    if write_eval_scalars(result, folder / "tensorboard" / f"eval{call}", step=result.timesteps) is not None:
        paths["tensorboard"] = folder / "tensorboard"
        set_property(item, "rl_tensorboard", str(folder / "tensorboard"))
    return paths


def _plots(item: pytest.Item, result: PlaytestResult, folder: Path, prefix: str) -> dict[str, Path]:
    """The heatmaps of a playtest, by name: ``heatmap_png`` (and its ``visits.json``),
    ``frame_cost_png`` when ``frame_ms`` comes with every step, ``heatmap_diff_png`` against the
    same test's counts in ``--rl-visits-baseline``."""
    from ..plugin import get_settings
    from .plots import (
        VisitsError,
        frame_cost_heatmap,
        load_visits,
        position_heatmap,
        visits_diff_heatmap,
        visits_path,
    )

    out: dict[str, Path | None] = {
        "heatmap_png": position_heatmap(result, folder / f"{prefix}heatmap.png", title=f"visited cells\n{item.nodeid}"),
        "frame_cost_png": frame_cost_heatmap(result, folder / f"{prefix}frame-cost.png", title=item.nodeid),
    }
    previous_root = get_settings(item.config).visits_baseline
    if previous_root is not None and out["heatmap_png"] is not None:
        if not previous_root.is_dir():
            raise VisitsError(f"--rl-visits-baseline {previous_root} is not a folder: pass the --rl-artifacts "
                              "folder of a previous run")
        previous = visits_path(previous_root / folder.name / f"{prefix}heatmap.png")
        if not previous.is_file():  # the test is new since that run: nothing to compare
            return {name: path for name, path in out.items() if path is not None}
        out["heatmap_diff_png"] = visits_diff_heatmap(result, load_visits(previous), folder / f"{prefix}heatmap-diff.png",
                                                      title=item.nodeid)
    return {name: path for name, path in out.items() if path is not None}


def record_outcome(summary_json: Path, nodeid: str, outcome: str) -> None:
    """Add the test's node id and outcome to its ``summary.json`` (so ``rlplaytest report`` can
    rebuild the run report from the artifacts alone)."""
    try:
        data = json.loads(summary_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    data["nodeid"], data["outcome"] = nodeid, outcome
    atomic_write_json(summary_json, data)
