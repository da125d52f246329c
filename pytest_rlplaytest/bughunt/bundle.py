"""Replay bundles: everything needed to replay one bug-hitting episode deterministically.

The on-disk format is versioned (``schema_version``); a bundle of another version is refused with
a message that says how to regenerate it.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BUNDLE_SCHEMA_VERSION = 1


class BundleError(ValueError):
    """A bundle file is missing, malformed, or of another schema version."""


@dataclass
class ReplayBundle:
    """One recorded episode that hit a bug's signature.

    Attributes:
        signature: the bug signature's description (``event:out_of_world``, ``log:...``).
        env: the game as the scenario named it (``godot:godot``, a Gymnasium id, ...).
        engine_options: the engine's marker arguments (scene, ...).
        seed: the episode's seed: replaying resets with it (``rl_episode_seed``).
        world_seed: the seed the engine instance that played it was started with (Godot's
            ``--env_seed``: a level generated from it); replays start the engine with it.
        actions: the actions, one per step, up to and including the step that hit the signature.
        hit_step: 1-based step at which the signature was hit.
        events: events observed, as ``[step, name]`` pairs.
        engine: what the engine reported about itself (versions, build identity).
        scenario: the scenario description.
        original_length: the action count before shrinking (equal to ``len(actions)`` if unshrunk).
    """

    signature: str
    env: str
    seed: int
    actions: list[Any]
    hit_step: int
    engine_options: dict[str, Any] = field(default_factory=dict)
    world_seed: int | None = None
    events: list[list[Any]] = field(default_factory=list)
    engine: dict[str, Any] = field(default_factory=dict)
    scenario: dict[str, Any] = field(default_factory=dict)
    original_length: int = 0
    plugin_version: str = ""
    created: str = ""
    machine: dict[str, str] = field(default_factory=dict)
    schema_version: int = BUNDLE_SCHEMA_VERSION

    def __post_init__(self) -> None:
        from .. import __version__

        self.plugin_version = self.plugin_version or __version__
        self.created = self.created or datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.machine = self.machine or {"platform": platform.platform(), "python": platform.python_version()}
        self.original_length = self.original_length or len(self.actions)

    def with_actions(self, actions: list[Any], hit_step: int) -> ReplayBundle:
        """A copy with a (shrunk) action sequence."""
        data = asdict(self)
        data.update(actions=list(actions), hit_step=hit_step)
        return ReplayBundle(**data)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True, default=str)

    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file + rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.to_json() + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ReplayBundle:
        """Read and validate a bundle file."""
        path = Path(path)
        regenerate = "regenerate it with a bug hunt (pytest -m long_training) or `rlplaytest shrink`"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise BundleError(f"replay bundle {path} does not exist") from None
        except ValueError as exc:
            raise BundleError(f"replay bundle {path} is not valid JSON ({exc}); {regenerate}") from None
        if not isinstance(data, dict):
            raise BundleError(f"replay bundle {path} must hold a JSON object; {regenerate}")
        version = data.get("schema_version")
        if version != BUNDLE_SCHEMA_VERSION:
            raise BundleError(f"replay bundle {path} has schema_version {version!r}; this plugin reads "
                              f"{BUNDLE_SCHEMA_VERSION}: {regenerate}")
        missing = [k for k in ("signature", "env", "seed", "actions", "hit_step") if k not in data]
        if missing:
            raise BundleError(f"replay bundle {path} lacks {', '.join(missing)}; {regenerate}")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})
