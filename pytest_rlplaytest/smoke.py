"""Smoke oracles: checks that need no trained agent, for every scene of a game.

A seeded random agent plays ``steps`` steps in ``resets`` segments, each started by a reset with the
same episode seed, on a one-agent replay env (``Engine.make_replay_vec_env(1)``: a reset with seed S
starts the episode S exactly). Built-in oracles, each named in its failure:

================== ====================================================================================
oracle             fails when
================== ====================================================================================
finite_observation an observation holds NaN or inf
observation_space  an observation is outside its declared space (shape, keys, Box bounds)
finite_reward      a reward is NaN, inf or not a number
time_limit         an episode runs past its time limit (``time_limit=``, else the scenario's
                   ``max_episode_steps`` or the Gymnasium spec's) without ending
script_error       the game's log shows ``SCRIPT ERROR`` (from boot on) or an engine ``ERROR:`` line (from
                   the first reset on) (Godot)
leak               ``object_count`` or ``static_memory_mb`` (the first step after each reset) grows at
                   every one of ``resets`` resets; for values that do not grow the chance of that is at
                   most ``1 / resets!`` (5 resets: 1/120), the test's false-alarm rate
stuck              ``info["position"]`` does not change for ``stuck_steps`` steps while the agent acts
reset_restores     the first observation after a reset with the start seed differs from the first one
================== ====================================================================================

Each failure writes a replay bundle (:class:`~pytest_rlplaytest.bughunt.bundle.ReplayBundle`, signature
``smoke:<oracle>``; a script error's is the log signature of :data:`ERROR_LINE`, which
``rl_replay`` replays as is) of the episode so far and raises :class:`SmokeFailure`.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .engines.checks import ObservationError, RewardError
from .telemetry import EPISODE_SEED_KEY, OBJECT_COUNT_KEY, POSITION_KEY, STATIC_MEMORY_KEY
from .verdicts.errors import VerdictFailure

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

    from .bughunt.bundle import ReplayBundle
    from .engines.base import Engine

__all__ = ["ORACLES", "SmokeFailure", "SmokeReport", "leak_test", "run_smoke"]

ORACLES = ("finite_observation", "observation_space", "finite_reward", "time_limit", "script_error", "leak",
           "stuck", "reset_restores")
#: a Godot log line that reports an error: a GDScript runtime error or an engine ERROR
ERROR_LINE = re.compile(r"^\s*(SCRIPT ERROR|ERROR):")
#: what counts in the lines printed before the first reset's reply (boot): only GDScript errors, since
#: engine ERROR lines there are about the machine (a user data folder it cannot create), not the scene
BOOT_ERROR_LINE = re.compile(r"^\s*SCRIPT ERROR:")
LEAK_KEYS = (OBJECT_COUNT_KEY, STATIC_MEMORY_KEY)


class SmokeFailure(VerdictFailure):
    """A smoke oracle failed; ``oracle``, ``step`` and ``bundle`` say which, where, and the replay."""

    def __init__(self, message: str, oracle: str, step: int, bundle: Path | None) -> None:
        super().__init__(message)
        self.oracle, self.step, self.bundle = oracle, step, bundle


@dataclass
class SmokeReport:
    """What a passing smoke run saw: steps, episodes ended, the leak samples, oracles not applicable."""

    label: str
    steps: int = 0
    episodes_ended: int = 0
    leak_samples: dict[str, list[float]] = field(default_factory=dict)
    not_applicable: list[str] = field(default_factory=list)


def leak_test(samples: Sequence[float]) -> bool:
    """True (a leak) when every sample is above the one before: a strictly monotone growth over all
    resets. Values that do not grow give that with probability at most ``1 / len(samples)!``."""
    return len(samples) >= 3 and all(b > a for a, b in itertools.pairwise(samples))


def _first(obs: Any) -> Any:
    """Env 0's observation of a batched VecEnv observation (a dict of arrays for Dict spaces)."""
    if isinstance(obs, Mapping):
        return {k: np.asarray(v)[0] for k, v in obs.items()}
    return np.asarray(obs)[0]


