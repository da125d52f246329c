"""pytest hooks, options, markers and fixtures: thin, delegating to the rest of the package.

Fixture chain for a test marked ``@pytest.mark.rl_scenario(...)``::

    rl_scenario  -> the frozen ScenarioSpec (marker + settings)
    rl_engine    -> the engine booted for it (Gymnasium / Godot / SpacetimeDB), torn down after
    rl_env       -> an SB3 VecEnv of that engine (training env), closed after
    rl_agent     -> trained on rl_env (SB3 / sb3-contrib) or loaded from model= (.zip / .onnx)
    rl_playtest  -> callable: play evaluation episodes on rl_env, reseeded -> PlaytestResult
    rl_bughunt   -> callable: hunt the scenario's bug=, record, shrink -> HuntResult
    rl_replay    -> the replays of @pytest.mark.rl_replay("bundle.json") -> ReplayReport
    rl_smoke     -> @pytest.mark.rl_smoke(env=...): one test per scene, its engine started -> SmokeCheck
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import settings as settings_mod
from .engines.spacetimedb.fixtures import spacetimedb_instance as _spacetimedb_instance
from .scenario import ScenarioError, ScenarioSpec, build_spec, derive_seed, marker_help
from .smoke import SMOKE_DOC

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

    from .agents import Agent
    from .agents.eval_backend import EvalBackend
    from .bughunt.session import HuntResult, ReplayReport
    from .engines.base import Engine
    from .playtest import Episode, PlaytestResult
    from .smoke import SmokeCheck
    from .verdicts.check import BaselineCheck

SETTINGS_KEY = pytest.StashKey[settings_mod.Settings]()
SUMMARY_KEY = pytest.StashKey["RunSummary"]()
TRAINING_KEY = pytest.StashKey[dict[str, Any]]()
#: the verdict that stopped a test's curriculum, concluded as the test's call
CURRICULUM_STOP_KEY = pytest.StashKey[Any]()
POOL_KEY = pytest.StashKey[Any]()

LONG_TRAINING_DOC = (
    "long_training: a scenario that trains for long (nightly). Skipped unless selected with "
    "-m long_training (any -m expression naming it) or --rl-long; --rl-timesteps still caps it."
)


# -- configuration ------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the plugin's options (from ``settings.OPTIONS``) and ini keys."""
    settings_mod.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers, build the typed settings once per session (``config.stash``) and register
    the verdict and run-summary plugins."""
    config.addinivalue_line("markers", marker_help())
    config.addinivalue_line("markers", LONG_TRAINING_DOC)
    config.addinivalue_line("markers", SMOKE_DOC)
    config.addinivalue_line(
        "markers", "rl_replay(bundle, times=1, bug=None, parallel=1): replay a recorded bug-hunt bundle (path "
        "relative to the test file) in lockstep with its seed; the rl_replay fixture reports whether the bug "
        "recurred. Track a known bug with @pytest.mark.xfail(strict=True) until its fix lands."
    )
    try:
        config.stash[SETTINGS_KEY] = settings_mod.resolve(config)
    except settings_mod.SettingError as exc:
        raise pytest.UsageError(str(exc)) from None
    from .verdicts.hooks import VerdictPlugin

    config.pluginmanager.register(VerdictPlugin(config, config.stash[SETTINGS_KEY]), VerdictPlugin.NAME)
    summary = RunSummary(config)
    config.stash[SUMMARY_KEY] = summary
    config.pluginmanager.register(summary, "rlplaytest-summary")
    if config.pluginmanager.hasplugin("html") and config.getoption("htmlpath", None):  # pytest-html --html=
        from .reports.html import HtmlExtras

        config.pluginmanager.register(HtmlExtras(), HtmlExtras.NAME)


def get_settings(config: pytest.Config) -> settings_mod.Settings:
    """The resolved settings of this run."""
    return config.stash[SETTINGS_KEY]


def _long_selected(config: pytest.Config) -> bool:
    markexpr = str(config.getoption("markexpr", "") or "")
    return get_settings(config).long or "long_training" in markexpr


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``long_training`` scenarios unless selected (``-m long_training`` or ``--rl-long``)."""
    if _long_selected(config):
        return
    skip = pytest.mark.skip(
        reason="long_training: runs only when selected with -m long_training or --rl-long (nightly job)"
    )
    for item in items:
        if item.get_closest_marker("long_training") is not None:
            item.add_marker(skip)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.rl_smoke``: one test per scene (``rl_smoke[landing]``, ...)."""
    marker = metafunc.definition.get_closest_marker("rl_smoke")
    if marker is None or "rl_smoke" not in metafunc.fixturenames:
        return
    from .smoke import scene_id, smoke_scenes

    env = marker.args[0] if marker.args else marker.kwargs.get("env")
    try:
        scenes = smoke_scenes(env, marker.kwargs.get("scenes"), Path(str(metafunc.definition.path)))
    except (ScenarioError, TypeError) as exc:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: {exc}") from None
    if scenes != [None]:  # a game without scenes: one test, not parametrized
        metafunc.parametrize("rl_smoke", scenes, indirect=True, ids=[scene_id(s) for s in scenes])


# -- fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def rl_settings(request: pytest.FixtureRequest) -> settings_mod.Settings:
    """The plugin-wide settings (CLI > environment > ini > default), with their sources."""
    return get_settings(request.config)


def _engine_options_allowed(scheme: str) -> dict[str, str]:
    from .engines.registry import engine_class

    return dict(engine_class(scheme).OPTIONS)


def resolve_scenario(item: pytest.Item) -> ScenarioSpec:
    """Build the frozen spec of a test from its ``rl_scenario`` marker (raises ScenarioError)."""
    marker = item.get_closest_marker("rl_scenario")
    if marker is None:
        raise ScenarioError(f"{item.nodeid}: this test uses an rl_* fixture but has no "
                            "@pytest.mark.rl_scenario(env=...) marker")
    return build_spec(
        marker.args, marker.kwargs, nodeid=item.nodeid, settings=get_settings(item.config),
        test_file=Path(str(item.path)), long_training=item.get_closest_marker("long_training") is not None,
        engine_options_allowed=_engine_options_allowed,
    )


@pytest.fixture
def rl_scenario(request: pytest.FixtureRequest) -> ScenarioSpec:
    """The test's scenario: its ``rl_scenario`` marker resolved against the settings, frozen."""
    error = None
    try:
        spec = resolve_scenario(request.node)
    except ScenarioError as exc:
        error = str(exc)
    if error is not None:
        pytest.fail(error, pytrace=False)
    from .reports.junit import set_property

    set_property(request.node, "rl_seed", spec.seed)
    return spec


