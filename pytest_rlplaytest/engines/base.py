"""The one small interface every engine implements.

An *engine* is whatever runs the game: a Gymnasium environment in this process, a headless Godot
process speaking the Godot RL Agents wire protocol, or a SpacetimeDB server reached over WebSockets.
The plugin only ever talks to engines through :class:`Engine`:

1. ``Engine.start()`` boots or connects (launch a process, open sockets). May raise
   :class:`EngineUnavailable` when a binary is missing: the plugin turns that into a skip (or a
   failure under ``--rl-require-engines``).
2. ``Engine.make_vec_env(n_envs, seed)`` exposes the game as a Stable-Baselines3 ``VecEnv``; one
   "env" is one agent. ``Engine.make_env(seed)`` gives a single-agent Gymnasium ``Env``.
3. Per-step engine telemetry travels in each step's ``info`` dict (see :mod:`.telemetry` for the
   key contract, e.g. ``frame_ms`` and ``events``).
4. ``Engine.close()`` tears everything down and must be idempotent and safe after a failed start.

Engines are chosen by the ``env=`` argument of the ``rl_scenario`` marker: see :mod:`.registry`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from ..common.paths import PathBase
from ..errors import RLPlaytestError
from ..settings import Settings

if TYPE_CHECKING:
    import gymnasium as gym
    from stable_baselines3.common.vec_env import VecEnv


class EngineError(RLPlaytestError, RuntimeError):
    """The engine misbehaved: crashed, hung, or sent something that breaks its contract."""


class EngineUnavailable(EngineError):
    """The engine cannot run on this machine (binary missing). ``hint`` says how to get it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(f"{message}{' ' + hint if hint else ''}")
        self.hint = hint


def identity_value(description: Mapping[str, Any], key: str) -> Any:
    """The value of ``key`` in an ``Engine.describe()`` result; a dotted key (``addon.addon_version``)
    reads a nested mapping. None when absent."""
    value: Any = description
    for part in key.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def with_identity(recorded: Mapping[str, Any], current: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """``recorded`` with the identity ``keys`` taken from ``current`` (dotted keys write nested
    mappings); everything else recorded (timings, instance plans, what the recording ran with) stays."""
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in recorded.items()}
    for key in keys:
        value = identity_value(current, key)
        if value is None:
            continue
        *parents, last = key.split(".")
        target = out
        for part in parents:
            nested = target.get(part)
            target[part] = nested = dict(nested) if isinstance(nested, Mapping) else {}
            target = nested
        target[last] = value
    return out


def identity_changes(recorded: Mapping[str, Any], current: Mapping[str, Any],
                     keys: Sequence[str] | None = None) -> list[str]:
    """What differs in the build's identity between two ``Engine.describe()`` results, as
    ``"key: recorded X, now Y"``.

    Only the declared identity ``keys`` are compared (``type(engine).IDENTITY_KEYS``; None: the
    keys of the engine the descriptions name, :func:`~pytest_rlplaytest.engines.registry.identity_keys`).
    Timings (``boot_seconds``), locations (game and binary paths) and what the game printed are not
    part of a build's identity: a checkout in another folder, booted on a busier machine, is the same
    build. A key missing from either side (an older recording) is not a change.
    """
    if keys is None:
        from .registry import identity_keys

        keys = identity_keys(current or recorded)
    changes = []
    for key in keys:
        before, after = identity_value(recorded, key), identity_value(current, key)
        if before != after and before is not None and after is not None:
            changes.append(f"{key}: recorded {before!r}, now {after!r}")
    return changes


def skip_or_fail_unavailable(settings: Settings | None, scheme: str, exc: EngineUnavailable) -> NoReturn:
    """Skip the current test for a missing engine, or fail it when ``--rl-require-engines``
    names that engine (or all engines)."""
    import pytest

    if settings is not None and settings.engine_required(scheme):
        pytest.fail(f"{exc} (--rl-require-engines requires the {scheme} engine, so a missing one fails)",
                    pytrace=False)
    pytest.skip(str(exc))


@dataclass(frozen=True)
class EngineContext:
    """What an engine gets from the plugin when it is created.

    Attributes:
        artifacts_dir: the test's artifact folder; engines put their logs here.
        seed: the scenario's seed (engines pass it on, e.g. Godot's ``--env_seed``).
        options: engine-specific marker arguments (e.g. ``scene``, ``agents`` for Godot).
        settings: plugin-wide settings, for engine options such as ``godot_bin`` or timeouts.
        nodeid: the pytest node id, used in error messages.
        paths: where a relative game path in the target resolves: the test file's folder for a
            marker's ``env=``, a bundle's own folder for a replay (the path rule,
            :mod:`~pytest_rlplaytest.common.paths`).
    """

    artifacts_dir: Path
    seed: int
    options: Mapping[str, Any] = field(default_factory=dict)
    settings: Settings = field(default_factory=Settings.defaults)
    nodeid: str = ""
    paths: PathBase = field(default_factory=lambda: PathBase.option("."))


class Engine(abc.ABC):
    """Boots a game and exposes it as Gymnasium / SB3 environments.

    Subclasses declare the engine-specific marker arguments they accept in ``OPTIONS`` (name ->
    help) so an unknown marker argument can be rejected with a clear error before anything starts.
    """

    #: the scheme used in ``env="<scheme>:..."`` (``gym`` is the default and needs no prefix)
    scheme: ClassVar[str] = ""
    #: engine-specific ``rl_scenario`` arguments this engine accepts, with a one-line help each
    OPTIONS: ClassVar[Mapping[str, str]] = {}
    #: the keys of :meth:`describe` that identify the game build (engine version, game hash, ...);
    #: :func:`identity_changes` compares only these. Never timings, paths or binary locations.
    #: A dotted key reads a nested value (``addon.addon_version``).
    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = ("engine",)

    def __init__(self, target: Any, context: EngineContext) -> None:
        self.target = target
        self.context = context

    # -- lifecycle ------------------------------------------------------------------------
    @abc.abstractmethod
    def start(self) -> None:
        """Boot or connect. Raise :class:`EngineUnavailable` when the engine cannot run here."""

    @abc.abstractmethod
    def close(self) -> None:
        """Tear down everything started; idempotent; never raises for an already-dead engine."""

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- environments ---------------------------------------------------------------------
    @abc.abstractmethod
    def make_vec_env(self, n_envs: int | None = None, seed: int | None = None) -> VecEnv:
        """The game as an SB3 ``VecEnv``; ``n_envs=None`` means the engine's natural count
        (Godot: the agents in one instance; Gymnasium: 1)."""

    @abc.abstractmethod
    def make_env(self, seed: int | None = None) -> gym.Env[Any, Any]:
        """The game as a single-agent Gymnasium ``Env``."""

    def make_replay_vec_env(self, n_envs: int) -> VecEnv:
        """``n_envs`` independent single-agent envs for deterministic replays.

        Contract: resetting env ``i`` with seed ``S`` (``venv._seeds``) starts an episode exactly
        like the recorded one whose ``info["rl_episode_seed"]`` was ``S``, and the same actions
        then give the same steps (lockstep). The default suits engines whose copies are already
        independent single-agent envs (Gymnasium).
        """
        return self.make_vec_env(n_envs)

    # -- identity -------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """The game build and engine version, for baselines and replay bundles (the keys named in
        :attr:`IDENTITY_KEYS` identify the build; the others are informative)."""
        return {"engine": self.scheme or type(self).__name__}
