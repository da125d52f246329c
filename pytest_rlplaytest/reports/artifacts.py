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
    from .plots import position_heatmap
    from .tensorboard import write_eval_scalars

    stem = "" if call == 1 else f"playtest{call}"
    paths = write_result_artifacts(result, folder, stem=stem)
    record_result(item, result)
    set_property(item, "rl_episodes_csv", str(paths["episodes_csv"]))
    set_property(item, "rl_summary_json", str(paths["summary_json"]))
    heatmap = position_heatmap(result, folder / f"{stem + '-' if stem else ''}heatmap.png",
                               title=f"visited cells: {item.nodeid}")
    if heatmap is not None:
        paths["heatmap_png"] = heatmap
        set_property(item, "rl_heatmap_png", str(heatmap))
    if write_eval_scalars(result, folder / "tensorboard" / f"eval{call}", step=result.timesteps) is not None:
        paths["tensorboard"] = folder / "tensorboard"
        set_property(item, "rl_tensorboard", str(folder / "tensorboard"))
    return paths


def record_outcome(summary_json: Path, nodeid: str, outcome: str) -> None:
    """Add the test's node id and outcome to its ``summary.json`` (so ``rlplaytest report`` can
    rebuild the run report from the artifacts alone)."""
    try:
        data = json.loads(summary_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    data["nodeid"], data["outcome"] = nodeid, outcome
    atomic_write_json(summary_json, data)