@pytest.fixture
def rl_artifacts(request: pytest.FixtureRequest) -> Path:
    """This test's artifact folder under ``--rl-artifacts`` (kept after the run, pass or fail)."""
    from .reports.artifacts import artifacts_dir_for
    from .reports.junit import set_property

    path = artifacts_dir_for(get_settings(request.config).artifacts, request.node.nodeid)
    set_property(request.node, "rl_artifacts", str(path))
    return path


@pytest.fixture
def rl_property(request: pytest.FixtureRequest) -> Callable[[str, Any], None]:
    """``rl_property(name, value)``: record a JUnit property of this test (through
    ``item.user_properties``, so it survives ``-n`` and works with every ``junit_family``)."""
    from .reports.junit import set_property

    def record(name: str, value: Any) -> None:
        set_property(request.node, name, value)

    return record


@pytest.fixture
def rl_engine(
    request: pytest.FixtureRequest, rl_scenario: ScenarioSpec, rl_artifacts: Path
) -> Generator[Engine, None, None]:
    """The engine that runs the scenario's game, started for this test and torn down after it.

    An engine whose binary is missing skips the test with a hint (fails under
    ``--rl-require-engines``).
    """
    yield from _started_engine(request, rl_scenario, rl_artifacts)


def _started_engine(request: pytest.FixtureRequest, spec: ScenarioSpec, artifacts: Path) -> Generator[Engine, None, None]:
    """Start the engine of ``spec`` (skip or fail when its binary is missing), yield it, close it."""
    from .engines.base import EngineContext, EngineUnavailable, skip_or_fail_unavailable
    from .engines.registry import engine_class

    settings = get_settings(request.config)
    options = dict(spec.engine_options)
    options.setdefault("env_kwargs", dict(spec.env_kwargs))
    options.setdefault("max_episode_steps", spec.max_episode_steps)
    context = EngineContext(artifacts_dir=artifacts, seed=spec.seed, options=options, settings=settings,
                            nodeid=spec.nodeid, paths=spec.paths)
    engine = engine_class(spec.engine_scheme)(spec.engine_target, context)
    try:
        engine.start()
    except EngineUnavailable as exc:
        engine.close()
        skip_or_fail_unavailable(settings, spec.engine_scheme, exc)
    except BaseException:
        engine.close()
        raise
    engine = _on_ray(engine, settings, request.config)
    try:
        yield engine
    finally:
        engine.close()


def _on_ray(engine: Engine, settings: settings_mod.Settings, config: pytest.Config) -> Engine:
    """The engine fanned out on the Ray cluster under ``--rl-ray`` (unchanged without it); a
    missing Ray or an unreachable cluster fails the test naming the fix."""
    if settings.ray is None:
        return engine
    from .distributed.engine import wrap_for_ray
    from .errors import RLPlaytestError

    error = None
    try:
        return wrap_for_ray(engine, settings, owner=config)
    except RLPlaytestError as exc:
        error = str(exc)
    engine.close()
    pytest.fail(error, pytrace=False)


