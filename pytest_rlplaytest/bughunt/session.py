"""Running hunts and replays: the pieces the fixtures and the ``rlplaytest`` command share."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .bundle import ReplayBundle
from .hunt import HuntStats, make_hunt_wrapper
from .replay import Replayer, ReplayOutcome
from .shrink import ShrinkResult, shrink
from .signature import BugSignature

if TYPE_CHECKING:
    from ..engines.base import Engine
    from ..scenario import ScenarioSpec


class BuildChangedWarning(UserWarning):
    """A replay bundle was recorded on another build of the game or engine."""


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
        return self.shrink.original_length if self.shrink else None

    @property
    def shrunk_length(self) -> int | None:
        return len(self.shrink.actions) if self.shrink else None


def bundle_for(spec: ScenarioSpec, engine: Engine, signature: BugSignature, seed: int, actions: list[Any],
               hit_step: int, events: list[list[Any]], world_seed: int | None = None) -> ReplayBundle:
    """A replay bundle for one recorded episode of a scenario."""
    from ..engines.gym import factory_path
    from ..scenario import jsonable

    env = spec.env if isinstance(spec.env, str) else (factory_path(spec.env) or spec.env_label)
    options = {k: jsonable(v) for k, v in spec.engine_options.items()}
    if spec.env_kwargs:  # the game's own arguments: the replay must run the same game
        options["env_kwargs"] = jsonable(dict(spec.env_kwargs))
    if spec.max_episode_steps is not None:
        options["max_episode_steps"] = spec.max_episode_steps
    if hasattr(spec.env, "engine_scheme") and hasattr(spec.env, "path"):  # a spec object (GodotGame)
        env = f"{spec.env.engine_scheme}:{spec.env.path}"
        for key in ("scene",):
            if getattr(spec.env, key, None) is not None:
                options.setdefault(key, getattr(spec.env, key))
    return ReplayBundle(signature=signature.describe(), env=str(env), seed=int(seed), actions=list(actions),
                        hit_step=hit_step, engine_options=options, events=events, engine=engine.describe(),
                        scenario=spec.describe(), world_seed=world_seed)


def run_hunt(spec: ScenarioSpec, engine: Engine, artifacts: Path, *, n_envs: int | None = None,
             do_shrink: bool = True, parallel: int = 2, max_records: int = 20,
             max_replays: int = 5000, shrink_hits: int = 3) -> HuntResult:
    """Train an exploring agent against the bug's signature for ``spec.timesteps``; record every
    hitting episode (whole) as a bundle under ``<artifacts>/bundles/``; shrink the first
    ``shrink_hits`` of them (``max_replays`` replays each) and keep the shortest as ``shrunk.json``."""
    from ..agents import train_agent

    if spec.bug is None:
        raise ValueError(f"{spec.nodeid}: a bug hunt needs rl_scenario(bug=...): an info event name, "
                         "'log:<regex>' or a callable(info) -> bool")
    signature: BugSignature = spec.bug
    venv = engine.make_vec_env(n_envs or spec.n_envs, seed=spec.seed)
    log_lines = getattr(venv, "new_log_lines", None)
    hunt = make_hunt_wrapper(venv, signature, novelty=spec.novelty, cell_size=spec.cell_size,
                             max_records=max_records, log_lines=log_lines)
    start = time.perf_counter()
    try:
        train_agent(spec, hunt, artifacts)
        hunt.finish()
    finally:
        hunt.close()
    seconds = time.perf_counter() - start
    stats: HuntStats = hunt.stats
    result = HuntResult(stats.found, stats.first_hit_timestep, stats.timesteps, seconds, stats)
    folder = artifacts / "bundles"
    for n, hit in enumerate(stats.hits):
        if hit.seed is None:
            warnings.warn(f"{spec.nodeid}: the game reports no info['rl_episode_seed']; its bug episodes "
                          "cannot be replayed", stacklevel=2)
            break
        world = getattr(venv, "world_seed", None)
        bundle = bundle_for(spec, engine, signature, hit.seed, hit.actions, hit.hit_step, hit.events,
                            world_seed=world(hit.env_index) if callable(world) else None)
        result.bundles.append(bundle.save(folder / f"hit-{n:02d}.json"))
    if do_shrink and result.bundles:
        # Recorded hits start from different seeds (places), so their minimal reproductions differ:
        # shrink the first few and keep the shortest.
        replay_venv = engine.make_replay_vec_env(parallel)
        best: tuple[ReplayBundle, ShrinkResult] | None = None
        try:
            replayer = Replayer(replay_venv, signature, getattr(replay_venv, "new_log_lines", None))
            for path in result.bundles[:shrink_hits]:
                candidate = ReplayBundle.load(path)
                replayer.replays = 0
                shrunk_once = shrink(replayer, candidate.seed, candidate.actions, max_replays=max_replays)
                if best is None or len(shrunk_once.actions) < len(best[1].actions):
                    best = (candidate, shrunk_once)
        finally:
            replay_venv.close()
        assert best is not None
        original, result.shrink = best
        shrunk = original.with_actions(result.shrink.actions, result.shrink.hit_step)
        result.shrunk = shrunk.save(folder / "shrunk.json")
    return result


def check_build(bundle: ReplayBundle, engine: Engine, where: str) -> list[str]:
    """Warn (and return the differences) when the bundle was recorded on another build."""
    from ..engines.base import identity_changes

    changed = identity_changes(bundle.engine, engine.describe())
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
    raise ValueError(f"a bundle with signature {bundle.signature!r} cannot be replayed alone: predicates are code, "
                     "not data; replay it from a test with @pytest.mark.rl_replay(bundle, bug=<the predicate>)")


def open_engine(bundle: ReplayBundle, rootdir: Path, artifacts: Path, settings: Any = None,
                nodeid: str = "") -> Engine:
    """Create (not start) the engine a bundle was recorded with."""
    from ..engines.base import EngineContext
    from ..engines.registry import engine_class, split_target
    from ..settings import Settings

    scheme, target = split_target(bundle.env)
    if settings is None:
        settings = Settings.defaults(rootdir)
    options = dict(bundle.engine_options)
    seed = bundle.world_seed if bundle.world_seed is not None else bundle.seed
    context = EngineContext(artifacts_dir=artifacts, seed=seed, options=options, settings=settings, nodeid=nodeid)
    return engine_class(scheme)(target, context)
