"""Running hunts and replays: the pieces the fixtures and the ``rlplaytest`` command share."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..common.paths import PathBase
from ..errors import RLPlaytestWarning
from .bundle import BundleError, ReplayBundle, env_path
from .replay import Replayer, ReplayOutcome
from .shrink import ShrinkResult, shrink
from .signature import BugSignature

if TYPE_CHECKING:
    from ..engines.base import Engine
    from ..scenario import ScenarioSpec
    from ..settings import Settings
    from .hunt import HuntStats


class BuildChangedWarning(RLPlaytestWarning):
    """A replay bundle was recorded on another build of the game or engine."""


class NoEpisodeSeedWarning(RLPlaytestWarning):
    """The game reports no ``info["rl_episode_seed"]``: its bug episodes cannot be replayed."""


@dataclass
class HuntResult:
    """What a bug hunt found.

    Attributes:
        found: the signature was hit at least once.
        first_hit_timestep: the training timestep of the first hit (None if not found).
        timesteps, seconds: the hunt's budget used and wall time.
        bundles: every recorded bug-hitting episode, saved as replay bundles.
        shrunk: the first bundle shrunk (None if not found or shrinking was off).
        shrink: the shrinking's statistics.
    """

    found: bool
    first_hit_timestep: int | None
    timesteps: int
    seconds: float
    stats: HuntStats
    bundles: list[Path] = field(default_factory=list)
    shrunk: Path | None = None
    shrink: ShrinkResult | None = None

    @property
    def original_length(self) -> int | None:
        """The recorded episode's length before shrinking (None without shrinking)."""
        return self.shrink.original_length if self.shrink else None

    @property
    def shrunk_length(self) -> int | None:
        """The shrunk reproduction's length (None without shrinking)."""
        return len(self.shrink.actions) if self.shrink else None


def _recorded_env(spec: ScenarioSpec) -> str:
    """The scenario's game as a bundle records it: a Gymnasium id, ``py:module:Factory``, or
    ``<engine>:<absolute path>`` (:meth:`ReplayBundle.save` writes the path relative to the bundle)."""
    from ..engines.gym import factory_path

    env = spec.env
    if hasattr(env, "engine_scheme") and hasattr(env, "path"):  # a spec object (GodotGame)
        return f"{env.engine_scheme}:{spec.paths.resolve(str(env.path))}"
    if not isinstance(env, str):
        return factory_path(env) or spec.env_label
    located = env_path(env)
    return env if located is None else f"{located[0]}:{spec.paths.resolve(located[1])}"


def bundle_for(spec: ScenarioSpec, engine: Engine, signature: BugSignature | str, seed: int, actions: list[Any],
               hit_step: int, events: list[list[Any]], world_seed: int | None = None) -> ReplayBundle:
    """A replay bundle for one recorded episode of a scenario (``signature``: the bug's, or its
    description, e.g. a smoke oracle's ``smoke:stuck``)."""
    from ..scenario import jsonable

    env = _recorded_env(spec)
    options = {k: jsonable(v) for k, v in spec.engine_options.items()}
    if spec.env_kwargs:  # the game's own arguments: the replay must run the same game
        options["env_kwargs"] = jsonable(dict(spec.env_kwargs))
    if spec.max_episode_steps is not None:
        options["max_episode_steps"] = spec.max_episode_steps
    if hasattr(spec.env, "engine_scheme") and getattr(spec.env, "scene", None) is not None:  # a GodotGame's
        options.setdefault("scene", spec.env.scene)
    scenario = spec.describe()
    scenario.update(env=env, model=str(spec.model) if spec.model is not None else None)
    described = signature if isinstance(signature, str) else signature.describe()
    return ReplayBundle(signature=described, env=env, seed=int(seed), actions=list(actions),
                        hit_step=hit_step, engine_options=options, events=events, engine=engine.describe(),
                        scenario=scenario, world_seed=world_seed)


