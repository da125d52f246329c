"""Per-test artifact folders: ``<--rl-artifacts>/<test id>/`` holding model, logs, tables, plots.

Artifacts are never deleted by the plugin, so the evidence of a failed run stays for inspection
(CI uploads the folder). A rerun of the same test overwrites its files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..playtest import PlaytestResult

_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def test_dir_name(nodeid: str, max_len: int = 120) -> str:
    """A readable, filesystem-safe folder name for a test node id (stable across runs)."""
    name = nodeid.replace("::", "__").replace("/", ".")
    name = _UNSAFE.sub("_", name).strip("._") or "test"
    if len(name) > max_len:
        digest = hashlib.sha1(nodeid.encode()).hexdigest()[:10]
        name = f"{name[: max_len - 11]}-{digest}"
    return name


def artifacts_dir_for(root: Path, nodeid: str) -> Path:
    """Create and return the artifact folder of one test."""
    path = root / test_dir_name(nodeid)
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


def record_outcome(summary_json: Path, nodeid: str, outcome: str) -> None:
    """Add the test's node id and outcome to its ``summary.json`` (so ``rlplaytest report`` can
    rebuild the run report from the artifacts alone)."""
    try:
        data = json.loads(summary_json.read_text())
    except (OSError, ValueError):
        return
    data["nodeid"], data["outcome"] = nodeid, outcome
    tmp = summary_json.with_suffix(f".json.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, summary_json)