def _smoke_options_allowed(scheme: str) -> dict[str, str]:
    """The engine's marker arguments and rl_smoke's own (already taken out: named in the hint for a typo)."""
    from .smoke import SMOKE_ARGS

    return {**_engine_options_allowed(scheme), **SMOKE_ARGS}


@pytest.fixture
def rl_smoke(request: pytest.FixtureRequest, rl_artifacts: Path) -> Generator[SmokeCheck, None, None]:
    """The ``rl_smoke`` marker's scene (one test per scene) with its engine started:
    ``rl_smoke.check()`` runs the smoke oracles (see :mod:`pytest_rlplaytest.smoke`)."""
    from .smoke import SmokeCheck, split_smoke_kwargs

    marker = request.node.get_closest_marker("rl_smoke")
    error = None
    if marker is None:
        error = f"{request.node.nodeid}: the rl_smoke fixture needs @pytest.mark.rl_smoke(env=...)"
    else:
        try:
            smoke, kwargs = split_smoke_kwargs(marker.kwargs, request.node.nodeid)
            scene = getattr(request, "param", None)
            if scene is not None:
                kwargs["scene"] = scene
            spec = build_spec(marker.args, kwargs, nodeid=request.node.nodeid, settings=get_settings(request.config),
                              test_file=Path(str(request.node.path)), engine_options_allowed=_smoke_options_allowed)
        except ScenarioError as exc:
            error = str(exc).replace("rl_scenario", "rl_smoke")
    if error is not None:
        pytest.fail(error, pytrace=False)
    for engine in _started_engine(request, spec, rl_artifacts):
        yield SmokeCheck(spec, engine, rl_artifacts, smoke)


@pytest.fixture
def rl_env(rl_engine: Engine, rl_scenario: ScenarioSpec) -> Generator[VecEnv, None, None]:
    """The game as an SB3 ``VecEnv`` (``n_envs`` copies or agents), closed at teardown."""
    venv = rl_engine.make_vec_env(rl_scenario.n_envs, seed=rl_scenario.seed)
    if rl_scenario.trains and rl_scenario.engine_restarts:  # --rl-engine-restarts: relaunch a failing game
        from .engines.restarts import RestartingVecEnv

        venv = RestartingVecEnv(venv, rl_engine, rl_scenario.n_envs, rl_scenario.seed, rl_scenario.engine_restarts)
    try:
        yield venv
    finally:
        venv.close()


@pytest.fixture
def rl_agent(
    request: pytest.FixtureRequest, rl_scenario: ScenarioSpec, rl_engine: Engine, rl_env: VecEnv, rl_artifacts: Path
) -> Agent:
    """The scenario's agent: trained for its budget (checkpointed, resumed, its game restarted as the
    settings say), loaded from ``model=`` (.zip / .onnx), or taken from the agent cache (``cache:``)."""
    from .agents import AgentError, load_agent, seed_everything, train_agent
    from .agents.cache import AgentCacheMiss, load_cached_agent, store_trained_agent
    from .agents.nightly import TrainingPlan
    from .reports.training_notes import record_stored_agent, record_training

    spec, settings = rl_scenario, get_settings(request.config)
    seed_everything(spec.seed, spec.torch_threads)
    error = None
    try:
        if spec.curriculum:
            return _curriculum_agent(request, spec, rl_env, rl_artifacts)
        multi = _multi_policy_agent(request.node, spec, rl_env, rl_artifacts)
        if multi is not None:
            return multi
        if spec.model is not None:
            agent = load_agent(spec, rl_env)
            request.node.stash[TRAINING_KEY] = record_stored_agent(request.node, str(spec.model), None)
            return agent
        if spec.model_cache:
            agent, cached = load_cached_agent(spec, settings, rl_engine, rl_env)
            request.node.stash[TRAINING_KEY] = record_stored_agent(request.node, str(cached.path), cached)
            return agent  # type: ignore[no-any-return]
        plan = TrainingPlan.for_scenario(spec, settings, rl_env)
        if spec.self_play:  # two-seat self-play: the learner in seat A, its pool in <artifacts>/pool
            from .agents.selfplay import train_self_play

            model, report, request.node.stash[POOL_KEY] = train_self_play(spec, rl_env, rl_artifacts, plan)
        else:
            model, report = train_agent(spec, rl_env, rl_artifacts, plan=plan)
        entry = store_trained_agent(spec, settings, rl_engine, rl_env, report.model_path, report.timesteps)
        request.node.stash[TRAINING_KEY] = record_training(request.node, report, rl_artifacts, entry)
    except (ScenarioError, AgentError, AgentCacheMiss) as exc:
        error = str(exc)
    if error is not None:
        pytest.fail(error, pytrace=False)
    return model  # type: ignore[no-any-return]