def _space_problem(space: Any, obs: Any) -> tuple[str, str] | None:
    """``(oracle, detail)`` when ``obs`` is not finite or not in ``space``, else None."""
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        for key, sub in space.spaces.items():
            problem = _space_problem(sub, obs[key]) if key in obs else ("observation_space", f"key {key!r} missing")
            if problem is not None:
                return problem[0], f"key {key!r}: {problem[1]}"
        return None
    arr = np.asarray(obs)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(np.atleast_1d(arr)))[0].tolist()
        return "finite_observation", f"index {bad} holds {np.atleast_1d(arr)[tuple(bad)]}"
    if isinstance(space, spaces.Box):
        if arr.shape != space.shape:
            return "observation_space", f"shape {arr.shape}, the space's is {space.shape}"
        out = np.argwhere((arr < space.low) | (arr > space.high))
        if out.size:
            i = tuple(out[0].tolist())
            return "observation_space", (f"index {list(i)} holds {arr[i]}, outside "
                                         f"[{space.low[i]}, {space.high[i]}]")
        return None
    return None if space.contains(obs) else ("observation_space", f"{obs!r} is not in {space}")


@dataclass
class _Smoke:
    """One smoke run's state: the env, the oracles' bookkeeping, the episode's actions."""

    venv: VecEnv
    seed: int
    time_limit: int | None
    stuck_steps: int
    on_failure: Callable[[str, int, int, str, Any, list[Any], int], SmokeFailure]
    step: int = 0
    episode_step: int = 0
    actions: list[Any] = field(default_factory=list)
    still: int = 0
    last_position: Any = None
    start_obs: Any = None
    episode_seed: int = 0
    saw_position: bool = False
    report: SmokeReport = field(default_factory=lambda: SmokeReport(""))

    def fail(self, oracle: str, detail: str, obs: Any) -> SmokeFailure:
        return self.on_failure(oracle, self.step, self.episode_step, detail, obs, self.actions, self.episode_seed)

    def observation_failure(self, exc: ObservationError) -> SmokeFailure:
        return self.fail("finite_observation" if exc.kind == "not_finite" else "observation_space", str(exc),
                         exc.observation)

    def log_errors(self, obs: Any) -> None:
        __tracebackhide__ = True
        lines = getattr(self.venv, "new_log_lines", None)
        if lines is None:
            return
        pattern = ERROR_LINE if self.start_obs is not None else BOOT_ERROR_LINE
        bad = [line.strip() for line in lines(0) if pattern.match(line)]
        if bad:
            raise self.fail("script_error", "the game logged: " + " | ".join(bad[:5]), obs)

    def check_obs(self, obs: Any) -> None:
        __tracebackhide__ = True
        problem = _space_problem(self.venv.observation_space, obs)
        if problem is not None:
            raise self.fail(problem[0], problem[1], obs)

    def reset(self) -> Any:
        __tracebackhide__ = True
        from .bughunt.replay import seed_each

        seed_each(self.venv, [self.seed])
        self.episode_seed = self.seed
        try:
            obs = _first(self.venv.reset())
        except ObservationError as exc:
            raise self.observation_failure(exc) from None
        self.episode_step, self.actions, self.still, self.last_position = 0, [], 0, None
        self.check_obs(obs)
        self.log_errors(obs)
        if self.start_obs is None:
            self.start_obs = obs
        elif not _same(self.start_obs, obs):
            raise self.fail("reset_restores", f"the first observation after a reset with seed {self.seed} "
                            f"differs from the first one: {_show(self.start_obs)}", obs)
        return obs

    def play(self, steps: int, leak_samples: dict[str, list[float]]) -> None:
        __tracebackhide__ = True
        space = self.venv.action_space
        for k in range(steps):
            action = space.sample()
            self.actions.append(np.asarray(action).tolist())
            self.step, self.episode_step = self.step + 1, self.episode_step + 1
            try:
                obs, rewards, dones, infos = self.venv.step(np.asarray([action]))
            except ObservationError as exc:
                raise self.observation_failure(exc) from None
            except RewardError as exc:
                raise self.fail("finite_reward", str(exc), None) from None
            info = infos[0]
            self.episode_seed = int(info.get(EPISODE_SEED_KEY, self.episode_seed))  # after an auto-reset: the new one
            last = info.get("terminal_observation", _first(obs)) if dones[0] else _first(obs)
            self.after_step(last, rewards[0], bool(dones[0]), info)
            if k == 0:
                for key in LEAK_KEYS:
                    if isinstance(info.get(key), (int, float)):
                        leak_samples.setdefault(key, []).append(float(info[key]))

    def after_step(self, obs: Any, reward: Any, done: bool, info: Mapping[str, Any]) -> None:
        __tracebackhide__ = True
        self.check_obs(obs)
        if not isinstance(reward, (int, float, np.number)) or not math.isfinite(float(reward)):
            raise self.fail("finite_reward", f"reward {reward!r}", obs)
        self.log_errors(obs)
        if self.time_limit is not None and not done and self.episode_step >= self.time_limit:
            raise self.fail("time_limit", f"the episode did not end within its time limit of "
                            f"{self.time_limit} steps", obs)
        self.check_stuck(obs, info)
        if done:
            self.report.episodes_ended += 1
            self.episode_step, self.actions, self.still, self.last_position = 0, [], 0, None

    def check_stuck(self, obs: Any, info: Mapping[str, Any]) -> None:
        __tracebackhide__ = True
        position = info.get(POSITION_KEY)
        if position is None:
            return
        here, self.saw_position = np.asarray(position, dtype=float), True
        if self.last_position is not None and np.allclose(here, self.last_position, rtol=0, atol=1e-6):
            self.still += 1
            if self.still >= self.stuck_steps:
                raise self.fail("stuck", f"position {here.tolist()} unchanged for {self.still} steps of random "
                                "actions", obs)
        else:
            self.still = 0
        self.last_position = here


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape:
        return False
    if x.dtype.kind in "fc" or y.dtype.kind in "fc":
        return bool(np.allclose(x, y, rtol=0, atol=1e-6, equal_nan=True))
    return bool(np.array_equal(x, y))