def run_hunt(spec: ScenarioSpec, engine: Engine, artifacts: Path, *, n_envs: int | None = None,
             do_shrink: bool = True, parallel: int = 2, max_records: int = 20,
             max_replays: int = 5000, shrink_hits: int = 3) -> HuntResult:
    """Train an exploring agent against the bug's signature for ``spec.timesteps``; record every
    hitting episode (whole) as a bundle under ``<artifacts>/bundles/``; shrink the first
    ``shrink_hits`` of them (``max_replays`` replays each) and keep the shortest as ``shrunk.json``."""
    from ..agents import train_agent
    from ..scenario import ScenarioError
    from .hunt import BugHunt

    if spec.bug is None:
        raise ScenarioError(f"{spec.nodeid}: a bug hunt needs rl_scenario(bug=...): an info event name, "
                         "'log:<regex>' or a callable(info) -> bool")
    signature: BugSignature = spec.bug
    venv = engine.make_vec_env(n_envs or spec.n_envs, seed=spec.seed)
    hunt = BugHunt(venv, signature, novelty=spec.novelty, cell_size=spec.cell_size, max_records=max_records,
                   log_lines=getattr(venv, "new_log_lines", None))
    start = time.perf_counter()
    try:
        train_agent(spec, hunt, artifacts)
        hunt.finish()
    finally:
        hunt.close()
    stats = hunt.stats
    result = HuntResult(stats.found, stats.first_hit_timestep, stats.timesteps, time.perf_counter() - start, stats)
    result.bundles = _save_hits(spec, engine, signature, stats, getattr(venv, "world_seed", None),
                                artifacts / "bundles")
    if do_shrink and result.bundles:
        best = _shrink_best(engine, signature, result.bundles[:shrink_hits], parallel, max_replays)
        original, result.shrink = best
        shrunk = original.with_actions(result.shrink.actions, result.shrink.hit_step)
        result.shrunk = shrunk.save(artifacts / "bundles" / "shrunk.json")
    return result


def _save_hits(spec: ScenarioSpec, engine: Engine, signature: BugSignature, stats: HuntStats,
               world: Callable[[int], int] | None, folder: Path) -> list[Path]:
    """Save every recorded hit as ``hit-NN.json`` (none when the game reports no episode seeds)."""
    saved: list[Path] = []
    for n, hit in enumerate(stats.hits):
        if hit.seed is None:
            warnings.warn(NoEpisodeSeedWarning(f"{spec.nodeid}: the game reports no info['rl_episode_seed']; "
                                               "its bug episodes cannot be replayed"), stacklevel=3)
            break
        bundle = bundle_for(spec, engine, signature, hit.seed, hit.actions, hit.hit_step, hit.events,
                            world_seed=world(hit.env_index) if callable(world) else None)
        saved.append(bundle.save(folder / f"hit-{n:02d}.json"))
    return saved


def _shrink_best(engine: Engine, signature: BugSignature, paths: list[Path], parallel: int,
                 max_replays: int) -> tuple[ReplayBundle, ShrinkResult]:
    """Shrink each of the bundles at ``paths`` and return the one whose reproduction is shortest.

    Recorded hits start from different seeds (places), so their minimal reproductions differ."""
    replay_venv = engine.make_replay_vec_env(parallel)
    best: tuple[ReplayBundle, ShrinkResult] | None = None
    try:
        replayer = Replayer(replay_venv, signature, getattr(replay_venv, "new_log_lines", None))
        for path in paths:
            candidate = ReplayBundle.load(path)
            replayer.replays = 0
            shrunk = shrink(replayer, candidate.seed, candidate.actions, max_replays=max_replays)
            if best is None or len(shrunk.actions) < len(best[1].actions):
                best = (candidate, shrunk)
    finally:
        replay_venv.close()
    assert best is not None, "no bundle to shrink"
    return best