def _multi_policy_agent(item: pytest.Item, spec: ScenarioSpec, venv: VecEnv, artifacts: Path) -> Agent | None:
    """A scene whose agents train several policies: one model per policy, trained in rounds or
    loaded from ``model={name: path}`` (:mod:`.agents.multipolicy`); None for one shared policy."""
    from .agents.multipolicy import check_single_policy_model, is_multi_policy, load_policies, train_policies
    from .reports.junit import set_property

    if not is_multi_policy(venv):
        check_single_policy_model(spec)
        return None
    if spec.self_play:
        raise ScenarioError(f"{spec.nodeid}: self_play= seats one shared policy, but the scene's agents train the "
                            f"policies {', '.join(map(repr, venv.policy_groups))}: give both seats one policy_name, "  # type: ignore[attr-defined]
                            "or drop self_play= to train one policy per name")
    if spec.models:
        agent = load_policies(spec, venv)
        item.stash[TRAINING_KEY] = {"timesteps": 0, "seconds": 0.0, "models": dict(spec.model_labels)}
        return agent
    if not spec.trains:
        raise ScenarioError(f"{spec.nodeid}: the scene's agents train the policies "
                            f"{', '.join(map(repr, venv.policy_groups))}: give model={{name: path}}, one per policy")  # type: ignore[attr-defined]
    agent, record = train_policies(spec, venv, artifacts)
    item.stash[TRAINING_KEY] = record
    set_property(item, "rl_timesteps", record["timesteps"])
    set_property(item, "rl_train_seconds", round(record["seconds"], 3))
    for name, entry in record["policies"].items():
        set_property(item, f"rl_policy_{name}_timesteps", entry["timesteps"])
        if "model" in entry:
            set_property(item, f"rl_policy_{name}_model", entry["model"])
    return agent  # type: ignore[return-value]


@contextlib.contextmanager
def _stage_env(request: pytest.FixtureRequest, spec: ScenarioSpec, artifacts: Path, last_env: VecEnv, index: int,
               stage: Any) -> Generator[VecEnv, None, None]:
    """A curriculum stage's env: the scenario's own for the last stage; for the others their game,
    started for the stage (seeded ``derive_seed(seed, "stage", name)``, its files in
    ``stage-<name>/``) and closed after it."""
    if index == len(spec.curriculum) - 1:
        yield last_env
        return
    stage_spec = dataclasses.replace(spec, seed=derive_seed(spec.seed, "stage", stage.name),
                                     env_kwargs=stage.env_kwargs, engine_options=stage.engine_options)
    folder = artifacts / f"stage-{stage.name}"
    folder.mkdir(parents=True, exist_ok=True)
    engines = _started_engine(request, stage_spec, folder)
    engine = next(engines)
    try:
        venv = engine.make_vec_env(spec.n_envs, seed=stage_spec.seed)
        try:
            yield venv
        finally:
            venv.close()
    finally:
        engines.close()


def _curriculum_agent(request: pytest.FixtureRequest, spec: ScenarioSpec, venv: VecEnv, artifacts: Path) -> Agent:
    """Train the scenario's model through its curriculum (:mod:`.agents.curriculum`); a stage that
    stops it leaves its verdict for the test's call (:func:`pytest_runtest_call`)."""
    from .agents.curriculum import run_curriculum
    from .reports.curriculum import record_curriculum
    from .reports.training_notes import record_training

    run = run_curriculum(spec, functools.partial(_stage_env, request, spec, artifacts, venv), artifacts)
    assert run.report is not None
    request.node.stash[TRAINING_KEY] = record_training(request.node, run.report, artifacts, None)
    record_curriculum(request.node, run)
    if run.stop is not None:
        request.node.stash[CURRICULUM_STOP_KEY] = run.stop
    return run.model  # type: ignore[no-any-return]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """A test whose curriculum stopped fails (or skips, for an inconclusive stage under
    ``--rl-inconclusive=skip``) with the stopping stage's verdict; its body does not run."""
    stop = item.stash.get(CURRICULUM_STOP_KEY, None)
    if stop is None:
        return
    from .verdicts import VerdictFailure
    from .verdicts.verdict import conclude

    message = None
    try:
        conclude(stop)
    except VerdictFailure as exc:
        message = str(exc)
    if message is not None:  # outside the except: the failure shows once, without the chained one
        pytest.fail(message, pytrace=False)


