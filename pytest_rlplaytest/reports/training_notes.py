"""What a test's training leaves in the reports: JUnit properties, and the run report's notes.

Properties (``rl_*``, through ``item.user_properties``, so they survive ``-n``):

==========================  ==================================================================
``rl_timesteps``            timesteps trained (0 for a stored or cached agent)
``rl_train_seconds``        training seconds (every resumed-from run included)
``rl_model``                the model file trained or loaded
``rl_resumed_from``         ``<checkpoint> at <N> timesteps`` when the run resumed (``--rl-resume``)
``rl_engine_restarts``      how often the game was restarted during training
``rl_dropped_episodes``     the episodes in flight those restarts dropped
``rl_training_json``        the test's ``training.json``
``rl_agent_cache``          ``fresh`` / ``stale: <key changed>`` for ``model="cache:"``;
                            ``stored <entry>`` when training stored its agent
==========================  ==================================================================

:func:`training_notes` turns them into the run report's "Training" section: which tests resumed
and from where, and every engine restart with the game's log tail (read from ``training.json``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .junit import set_property

if TYPE_CHECKING:
    import pytest

    from ..agents.cache import CachedAgent
    from ..agents.training import TrainingReport

__all__ = ["artifact_properties", "record_properties", "record_stored_agent", "record_training", "training_notes"]


def record_stored_agent(item: pytest.Item, model: str, cached: CachedAgent | None) -> dict[str, Any]:
    """The properties of a test whose agent was loaded; returns its training record (nothing trained)."""
    set_property(item, "rl_timesteps", 0)
    set_property(item, "rl_train_seconds", 0.0)
    set_property(item, "rl_model", model)
    record: dict[str, Any] = {"timesteps": 0, "seconds": 0.0, "model": model}
    if cached is not None:
        status = "stale: " + "; ".join(cached.changes) if cached.stale else "fresh"
        set_property(item, "rl_agent_cache", status)
        record["agent_cache"] = {"entry": str(cached.path.parent), "status": status, "trained": dict(cached.entry)}
    return record


def record_training(item: pytest.Item, report: TrainingReport, artifacts: Path, cache_entry: Path | None) -> dict[str, Any]:
    """The properties of a test that trained; returns its training record (``training.json`` plus
    the artifacts folder and model), which evaluation results carry as ``training``."""
    record = {**report.record, "seconds": report.seconds, "model": str(report.model_path),
              "artifacts": str(artifacts)}
    set_property(item, "rl_timesteps", report.timesteps)
    set_property(item, "rl_train_seconds", round(report.seconds, 3))
    for name, path in (("rl_tensorboard", report.tensorboard_dir), ("rl_model", report.model_path),
                       ("rl_training_episodes_csv", report.episodes_csv),
                       ("rl_learning_curve_png", report.learning_curve_png), ("rl_training_json", report.record_json)):
        if path is not None:
            set_property(item, name, str(path))
    for name, value in record_properties(report.record).items():
        set_property(item, name, value)
    if cache_entry is not None:
        set_property(item, "rl_agent_cache", f"stored {cache_entry}")
        record["agent_cache"] = {"stored": str(cache_entry)}
    return record


def record_properties(record: Mapping[str, Any]) -> dict[str, Any]:
    """``rl_resumed_from``, ``rl_engine_restarts`` and ``rl_dropped_episodes`` of a training record."""
    props: dict[str, Any] = {}
    resumed = record.get("resumed_from")
    if resumed:
        props["rl_resumed_from"] = f"{resumed['checkpoint']} at {resumed['timesteps']} timesteps"
    restarts = record.get("engine_restarts") or {}
    if restarts.get("allowed"):
        props["rl_engine_restarts"] = len(restarts.get("restarts", ()))
        props["rl_dropped_episodes"] = int(restarts.get("dropped_episodes", 0))
    return props


def _read_record(path: Any) -> dict[str, Any]:
    try:
        data = json.loads(Path(str(path)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def artifact_properties(folder: Path) -> dict[str, Any]:
    """The training properties of a test's artifact folder (its ``training.json``), for rebuilding the
    run report from the artifacts alone (``rlplaytest report``)."""
    path = folder / "training.json"
    if not path.is_file():
        return {}
    return {"rl_training_json": str(path), **record_properties(_read_record(path))}


def _record(props: Mapping[str, Any]) -> dict[str, Any]:
    path = props.get("rl_training_json")
    return _read_record(path) if path else {}


def training_notes(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The run report's "Training" section (Markdown lines), or nothing when no test resumed, had
    its game restarted or used the agent cache."""
    lines: list[str] = []
    for row in rows:
        props = row["properties"]
        record = _record(props)
        notes = []
        if props.get("rl_resumed_from"):
            notes.append(f"resumed from checkpoint {props['rl_resumed_from']}")
        restarts = (record.get("engine_restarts") or {}).get("restarts") or []
        if props.get("rl_engine_restarts") is not None:
            notes.append(f"{props['rl_engine_restarts']} engine restart(s) during training, "
                         f"{props.get('rl_dropped_episodes', 0)} episode(s) in flight dropped")
        if props.get("rl_agent_cache"):
            notes.append(f"agent cache: {props['rl_agent_cache']}")
        if not notes:
            continue
        lines.append(f"- `{row['nodeid']}`: " + "; ".join(notes))
        for restart in restarts:
            lines.append(f"  - restart {restart['number']} at timestep {restart['timestep']} "
                         f"({restart['dropped_episodes']} episode(s) dropped): {restart['error']}")
            lines += ["", "    ```", *("    " + line for line in restart.get("log_tail", [])), "    ```", ""]
    return ["## Training", "", *lines, ""] if lines else []
