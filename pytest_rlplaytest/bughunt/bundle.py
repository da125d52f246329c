"""Replay bundles: everything needed to replay one bug-hitting episode deterministically.

The on-disk format is versioned (``schema_version``); a bundle of another version is refused with
a message that says how to regenerate it.

Paths follow the path rule (:mod:`pytest_rlplaytest.common.paths`): the game in ``env``
(``godot:<path>``, ``spacetimedb:<path>``) and the scenario's ``env`` and ``model`` are stored
relative to the bundle's own folder, and read back against it; the engine's description keeps its
identity (versions, hashes) but not its locations (absolute paths, the game as a test named it).
A bundle therefore holds no absolute path of the machine that recorded it.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..common.files import atomic_write_text, dumps_json
from ..common.paths import PathBase, relative_to_file
from ..common.versioned import load_versioned
from ..errors import RLPlaytestError

__all__ = ["BUNDLE_SCHEMA_VERSION", "BundleError", "ReplayBundle"]

BUNDLE_SCHEMA_VERSION = 1

_REGENERATE = "regenerate it with a bug hunt (pytest -m long_training) or `rlplaytest shrink`"
_REQUIRED = ("signature", "env", "seed", "actions", "hit_step")
#: keys of an engine description that name a location, not the build (Godot's ``game``: the game as
#: the test named it, relative to the test file; the bundle's ``env`` holds it relative to the bundle)
_LOCATION_KEYS = frozenset({"game"})


class BundleError(RLPlaytestError, ValueError):
    """A bundle file is missing, malformed, or of another schema version."""


@dataclass
class ReplayBundle:
    """One recorded episode that hit a bug's signature.

    Attributes:
        signature: the bug signature's description (``event:out_of_world``, ``log:...``).
        env: the game: a Gymnasium id or ``py:module:Factory``, or ``<engine>:<path>`` whose path is
            relative to :attr:`source`'s folder (absolute in a bundle not yet saved).
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
        source: the file the bundle was loaded from (not stored); its relative paths resolve
            against that file's folder.
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
    source: Path | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        from .. import __version__

        self.plugin_version = self.plugin_version or __version__
        self.created = self.created or datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.machine = self.machine or {"platform": platform.platform(), "python": platform.python_version()}
        self.original_length = self.original_length or len(self.actions)

    @property
    def paths(self) -> PathBase:
        """Where this bundle's relative paths resolve: its file's folder (the current folder for a
        bundle not loaded from a file)."""
        if self.source is not None:
            return PathBase.content(self.source)
        return PathBase(Path.cwd(), "the current folder")

    def with_actions(self, actions: list[Any], hit_step: int) -> ReplayBundle:
        """A copy with a (shrunk) action sequence."""
        data = asdict(self)
        data.update(actions=list(actions), hit_step=hit_step, source=self.source)
        return ReplayBundle(**data)

    def with_build(self, engine: dict[str, Any]) -> ReplayBundle:
        """A copy that records ``engine`` (an engine's ``describe()``) as the build it reproduces on."""
        data = asdict(self)
        data.update(engine=dict(engine), source=self.source)
        return ReplayBundle(**data)

    def env_for(self, holder: str | os.PathLike[str]) -> str:
        """:attr:`env` with its path written relative to the folder of the file ``holder``."""
        return _relocated_env(self.env, self.paths, holder)

    def to_json(self, holder: str | os.PathLike[str]) -> str:
        """The bundle as stored in the file ``holder``: paths relative to it, locations dropped."""
        data = asdict(self)
        del data["source"]
        data["env"] = self.env_for(holder)
        data["engine"] = {k: v for k, v in self.engine.items() if not _is_location(k, v)}
        scenario = dict(self.scenario)
        if isinstance(scenario.get("env"), str):
            scenario["env"] = _relocated_env(scenario["env"], self.paths, holder)
        if isinstance(scenario.get("model"), str):
            scenario["model"] = relative_to_file(self.paths.resolve(scenario["model"]), holder)
        data["scenario"] = scenario
        return dumps_json(data, indent=1)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically to ``path`` (paths stored relative to it; see :meth:`to_json`)."""
        return atomic_write_text(path, self.to_json(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ReplayBundle:
        """Read and validate a bundle file; its relative paths resolve against its folder."""
        path = Path(path)
        data = load_versioned(path, kind="replay bundle", current=BUNDLE_SCHEMA_VERSION, error=BundleError,
                              fix=_REGENERATE)
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise BundleError(f"replay bundle {path} lacks {', '.join(missing)}; {_REGENERATE}")
        stored = {f.name for f in fields(cls)} - {"source"}
        return cls(**{k: v for k, v in data.items() if k in stored}, source=path)


def env_path(env: str) -> tuple[str, str] | None:
    """``(scheme, path)`` when ``env`` names its game by a path (``godot:<path>``,
    ``spacetimedb:<path>``); None for Gymnasium ids, ``py:`` factories and engines without a path."""
    from ..engines.registry import split_target

    scheme, target = split_target(env)
    if scheme == "gym" or not isinstance(target, str) or not target:
        return None
    return scheme, target


def _relocated_env(env: str, base: PathBase, holder: str | os.PathLike[str]) -> str:
    located = env_path(env)
    if located is None:
        return env
    scheme, target = located
    return f"{scheme}:{relative_to_file(base.resolve(target), holder)}"


def _is_location(key: str, value: Any) -> bool:
    return key in _LOCATION_KEYS or (isinstance(value, str) and os.path.isabs(value))