class Playtest:
    """What ``rl_playtest`` returns: call it to play evaluation episodes (and, with ``at_least=``,
    to decide the test).

    ``rl_playtest()`` plays the scenario's ``episodes`` with its success rule, writes
    ``episodes.csv`` and ``summary.json`` to the test's artifact folder, records the ``rl_*`` JUnit
    properties and returns a :class:`~pytest_rlplaytest.playtest.PlaytestResult`.
    ``rl_playtest(at_least=p)`` (with or without ``sequential=True``) is a verdict: it fails the
    test unless the success rate is shown to be at least ``p``, exactly as
    ``assert_success_rate(result, at_least=p)`` does, and returns the result only when it passes.
    """

    def __init__(self, item: pytest.Item, spec: ScenarioSpec, engine: Engine, venv: VecEnv, agent: Agent,
                 artifacts: Path) -> None:
        self.item, self.spec, self.engine, self.venv = item, spec, engine, venv
        self.agent, self.artifacts = agent, artifacts
        self.calls = 0
        #: the evaluation runtime chosen per ``deterministic`` value (export once per agent)
        self.backends: dict[bool, EvalBackend] = {}

    def __call__(
        self,
        episodes: int | None = None,
        *,
        deterministic: bool | None = None,
        success: str | Callable[[Episode], Any] | None = None,
        stop: Callable[[Sequence[Episode]], bool] | None = None,
        record_actions: bool = False,
        n_envs: int | None = None,
        sequential: bool = False,
        at_least: float | None = None,
        alpha: float | None = None,
        beta: float | None = None,
    ) -> PlaytestResult:
        """Play evaluation episodes on a freshly seeded env; with ``at_least=``, also decide.

        Args:
            episodes: how many (default: the scenario's ``episodes``); the cap when ``sequential``.
            deterministic: greedy actions (default: the scenario's, True).
            success: override the scenario's success rule.
            stop: early-stopping rule called after every finished episode.
            record_actions: keep every action in each Episode (replay bundles).
            n_envs: evaluate on a separate env with this many copies/agents (default: the
                scenario's env, reseeded for evaluation).
            sequential: run Wald's SPRT of ``rate = at_least`` against ``rate = at_least + 0.1``
                after every episode and stop as soon as it decides (needs ``at_least``).
            at_least: the success-rate threshold. Given, the call is the verdict: it fails the
                test when the rate is worse, applies ``--rl-inconclusive`` when the episodes do not
                decide, and returns the result only when it passes (``assert_success_rate``).
            alpha: the false-pass rate at ``at_least`` (default 0.05).
            beta: the false-fail rate at ``at_least + 0.1`` (default 0.2): the SPRT's second error
                rate, or for a fixed-size run ``power = 1 - beta`` in the "how many episodes would
                decide" advice.

        Raises:
            VerdictFailure: with ``at_least``, the verdict is worse (or inconclusive under
                ``--rl-inconclusive=fail``).
            TypeError: ``sequential``, ``alpha`` or ``beta`` without ``at_least``; ``sequential``
                with ``stop``.
        """
        __tracebackhide__ = True
        stop = _stop_rule(stop, sequential, at_least, alpha, beta, episodes or self.spec.episodes)
        result = self.play(episodes, deterministic=deterministic, success=success, stop=stop,
                           record_actions=record_actions, n_envs=n_envs)
        from .reports.artifacts import record_playtest

        record_playtest(self.item, result, self.artifacts, self.calls)  # before the verdict: evidence kept
        if at_least is not None:
            from .verdicts import decide_success_rate

            decide_success_rate(result, at_least, alpha=alpha, beta=beta)
        return result

    def play(self, episodes: int | None = None, *, deterministic: bool | None = None,
             success: str | Callable[[Episode], Any] | None = None,
             stop: Callable[[Sequence[Episode]], bool] | None = None, record_actions: bool = False,
             n_envs: int | None = None) -> PlaytestResult:
        """Play evaluation episodes and return the result, described (scenario, engine, training
        budget), without writing anything or judging it (arguments as for the call)."""
        from .agents import seed_everything
        from .playtest import run_playtest

        spec = self.spec
        eval_seed = derive_seed(spec.seed, "eval", self.calls)
        self.calls += 1
        seed_everything(eval_seed, spec.torch_threads)
        from .distributed.engine import RayEngine

        if isinstance(self.engine, RayEngine):  # --rl-ray: shards on the cluster, merged in seed order
            return self._described(self.engine.playtest(
                self.agent, episodes or spec.episodes, success=success if success is not None else spec.success,
                deterministic=spec.deterministic if deterministic is None else deterministic, seed=eval_seed,
                stop=stop, record_actions=record_actions))
        # Evaluate on the scenario's env (no second game instance, no idle training agents left in
        # a shared world), reseeded so evaluation does not depend on what training played.
        # (a Godot env may hold more agents than asked: whole instances meet n_envs)
        own_env = n_envs is not None and n_envs not in (self.venv.num_envs, spec.n_envs)
        venv = self.engine.make_vec_env(n_envs, seed=eval_seed) if own_env else self.venv
        venv.seed(eval_seed)
        greedy = spec.deterministic if deterministic is None else deterministic
        try:
            backend = self.eval_backend(greedy)
            result = run_playtest(
                backend.agent, venv, episodes or spec.episodes,
                success=success if success is not None else spec.success,
                deterministic=greedy, seed=eval_seed, stop=stop, record_actions=record_actions,
            )
        finally:
            if own_env:
                venv.close()
        result.eval_backend = backend.describe()
        groups = getattr(backend.agent, "groups", None)
        if groups is not None:  # a multi-policy agent: each policy's episodes reported on their own
            from .playtest import split_by_policy

            result.policies = split_by_policy(result, groups)
        return self._described(result)

    def eval_backend(self, deterministic: bool) -> EvalBackend:
        """The runtime that evaluates the agent (``--rl-eval-backend``), chosen once per agent.

        Fails the test when ``--rl-eval-backend=onnx`` and the agent cannot run on ONNX.
        """
        __tracebackhide__ = True
        if deterministic not in self.backends:
            from .agents import AgentError
            from .agents.eval_backend import choose_eval_backend

            settings = get_settings(self.item.config)
            try:
                self.backends[deterministic] = choose_eval_backend(
                    self.agent, settings.eval_backend, settings.artifacts / "_onnx", deterministic=deterministic)
            except AgentError as exc:
                pytest.fail(str(exc), pytrace=False)
        return self.backends[deterministic]

    def _described(self, result: PlaytestResult) -> PlaytestResult:
        """``result`` with the scenario, the engine and the training budget filled in."""
        training = self.item.stash.get(TRAINING_KEY, {})
        result.scenario = self.spec.describe()
        result.engine = self.engine.describe()
        result.timesteps = int(training.get("timesteps", 0))
        result.train_seconds = float(training.get("seconds", 0.0))
        result.training = dict(training)
        for name, sub in result.policies.items():
            sub.scenario, sub.engine, sub.eval_backend = result.scenario, result.engine, result.eval_backend
            sub.training = dict(training.get("policies", {}).get(name, {}))
            sub.timesteps = int(sub.training.get("timesteps", 0))
        return result


