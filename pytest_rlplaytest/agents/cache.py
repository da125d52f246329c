"""The agent cache (``--rl-agent-cache DIR``): the nightly's trained agents, for CI's ``model="cache:"``.

Every long_training scenario that trains stores its agent, keyed by the *scenario* it plays, with
the game build's identity and the plugin's version::

    DIR/<scenario key>/<trained-at>-<test>/agent.zip     the model (normalisation statistics inside)
    DIR/<scenario key>/<trained-at>-<test>/entry.json    what it was trained on (written last)

The scenario key is a digest of what the agent plays: the engine, the game (a Gymnasium id or
factory; a game path relative to the rootdir, so checkouts in other folders share it), the engine
options (``scene=``, ``agents=``...), ``env_kwargs`` and ``max_episode_steps``. The algorithm and
the budget are not part of it: any agent trained for the scenario can play it.

A test with ``rl_scenario(model="cache:")`` uses the newest entry of its scenario that this plugin
version stored for the same observation and action spaces. When there is none, the test fails,
saying what the cache holds and what differs. When the newest entry was trained on another build
of the game (an ``Engine.IDENTITY_KEYS`` value changed, compared by
:func:`~pytest_rlplaytest.engines.base.identity_changes`), it is used, and the test says it is
*stale* and which identity key changed (a :class:`StaleAgentWarning` and the JUnit property
``rl_agent_cache``): CI judges today's build with last night's agent.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..common.files import atomic_write_json
from ..common.versioned import load_versioned
from ..errors import RLPlaytestError, RLPlaytestWarning
from ..scenario import ScenarioSpec, jsonable
from ..settings import Settings

__all__ = ["AgentCacheMiss", "CachedAgent", "StaleAgentWarning", "find_cached_agent", "load_cached_agent",
           "scenario_key", "store_agent", "store_trained_agent"]

SCHEMA_VERSION = 1
ENTRY = "entry.json"
AGENT = "agent.zip"


class AgentCacheMiss(RLPlaytestError, LookupError):
    """No compatible agent in the cache; the message says what the cache holds and what differs."""


class StaleAgentWarning(RLPlaytestWarning):
    """The cached agent was trained on another build of the game (the message names the key)."""


def _plugin_version() -> str:
    from .. import __version__

    return __version__


def _game_ref(spec: ScenarioSpec, settings: Settings) -> str:
    """The game, independent of the checkout's location: a Gymnasium id or factory path, or a game
    path relative to the rootdir (the folder's name when outside it)."""
    target = spec.engine_target
    if spec.engine_scheme == "gym":
        from ..engines.gym import factory_path

        return target if isinstance(target, str) else factory_path(target) or spec.env_label
    path = getattr(target, "path", target)
    if not isinstance(path, (str, os.PathLike)):
        return spec.env_label
    resolved = spec.paths.resolve(path)
    try:
        return resolved.relative_to(settings.rootdir.resolve()).as_posix()
    except ValueError:
        return resolved.name


def scenario_key(spec: ScenarioSpec, settings: Settings) -> dict[str, Any]:
    """What an agent plays: engine, game, engine options, env kwargs, episode limit (JSON)."""
    options = dict(spec.engine_options)
    scene = getattr(spec.engine_target, "scene", None)
    if scene is not None:
        options.setdefault("scene", scene)
    return jsonable({"engine": spec.engine_scheme, "game": _game_ref(spec, settings), "engine_options": options,
                     "env_kwargs": dict(spec.env_kwargs), "max_episode_steps": spec.max_episode_steps})  # type: ignore[no-any-return]


def _digest(key: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def _identity(description: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    from ..engines.base import identity_value

    return jsonable({key: identity_value(description, key) for key in keys})  # type: ignore[no-any-return]


def store_agent(cache: Path, spec: ScenarioSpec, settings: Settings, *, model_zip: Path,
                engine_description: Mapping[str, Any], identity_keys: Sequence[str], timesteps: int,
                observation_space: Any, action_space: Any) -> Path:
    """Store a trained agent; returns its entry's folder. Only the identity keys' values of the
    engine's description are kept (no paths of this machine)."""
    key = scenario_key(spec, settings)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    test = hashlib.sha1(spec.nodeid.encode()).hexdigest()[:8]
    folder = cache / _digest(key) / f"{stamp}-{test}-{os.getpid()}"
    tmp = folder.with_name(f".{folder.name}.tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_zip, tmp / AGENT)
    atomic_write_json(tmp / ENTRY, {
        "schema_version": SCHEMA_VERSION, "plugin_version": _plugin_version(), "scenario": key,
        "nodeid": spec.nodeid, "algo": spec.algo, "timesteps": int(timesteps), "seed": spec.seed,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "trained_at_ns": time.time_ns(),
        "identity_keys": list(identity_keys), "identity": _identity(engine_description, identity_keys),
        "observation_space": repr(observation_space), "action_space": repr(action_space),
    })
    tmp.rename(folder)
    return folder


@dataclass(frozen=True)
class CachedAgent:
    """The agent :func:`find_cached_agent` chose.

    Attributes:
        path: its ``agent.zip``.
        entry: its ``entry.json``.
        changes: how the build differs from the one it was trained on (``"key: recorded X, now Y"``);
            empty when it is fresh.
    """

    path: Path
    entry: Mapping[str, Any]
    changes: tuple[str, ...]

    @property
    def stale(self) -> bool:
        """True when an identity key of the game changed since the agent was stored."""
        return bool(self.changes)

    def describe(self) -> str:
        """One line: which agent, and whether it is fresh or stale (and why)."""
        entry = self.entry
        what = (f"the cached agent {self.path.parent.name} ({entry.get('algo')}, {entry.get('timesteps')} timesteps, "
                f"trained {entry.get('trained_at')} by {entry.get('nodeid')})")
        if not self.changes:
            return f"{what}: fresh, trained on this build of the game"
        return f"{what}: stale, trained on another build of the game: {'; '.join(self.changes)}"


def _entries(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for entry_file in sorted(folder.glob(f"*/{ENTRY}")):
        try:
            data = load_versioned(entry_file, kind="agent cache entry", current=SCHEMA_VERSION,
                                  error=AgentCacheMiss, fix="retrain it with the nightly")
        except AgentCacheMiss:
            continue
        out.append((entry_file.parent, data))
    return out


def _nearest_difference(cache: Path, key: Mapping[str, Any]) -> str:
    """What the cache holds for the same game, and how it differs from ``key``."""
    others = [data for sub in cache.iterdir() if sub.is_dir() for _, data in _entries(sub)] if cache.is_dir() else []
    same_game = [d for d in others if d.get("scenario", {}).get("game") == key.get("game")]
    if not same_game:
        games = sorted({str(d.get("scenario", {}).get("game")) for d in others})
        return f"it holds agents for {', '.join(games) if games else 'no game at all'}"
    recorded = same_game[-1]["scenario"]
    diffs = [f"{k}: cached {recorded.get(k)!r}, this test {key.get(k)!r}" for k in sorted(key) if recorded.get(k) != key.get(k)]
    return "it holds agents for this game in another scenario (" + "; ".join(diffs) + ")"


def find_cached_agent(cache: Path | None, spec: ScenarioSpec, settings: Settings, *,
                      engine_description: Mapping[str, Any], identity_keys: Sequence[str],
                      observation_space: Any, action_space: Any) -> CachedAgent:
    """The newest compatible agent for ``spec`` (same scenario, plugin version and spaces).

    Raises:
        AgentCacheMiss: no cache configured, or no compatible agent (saying what the cache holds).
    """
    where = f"{spec.nodeid}: rl_scenario(model='cache:')"
    if cache is None:
        raise AgentCacheMiss(f"{where} needs --rl-agent-cache DIR: the folder where the nightly run "
                             "(pytest -m long_training --rl-agent-cache DIR) stores its trained agents")
    key = scenario_key(spec, settings)
    candidates = _entries(cache / _digest(key))
    if not candidates:
        raise AgentCacheMiss(f"{where}: there is no cached agent for this scenario ({json.dumps(key, sort_keys=True)}) "
                             f"in {cache}: {_nearest_difference(cache, key)}. Run the nightly with "
                             "--rl-agent-cache to store one.")
    version = _plugin_version()
    compatible = [(p, d) for p, d in candidates if d.get("plugin_version") == version
                  and d.get("observation_space") == repr(observation_space) and d.get("action_space") == repr(action_space)]
    if not compatible:
        newest = max(candidates, key=lambda c: int(c[1].get("trained_at_ns", 0)))[1]
        why = (f"stored by pytest-rlplaytest {newest.get('plugin_version')}, this is {version}"
               if newest.get("plugin_version") != version else
               f"trained for observations {newest.get('observation_space')} and actions {newest.get('action_space')}, "
               f"the game now has {observation_space!r} and {action_space!r}")
        raise AgentCacheMiss(f"{where}: none of the {len(candidates)} cached agent(s) for this scenario in {cache} "
                             f"is compatible: the newest was {why}. Retrain with the nightly.")
    folder, entry = max(compatible, key=lambda c: int(c[1].get("trained_at_ns", 0)))
    from ..engines.base import identity_changes

    changes = identity_changes(entry.get("identity", {}), _identity(engine_description, identity_keys), identity_keys)
    return CachedAgent(folder / AGENT, entry, tuple(changes))


def load_cached_agent(spec: ScenarioSpec, settings: Settings, engine: Any, venv: Any) -> tuple[Any, CachedAgent]:
    """The agent of ``model="cache:"``, loaded (:func:`~.loading.load_agent`), and the entry chosen;
    a stale one also warns (:class:`StaleAgentWarning`, naming the identity keys that changed).

    Raises:
        AgentCacheMiss: none compatible.
    """
    import dataclasses
    import warnings

    from .loading import load_agent

    cached = find_cached_agent(settings.agent_cache, spec, settings, engine_description=engine.describe(),
                               identity_keys=type(engine).IDENTITY_KEYS, observation_space=venv.observation_space,
                               action_space=venv.action_space)
    if cached.stale:
        warnings.warn(StaleAgentWarning(f"{spec.nodeid}: model='cache:' uses {cached.describe()}"), stacklevel=2)
    agent = load_agent(dataclasses.replace(spec, model=cached.path, model_cache=False), venv)
    return agent, cached


def store_trained_agent(spec: ScenarioSpec, settings: Settings, engine: Any, venv: Any, model_zip: Path | None,
                        timesteps: int) -> Path | None:
    """Store a long_training scenario's trained agent in ``--rl-agent-cache`` (None: not stored)."""
    if settings.agent_cache is None or not spec.long_training or model_zip is None:
        return None
    return store_agent(settings.agent_cache, spec, settings, model_zip=model_zip,
                       engine_description=engine.describe(), identity_keys=type(engine).IDENTITY_KEYS,
                       timesteps=timesteps, observation_space=venv.observation_space, action_space=venv.action_space)