def check_build(bundle: ReplayBundle, engine: Engine, where: str) -> list[str]:
    """Warn (and return the differences) when the bundle was recorded on another build."""
    from ..engines.base import identity_changes

    changed = identity_changes(bundle.engine, engine.describe(), type(engine).IDENTITY_KEYS)
    if changed:
        warnings.warn(BuildChangedWarning(f"{where}: the bundle was recorded on another build; "
                                          + "; ".join(changed)), stacklevel=2)
    return changed


@dataclass
class ReplayReport:
    """Replays of one bundle."""

    bundle: ReplayBundle
    path: Path
    outcomes: list[ReplayOutcome]
    build_changes: list[str] = field(default_factory=list)

    @property
    def reproduced(self) -> bool:
        """The signature recurred in every replay."""
        return bool(self.outcomes) and all(o.reproduced for o in self.outcomes)

    @property
    def reproductions(self) -> int:
        """How many replays reproduced the signature."""
        return sum(1 for o in self.outcomes if o.reproduced)

    def describe(self) -> str:
        """One paragraph for assertion messages."""
        b = self.bundle
        first = self.outcomes[0] if self.outcomes else None
        where = f" at step {first.hit_step}" if first and first.hit_step else ""
        return (f"bundle {self.path} ({b.signature}, {len(b.actions)} actions, seed {b.seed}): the signature "
                f"recurred in {self.reproductions} of {len(self.outcomes)} replay(s){where}"
                + (f"; build changed: {'; '.join(self.build_changes)}" if self.build_changes else ""))


def replay_bundle(bundle: ReplayBundle, path: Path, engine: Engine, times: int = 1, parallel: int = 1,
                  signature: BugSignature | None = None) -> ReplayReport:
    """Replay ``bundle`` ``times`` times (``parallel`` instances at once) in lockstep with its seed.

    ``signature`` overrides the bundle's (needed for predicate signatures, which are code)."""
    changes = check_build(bundle, engine, str(path))
    signature = signature or signature_of(bundle)
    venv = engine.make_replay_vec_env(max(1, min(parallel, times)))
    try:
        replayer = Replayer(venv, signature, getattr(venv, "new_log_lines", None))
        outcomes = replayer.run(bundle.seed, [bundle.actions] * times)
    finally:
        venv.close()
    return ReplayReport(bundle, path, [o for o in outcomes if o is not None], changes)


def signature_of(bundle: ReplayBundle) -> BugSignature:
    """The bug signature a bundle records (events and log patterns; predicates are code)."""
    kind, _, value = bundle.signature.partition(":")
    if kind == "event":
        return BugSignature.parse(value)
    if kind == "log":
        return BugSignature.parse("log:" + value)
    raise BundleError(f"a bundle with signature {bundle.signature!r} cannot be replayed alone: predicates are code, "
                     "not data; replay it from a test with @pytest.mark.rl_replay(bundle, bug=<the predicate>)")


def open_engine(bundle: ReplayBundle, bundle_path: str | os.PathLike[str], artifacts: Path,
                settings: Settings | None = None, nodeid: str = "") -> Engine:
    """Create (not start) the engine a bundle was recorded with.

    The bundle's game path resolves against the folder of ``bundle_path`` (the path rule); option
    paths (``--godot-bin``, ...) come from ``settings`` (default: every option at its default,
    resolved against the current folder).
    """
    from ..engines.base import EngineContext
    from ..engines.registry import engine_class, split_target
    from ..settings import Settings

    paths = PathBase.content(bundle_path)
    scheme, target = split_target(bundle.env_for(bundle_path))
    seed = bundle.world_seed if bundle.world_seed is not None else bundle.seed
    context = EngineContext(artifacts_dir=artifacts, seed=seed, options=dict(bundle.engine_options),
                            settings=settings if settings is not None else Settings.defaults(),
                            nodeid=nodeid, paths=paths)
    return engine_class(scheme)(target, context)