def _stop_rule(stop: Callable[[Sequence[Episode]], bool] | None, sequential: bool, at_least: float | None,
               alpha: float | None, beta: float | None, cap: int) -> Callable[[Sequence[Episode]], bool] | None:
    """The early-stopping rule of an ``rl_playtest`` call: ``stop``, or the SPRT when ``sequential``.

    Raises:
        TypeError: arguments that would look like a verdict without being one.
    """
    if at_least is None:
        for name, given in (("sequential=True", sequential), ("alpha=", alpha is not None),
                            ("beta=", beta is not None)):
            if given:
                raise TypeError(f"rl_playtest({name}) needs at_least=<success-rate threshold>: without it "
                                "no verdict is made")
        return stop
    if not sequential:
        return stop
    if stop is not None:
        raise TypeError("rl_playtest: pass either sequential=True or stop=, not both")
    from .verdicts import sequential_stopper

    return sequential_stopper(at_least, alpha=0.05 if alpha is None else alpha,
                              beta=0.2 if beta is None else beta, cap=cap)


@pytest.fixture
def rl_playtest(
    request: pytest.FixtureRequest, rl_scenario: ScenarioSpec, rl_engine: Engine, rl_env: VecEnv,
    rl_agent: Agent, rl_artifacts: Path,
) -> Playtest:
    """A callable that plays the scenario's evaluation episodes and returns a ``PlaytestResult``."""
    return Playtest(request.node, rl_scenario, rl_engine, rl_env, rl_agent, rl_artifacts)


@pytest.fixture
def rl_selfplay(request: pytest.FixtureRequest, rl_scenario: ScenarioSpec, rl_env: VecEnv, rl_agent: Agent,
                rl_artifacts: Path) -> Any:
    """The scenario's agent in seat A of a two-seat game: ``rl_selfplay.win_rate(against="axis",
    at_least=0.5, games=384)``, ``rl_selfplay.match(...)``, ``rl_selfplay.ratings()`` (a ``SelfPlay``;
    opponents: the marker's ``self_play`` opponents, ``self``, the pool and its snapshots)."""
    from .agents.selfplay import SelfPlay

    return SelfPlay(request.node, rl_scenario, rl_env, rl_agent, rl_artifacts, request.node.stash.get(POOL_KEY, None))