def _show(obs: Any) -> str:
    if isinstance(obs, Mapping):
        return "{" + ", ".join(f"{k!r}: {_show(v)}" for k, v in obs.items()) + "}"
    return np.array2string(np.asarray(obs), precision=4, threshold=40) if obs is not None else "(not decoded)"


def run_smoke(engine: Engine, *, steps: int = 300, resets: int = 5, stuck_steps: int = 40,
              time_limit: int | None = None, seed: int = 0, label: str = "",
              bundle: Callable[[str, int, int, list[Any]], ReplayBundle] | None = None,
              bundle_dir: Path | None = None) -> SmokeReport:
    """Play a seeded random agent on ``engine`` and check every oracle (see the module's table).

    Args:
        engine: a started engine.
        steps: steps in all, in ``resets`` segments each started by a reset with ``seed``.
        stuck_steps: steps without a position change that make an agent stuck.
        time_limit: the episode's time limit in steps (None: the oracle is not applied).
        bundle: ``(oracle, seed, hit_step, actions) -> ReplayBundle`` for a failure's replay bundle.
        bundle_dir: where failures' bundles go (``smoke-<oracle>.json``).

    Raises:
        SmokeFailure: naming the oracle, the step, the observation and the bundle.
        VerdictUsageError: steps, resets or stuck_steps below 1.
    """
    __tracebackhide__ = True
    if steps < 1 or resets < 1 or stuck_steps < 1:
        from .verdicts.errors import VerdictUsageError

        raise VerdictUsageError(f"run_smoke needs steps, resets and stuck_steps >= 1 (got {steps}, {resets}, "
                                f"{stuck_steps})")
    venv = engine.make_replay_vec_env(1)
    try:
        venv.action_space.seed(seed)
        on_failure = _failure_writer(label or engine.describe().get("engine", "game"), bundle, bundle_dir)
        smoke = _Smoke(venv, seed, time_limit, stuck_steps, on_failure, report=SmokeReport(label))
        samples: dict[str, list[float]] = {}
        for r in range(resets):
            smoke.reset()
            smoke.play(steps // resets + (1 if r < steps % resets else 0), samples)
        smoke.report.steps, smoke.report.leak_samples = smoke.step, samples
        _judge_leaks(smoke, samples, resets)
        smoke.report.not_applicable = _not_applicable(venv, samples, time_limit, smoke.saw_position)
        return smoke.report
    finally:
        venv.close()


def _judge_leaks(smoke: _Smoke, samples: Mapping[str, list[float]], resets: int) -> None:
    __tracebackhide__ = True
    for key, values in samples.items():
        if len(values) == resets and leak_test(values):
            raise smoke.fail("leak", f"info[{key!r}] grew at every one of {resets} resets: {values} (the chance of "
                             f"that without growth is at most 1/{resets}! = {1 / math.factorial(resets):.4f})",
                             smoke.start_obs)


def _not_applicable(venv: VecEnv, samples: Mapping[str, Any], time_limit: int | None, saw_position: bool) -> list[str]:
    out = [] if hasattr(venv, "new_log_lines") else ["script_error"]
    out += [] if samples else ["leak"]
    out += [] if time_limit is not None else ["time_limit"]
    return out + ([] if saw_position else ["stuck"])


def _failure_writer(label: str, bundle: Callable[[str, int, int, list[Any]], ReplayBundle] | None,
                    bundle_dir: Path | None) -> Callable[[str, int, int, str, Any, list[Any], int], SmokeFailure]:
    def fail(oracle: str, step: int, episode_step: int, detail: str, obs: Any, actions: list[Any],
             seed: int) -> SmokeFailure:
        path = None
        if bundle is not None and bundle_dir is not None:
            path = bundle(oracle, seed, max(episode_step, 1), list(actions)).save(bundle_dir / f"smoke-{oracle}.json")
        where = f"step {step} (step {episode_step} of the episode with seed {seed})"
        return SmokeFailure(f"rl_smoke {label}: oracle {oracle} failed at {where}: {detail}\n"
                            f"  observation: {_show(obs)}\n  replay bundle: {path or '(none written)'}",
                            oracle, step, path)

    return fail


# -- the rl_smoke marker ---------------------------------------------------------------------------
#: the rl_smoke marker's own arguments (the others are rl_scenario's: seed, env_kwargs, engine options...)
SMOKE_ARGS: Mapping[str, str] = {
    "scenes": "Godot scenes to check (res:// paths); default: every scene of the project holding a Sync node",
    "steps": "steps of the random agent per scene (default 300)",
    "resets": "resets (segments) among those steps, the leak test's sample count (default 5)",
    "stuck_steps": "steps without a position change that make the agent stuck (default 40)",
    "time_limit": "an episode's time limit in steps (default: max_episode_steps, else the Gymnasium spec's)",
}
SMOKE_DOC = ("rl_smoke(env, scenes=None, steps=300, resets=5, stuck_steps=40, time_limit=None, **rl_scenario "
             "arguments): smoke oracles without training for every scene (Godot: every scene holding a Sync node, "
             "one test each) through the rl_smoke fixture: finite observations in their space, finite rewards, "
             "the time limit, no script error, no leak over resets, not stuck, reset restores the start")


def smoke_markdown() -> str:
    """The README's table of the ``rl_smoke`` marker's own arguments, from :data:`SMOKE_ARGS`."""
    from .common.table import render_markdown_table
    from .settings import markdown_text

    rows = [[f"`{name}`", markdown_text(help_text)] for name, help_text in SMOKE_ARGS.items()]
    return "\n".join(render_markdown_table(["`rl_smoke` argument", "meaning"], rows))


def split_smoke_kwargs(kwargs: Mapping[str, Any], nodeid: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """``(smoke arguments, rl_scenario arguments)`` of an ``rl_smoke`` marker's keywords, the counts
    checked.

    Raises:
        ScenarioError: a count that is not a whole number >= 1, naming the argument.
    """
    from .scenario import ScenarioError, whole

    smoke = {k: v for k, v in kwargs.items() if k in SMOKE_ARGS}
    for name in ("steps", "resets", "stuck_steps", "time_limit"):
        if smoke.get(name) is not None:
            try:
                smoke[name] = whole(1)(smoke[name])
            except ValueError as exc:
                raise ScenarioError(f"{nodeid}: rl_smoke({name}={smoke[name]!r}): {name} {exc}") from None
    return smoke, {k: v for k, v in kwargs.items() if k not in SMOKE_ARGS}


def smoke_scenes(env: Any, scenes: Any, test_file: Path) -> list[str | None]:
    """The scenes one test each: ``scenes=`` as given, else for a Godot project every scene holding a
    Sync node, else ``[None]`` (one test of the game itself).

    Raises:
        ScenarioError: a Godot project with no such scene, or ``scenes=`` not a list of strings.
    """
    from .common.paths import PathBase
    from .engines.godot.scenefile import sync_scenes
    from .engines.registry import split_target
    from .scenario import ScenarioError

    if scenes is not None:
        if isinstance(scenes, str) or not all(isinstance(s, str) for s in scenes):
            raise ScenarioError(f"rl_smoke(scenes={scenes!r}): scenes must be a list of res:// paths")
        return list(scenes)
    scheme, target = split_target(env)
    if scheme != "godot" or not isinstance(target, str):
        return [None]
    project = PathBase.marker(test_file).resolve(target)
    if not (project / "project.godot").is_file():
        return [None]  # an exported binary: its own main scene
    found = sync_scenes(project)
    if not found:
        raise ScenarioError(f"rl_smoke(env={env!r}): no scene of {project} holds a Sync node; name them with scenes=")
    return list(found)


def scene_id(scene: str | None) -> str:
    """A test id for a scene: its file name without ``res://`` and ``.tscn``."""
    return "game" if scene is None else scene.rsplit("/", 1)[-1].removesuffix(".tscn")


def default_time_limit(spec: Any) -> int | None:
    """The scenario's ``max_episode_steps``, else a registered Gymnasium id's own limit, else None."""
    if spec.max_episode_steps is not None:
        return int(spec.max_episode_steps)
    if spec.engine_scheme == "gym" and isinstance(spec.engine_target, str) and not spec.engine_target.startswith("py:"):
        import gymnasium as gym

        try:
            limit = gym.spec(spec.engine_target).max_episode_steps
        except gym.error.Error:
            return None
        return int(limit) if limit is not None else None
    return None


class SmokeCheck:
    """What the ``rl_smoke`` fixture gives a test: the scene's started engine and ``check()``.

    Attributes:
        spec: the scenario (the marker's rl_scenario arguments, with this test's scene).
        engine: the started engine (pass it to ``assert_deterministic`` too).
        scene: the scene this test checks (None: the game itself).
    """

    def __init__(self, spec: Any, engine: Engine, artifacts: Path, options: Mapping[str, Any]) -> None:
        self.spec, self.engine, self.artifacts = spec, engine, artifacts
        self.scene: str | None = spec.engine_options.get("scene")
        self.options = dict(options)

    def check(self, *, steps: int | None = None, resets: int | None = None, stuck_steps: int | None = None,
              time_limit: int | None = None) -> SmokeReport:
        """Run every oracle (arguments override the marker's); a failure fails the test naming the
        oracle, the step and the observation, with a replay bundle in the artifacts' ``bundles/``."""
        __tracebackhide__ = True
        from .bughunt.session import bundle_for

        o = self.options
        limit = time_limit or o.get("time_limit") or default_time_limit(self.spec)

        def bundle(oracle: str, seed: int, hit_step: int, actions: list[Any]) -> ReplayBundle:
            # a script error replays as the log signature it is; the other oracles are named
            signature = f"log:{ERROR_LINE.pattern}" if oracle == "script_error" else f"smoke:{oracle}"
            return bundle_for(self.spec, self.engine, signature, seed, actions, hit_step, [],
                              world_seed=self.engine.context.seed if self.spec.engine_scheme != "gym" else None)

        counts = {name: given or o.get(name) for name, given in
                  (("steps", steps), ("resets", resets), ("stuck_steps", stuck_steps))}
        return run_smoke(self.engine, **{k: v for k, v in counts.items() if v is not None}, time_limit=limit,
                         seed=self.spec.seed, label=self.spec.nodeid, bundle=bundle,
                         bundle_dir=self.artifacts / "bundles")