class BugHunt:
    """What ``rl_bughunt`` returns: call it to hunt the scenario's bug (``rl_scenario(bug=...)``)."""

    def __init__(self, item: pytest.Item, spec: ScenarioSpec, engine: Engine, artifacts: Path) -> None:
        self.item, self.spec, self.engine, self.artifacts = item, spec, engine, artifacts

    def __call__(self, *, shrink: bool = True, parallel: int = 2, n_envs: int | None = None,
                 max_replays: int = 5000, shrink_hits: int = 3) -> HuntResult:
        """Train an exploring agent for the scenario's budget, record every episode that hits the
        bug as a replay bundle, and shrink the first ``shrink_hits`` of them, keeping the shortest
        (``parallel`` game instances replay at once; ``max_replays`` per shrink).

        Returns a ``HuntResult`` (``found``, ``first_hit_timestep``, ``bundles``, ``shrunk``,
        ``original_length``, ``shrunk_length``).
        """
        __tracebackhide__ = True
        from .bughunt.session import run_hunt
        from .reports.junit import set_property

        result = run_hunt(self.spec, self.engine, self.artifacts, n_envs=n_envs, do_shrink=shrink,
                          parallel=parallel, max_replays=max_replays, shrink_hits=shrink_hits)
        item = self.item
        set_property(item, "rl_timesteps", result.timesteps)
        set_property(item, "rl_train_seconds", round(result.seconds, 3))
        set_property(item, "rl_bug_found", result.found)
        set_property(item, "rl_bug_hits", len(result.stats.hits))
        if result.first_hit_timestep is not None:
            set_property(item, "rl_bug_first_hit_timestep", result.first_hit_timestep)
        if result.shrink is not None:
            set_property(item, "rl_bug_original_length", result.shrink.original_length)
            set_property(item, "rl_bug_shrunk_length", len(result.shrink.actions))
        bundle = result.shrunk or (result.bundles[0] if result.bundles else None)
        if bundle is not None:
            set_property(item, "rl_replay_bundle", str(bundle))
        return result


@pytest.fixture
def rl_bughunt(request: pytest.FixtureRequest, rl_scenario: ScenarioSpec, rl_engine: Engine,
               rl_artifacts: Path) -> BugHunt:
    """A callable that hunts the scenario's bug and returns a ``HuntResult`` with replay bundles."""
    if rl_scenario.bug is None:
        pytest.fail(f"{rl_scenario.nodeid}: rl_bughunt needs rl_scenario(bug=...): an info event name, "
                    "'log:<regex>' or a callable(info) -> bool", pytrace=False)
    return BugHunt(request.node, rl_scenario, rl_engine, rl_artifacts)


REPLAY_ARGS = ("times", "bug", "parallel")


def _replay_bundle_path(item: pytest.Item) -> tuple[Path, Mapping[str, Any]]:
    """The bundle file of the test's ``rl_replay`` marker (relative to the test file's folder) and
    the marker's keyword arguments; fails the test naming the base for a missing bundle."""
    from .common.paths import PathBase

    marker = item.get_closest_marker("rl_replay")
    if marker is None or not marker.args:
        pytest.fail(f"{item.nodeid}: rl_replay needs @pytest.mark.rl_replay('bundle.json')", pytrace=False)
    unknown = sorted(set(marker.kwargs) - set(REPLAY_ARGS))
    if unknown:
        pytest.fail(f"{item.nodeid}: rl_replay got an unknown argument {unknown[0]!r} "
                    f"(arguments: bundle, {', '.join(REPLAY_ARGS)})", pytrace=False)
    base = PathBase.marker(str(item.path))
    path = base.resolve(marker.args[0])
    if not path.is_file():
        pytest.fail(f"{item.nodeid}: the replay bundle {base.describe(marker.args[0])} does not exist",
                    pytrace=False)
    return path, marker.kwargs


@pytest.fixture
def rl_replay(request: pytest.FixtureRequest, rl_artifacts: Path) -> ReplayReport:
    """Replays the bundle named by ``@pytest.mark.rl_replay("bundle.json", times=1, bug=None)``
    (relative to the test file's folder; the bundle's game relative to the bundle) in lockstep with
    its seed; returns a ``ReplayReport`` whose ``reproduced`` says whether the bug's signature
    recurred (in every replay)."""
    from .bughunt.bundle import BundleError, ReplayBundle
    from .bughunt.session import open_engine, replay_bundle
    from .bughunt.signature import BugSignature
    from .engines.base import EngineUnavailable, skip_or_fail_unavailable
    from .engines.registry import split_target
    from .reports.junit import set_property

    path, kwargs = _replay_bundle_path(request.node)
    error = None
    try:
        bundle = ReplayBundle.load(path)
    except BundleError as exc:
        error = str(exc)
    if error is not None:
        pytest.fail(f"{request.node.nodeid}: {error}", pytrace=False)
    settings = get_settings(request.config)
    engine = open_engine(bundle, path, rl_artifacts, settings, request.node.nodeid)
    bug = kwargs.get("bug")
    try:
        engine.start()
        engine = _on_ray(engine, settings, request.config)
        report = replay_bundle(bundle, path, engine, times=int(kwargs.get("times", 1)),
                               parallel=int(kwargs.get("parallel", 1)),
                               signature=BugSignature.parse(bug) if bug is not None else None)
    except EngineUnavailable as exc:
        engine.close()
        skip_or_fail_unavailable(settings, split_target(bundle.env)[0], exc)
    finally:
        engine.close()
    set_property(request.node, "rl_replay_bundle", str(path))
    set_property(request.node, "rl_bug_reproduced", f"{report.reproductions}/{len(report.outcomes)}")
    return report


def _spacetimedb_scope(fixture_name: str, config: pytest.Config) -> str:
    """``--spacetimedb-scope`` (default session): how long one SpacetimeDB server lives."""
    return get_settings(config).spacetimedb_scope


spacetimedb_instance = pytest.fixture(scope=_spacetimedb_scope, name="spacetimedb_instance")(  # type: ignore[arg-type]
    _spacetimedb_instance)


@pytest.fixture
def rl_baseline(request: pytest.FixtureRequest) -> BaselineCheck:
    """This test's stored baseline: ``rl_baseline.check(result, tolerances=["return:10%"])``
    compares with it, or writes it under ``--rl-update-baselines`` (a ``BaselineCheck``)."""
    from .verdicts.check import BaselineCheck

    return BaselineCheck(request.node.nodeid, Path(str(request.node.path)), get_settings(request.config))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Reap any game process still alive (a fixture torn down abnormally, a Ctrl-C)."""
    import sys

    process_module = sys.modules.get("pytest_rlplaytest.engines.godot.process")
    if process_module is not None:
        process_module.kill_all()
    cluster_module = sys.modules.get("pytest_rlplaytest.distributed.cluster")
    if cluster_module is not None:  # --rl-ray: kill leftover game actors, stop a cluster we started
        cluster_module.shutdown(owner=session.config)


# -- reporting ----------------------------------------------------------------------------
def pytest_report_header(config: pytest.Config) -> list[str]:
    """Engines found (versions probed once, nothing booted), seed, device, threads, Ray, folders."""
    from .reports.ci import header_lines

    return header_lines(get_settings(config))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """JUnit attachment lines into the teardown's captured stdout; engine errors reported short."""
    from .reports import ci

    settings = get_settings(item.config)
    if call.when == "teardown" and ci.attachments_enabled(settings, item.config):
        lines = ci.attachment_lines(item.user_properties)
        if lines:
            item.add_report_section("teardown", "stdout", "\n".join(lines) + "\n")
    report = yield
    if call.excinfo is not None and report.failed:
        short = ci.short_failure(item, call.excinfo, settings)
        if short is not None:
            report.longrepr = short
    return report


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class RunSummary:
    """Collects one row per scenario test and prints the summary table on the controller.

    Rows come from the reports' ``user_properties``, which xdist ships from the workers, so the
    table is complete under ``-n``.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rows: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Record each scenario test's outcome for the run summary."""
        from .reports.junit import rl_properties

        if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
            return
        props = rl_properties(report.user_properties)
        ran = "rl_episodes" in props or "rl_timesteps" in props or report.outcome != "passed"
        if "rl_seed" in props and ran:
            row: dict[str, Any] = {"nodeid": report.nodeid, "outcome": report.outcome, "properties": props}
            if report.failed:
                crash = getattr(report.longrepr, "reprcrash", None)
                row["message"] = getattr(crash, "message", None) or str(report.longrepr)
            self.rows.append(row)
            if props.get("rl_summary_json") and not _is_xdist_worker(self.config):
                from .reports.artifacts import record_outcome

                record_outcome(Path(str(props["rl_summary_json"])), report.nodeid, report.outcome)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Print the scenario table and write the run report."""
        if _is_xdist_worker(self.config) or not self.rows:
            return
        from .reports.run_report import write_run_report
        from .reports.terminal import HEADER, render_table, summary_rows

        terminalreporter.section("rlplaytest summary")
        self.rows.sort(key=lambda row: row["nodeid"])
        for line in render_table(HEADER, summary_rows(self.rows)):
            terminalreporter.write_line(line)
        settings = get_settings(self.config)
        report = write_run_report(settings.artifacts, self.rows)
        terminalreporter.write_line(f"run report: {report}")
        from .reports.job_summary import append_job_summary, summary_file

        target = summary_file(settings.job_summary, settings.artifacts)
        if target is not None:
            append_job_summary(target, self.rows, settings.rootdir)
            terminalreporter.write_line(f"job summary appended to {target}")


__all__ = ["Playtest", "get_settings", "resolve_scenario"]
