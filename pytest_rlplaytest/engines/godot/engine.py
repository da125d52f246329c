"""The Godot engine: headless Godot games driven over the Godot RL Agents wire protocol.

Name a game in the marker with ``env="godot:<project dir or exported binary>"`` (relative to the
pytest rootdir) or a :class:`GodotGame` spec, plus Godot options::

    @pytest.mark.rl_scenario(env="godot:example_project/godot", scene="res://scenes/landing.tscn",
                             agents=16)

Each instance runs in lockstep: its sync node blocks the game until the next action arrives, then
lets ``action_repeat`` physics frames run on it (``--fixed-fps 60`` makes a frame 1/60 s of game
time whatever the wall clock does).

Agents: a scene's agents are its own (the official plugin's are the AIController nodes in group
AGENT; our addon's scenes may build them from ``--agents=N``, passed when ``agents=`` is given).
``n_envs`` means *at least this many agents*, met with whole instances: the first instance says how
many agents it has (``env_info``), and as many instances are started as that takes; the engine
logs how many and why, and ``describe()["instances"]`` records it.

``instances="auto"`` (or a number) sizes the instances to the machine instead: for a scene that builds
its agents from ``--agents=N`` (our addon's scenes), ``n_envs`` agents are spread over as many
instances as this pytest worker has cores (:func:`cores_per_worker`: the cores the process may run on,
``os.sched_getaffinity``, shared among pytest-xdist's ``PYTEST_XDIST_WORKER_COUNT`` workers), at most
one per agent, with the same count in each (:func:`plan_instances`). It is not the default because the
layout, and so every seeded episode after the first instance's, then depends on the machine.
``GodotVecEnv`` overlaps the instances' steps (and resets): every instance gets its message before any
reply is read, so they compute at once.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ...errors import RLPlaytestWarning
from ..base import Engine, EngineContext, EngineError
from ..registry import split_target

if TYPE_CHECKING:
    import gymnasium as gym
    from stable_baselines3.common.vec_env import VecEnv

    from .binary import GameLocation, GodotBinary
    from .protocol import SpinPlan
    from .session import GodotSession

log = logging.getLogger("pytest_rlplaytest.godot")


@dataclass(frozen=True)
class GodotGame:
    """A Godot game for ``rl_scenario(env=GodotGame(...))``.

    Args:
        path: project folder (with ``project.godot``) or exported binary; relative to the rootdir.
        scene: ``res://`` scene to run instead of the main scene.
        agents: agents per instance (``--agents=N``; only scenes built with our addon can read it).
        args: extra command-line arguments for the game.
    """

    path: str | os.PathLike[str]
    scene: str | None = None
    agents: int | None = None
    args: Sequence[str] = field(default_factory=tuple)
    engine_scheme: ClassVar[str] = "godot"

    @property
    def name(self) -> str:
        """``godot:<project>`` and the scene, for messages and reports."""
        return f"godot:{self.path}{' ' + self.scene if self.scene else ''}"


#: files and folders left out of the project hash (caches the editor or the game write)
_HASH_SKIP_DIRS = {".import", ".godot", ".mono", ".git", "__pycache__", ".rlplaytest"}
_HASH_SKIP_SUFFIXES = (".log", ".tmp")


def project_hash(path: Path) -> str:
    """sha256 over a project's files (relative path + content), caches excluded; for an exported
    binary, over the binary (and a ``.pck`` next to it). The game build's identity."""
    digest = hashlib.sha256()
    if path.is_file():
        files = [path] + ([path.with_suffix(".pck")] if path.with_suffix(".pck").is_file() else [])
        base = path.parent
    else:
        files = []
        for root, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in _HASH_SKIP_DIRS and not d.startswith("."))
            for name in sorted(names):
                if not name.endswith(_HASH_SKIP_SUFFIXES):
                    files.append(Path(root) / name)
        base = path
    for f in sorted(files):
        digest.update(f.relative_to(base).as_posix().encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def _positive_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EngineError(f"rl_scenario({name}={value!r}): {name} must be a whole number >= 1")
    return value


def _positive_float(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise EngineError(f"rl_scenario({name}={value!r}): {name} must be a number > 0")
    return float(value)


def cores_per_worker(workers: int | None = None, cpus: int | None = None) -> tuple[int, int, int]:
    """``(cores for this worker, cpus, workers)``: the cores this process may run on
    (``os.sched_getaffinity``; ``os.cpu_count()`` where there is none) shared among pytest-xdist's
    workers (``PYTEST_XDIST_WORKER_COUNT``, 1 without ``-n``), at least 1."""
    if workers is None:
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "") or 1)
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = max(1, workers)
    return max(1, cpus // workers), cpus, workers


def plan_instances(n_envs: int, cores: int) -> tuple[int, int]:
    """``(instances, agents per instance)`` for ``n_envs`` agents on ``cores`` cores: one instance
    per core, never more instances than agents, the same count in each (at least ``n_envs`` in all,
    as few extra as whole instances allow)."""
    instances = max(1, min(cores, n_envs))
    per = math.ceil(n_envs / instances)
    return math.ceil(n_envs / per), per


class GodotScriptErrorWarning(RLPlaytestWarning):
    """The game printed ``SCRIPT ERROR`` lines (GDScript runtime errors) while it was played."""


class GodotOptionIgnoredWarning(RLPlaytestWarning):
    """The game runs with another value than the one asked for (e.g. the godot3 branch of Godot RL
    Agents ignores ``--speedup``)."""


class GodotSeedingError(EngineError):
    """Something needs per-episode seeds (a bug-hunt replay, a determinism check) and the game does
    not honour them (the official plugin seeds once, at launch)."""


_REJECTED_ARGS = ("--port=", "--env_seed=")


def _extra_args(game_args: Sequence[str], extra: Any, env_kwargs: Any) -> list[str]:
    if isinstance(extra, str) or not all(isinstance(a, str) for a in extra):
        raise EngineError("rl_scenario(godot_args=...): must be a list of strings")
    if not isinstance(env_kwargs, dict):
        raise EngineError("rl_scenario(env_kwargs=...): must be a dict (passed to the game as --key=value)")
    args = [*game_args, *extra, *(f"--{k}={v}" for k, v in env_kwargs.items())]
    for arg in args:
        if arg.startswith(_REJECTED_ARGS):
            raise EngineError(f"game argument {arg!r}: the driver sets --port (its own listening port, one per "
                              "instance) and --env_seed (from the scenario's seed); pass seed= to choose the "
                              "seed and drop the argument")
    return args


class GodotEngine(Engine):
    """Runs a Godot project or exported game headless and drives its agents."""

    scheme: ClassVar[str] = "godot"
    #: what identifies the build (never boot_seconds, paths or the binary's location)
    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = ("engine", "godot_version", "game_hash", "scene", "plugin",
                                                "addon.addon_version")
    OPTIONS: ClassVar[dict[str, str]] = {
        "scene": "Godot scene to run, e.g. 'res://scenes/landing.tscn' (default: the project's main scene)",
        "agents": "agents per Godot instance, passed as --agents=N (only scenes built with rlplaytest's addon "
                  "can read it; the official plugin's agents are the AIController nodes of the scene)",
        "speedup": "Godot time scale (--speedup=X); the godot3 branch of Godot RL Agents ignores it",
        "action_repeat": "physics frames per action (--action_repeat=K; default: the game's own: 1 for rlplaytest's "
                         "addon, the Sync node's value for Godot RL Agents, 8 unless the scene changes it)",
        "fixed_fps": "physics frames per simulated second (--fixed-fps N, default 60; 0 disables lockstep)",
        "timeout": "seconds the game may stay silent (boot and each reply); default --rl-engine-timeout",
        "godot_args": "extra command-line arguments for the game (a list of strings)",
        "instances": "'auto': spread n_envs agents over one instance per core of this pytest worker (scenes "
                     "that build their agents from --agents=N; not with agents=); a number: that many instances; "
                     "default: whole instances of the scene's own agents",
        "script_errors": "'warn' (default): GDScript SCRIPT ERRORs become a pytest warning, also when the test "
                         "passes; 'fail': the next call fails; 'ignore': only recorded in the log",
    }

    def __init__(self, target: Any, context: EngineContext) -> None:
        super().__init__(target, context)
        if isinstance(target, str) and target.startswith("godot:"):
            _, target = split_target(target)
        self.game_spec = target if isinstance(target, GodotGame) else GodotGame(path=str(target))
        opts = dict(context.options or {})
        # common scenario arguments the plugin forwards to every engine: for Godot, env_kwargs become
        # --key=value game arguments; max_episode_steps is enforced by the driver (and passed as
        # --max_episode_steps=N, which our addon's agent controller honours as its own time limit)
        env_kwargs = opts.pop("env_kwargs", None) or {}
        max_episode_steps = opts.pop("max_episode_steps", None)
        unknown = sorted(set(opts) - set(self.OPTIONS))
        if unknown:
            raise EngineError(f"unknown Godot option(s) {unknown}; known: {', '.join(sorted(self.OPTIONS))}")
        self.scene: str | None = opts.get("scene", self.game_spec.scene)
        if self.scene is not None and not (isinstance(self.scene, str) and self.scene.startswith("res://")):
            raise EngineError(f"rl_scenario(scene={self.scene!r}): scene must be a 'res://...' path")
        self.agents = _positive_int("agents", opts.get("agents", self.game_spec.agents))
        self.speedup = _positive_float("speedup", opts.get("speedup"))
        self.action_repeat = _positive_int("action_repeat", opts.get("action_repeat"))
        fixed = opts.get("fixed_fps", 60)
        self.fixed_fps = None if fixed in (0, None) else _positive_int("fixed_fps", fixed)
        self.timeout = _positive_float("timeout", opts.get("timeout")) or context.settings.engine_timeout
        self.extra_args = _extra_args(self.game_spec.args, opts.get("godot_args", ()), env_kwargs)
        self.max_episode_steps = _positive_int("max_episode_steps", max_episode_steps)
        if self.max_episode_steps is not None:
            self.extra_args.append(f"--max_episode_steps={self.max_episode_steps}")
        self.instances = opts.get("instances")
        if self.instances is not None and self.instances != "auto" and (
                isinstance(self.instances, bool) or not isinstance(self.instances, int) or self.instances < 1):
            raise EngineError(f"rl_scenario(instances={self.instances!r}): instances must be 'auto' (one instance "
                              "per core of this pytest worker) or a whole number >= 1")
        if self.instances is not None and self.agents is not None:
            raise EngineError(f"rl_scenario(instances={self.instances!r}, agents={self.agents}): agents= fixes the "
                              "agents per instance, instances= lets the engine choose them; drop one of them")
        self.script_errors = opts.get("script_errors", "warn")
        if self.script_errors not in ("warn", "fail", "ignore"):
            raise EngineError(f"rl_scenario(script_errors={self.script_errors!r}): must be 'warn', 'fail' or 'ignore'")
        self.binary: GodotBinary | None = None
        self.game: GameLocation | None = None
        self.sessions: list[GodotSession] = []
        self._envs: list[Any] = []
        self._launches = 0
        self._hash: str | None = None
        #: Training agents per instance, once an instance has said (env_info)
        self.agents_per_instance: int | None = None
        #: how many instances the last make_vec_env started, and why
        self.instance_plan: dict[str, Any] | None = None
        #: the receive spin of both sides, decided by the last make_vec_env (:func:`.protocol.spin_plan`)
        self.spin: SpinPlan | None = None
        self._warned_options = False
        #: the first instance ever connected (what the game runs with; describe() after close)
        self._first: GodotSession | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Find the binary and the game, and import a fresh Godot 4 checkout (no process is
        launched until an env is made).

        Raises:
            EngineUnavailable: no Godot binary (hint: ``apt-get install godot3-server``).
            EngineError: the game path is wrong, or the import failed.
        """
        from .binary import find_godot, locate_game
        from .importer import ensure_imported

        settings = self.context.settings
        self.game = locate_game(self.game_spec.path, self.context.paths)
        configured = settings.godot_bin
        if not self.game.exported or configured:
            self.binary = find_godot(configured)
        if self.binary is not None and not self.game.exported:
            log_path = Path(self.context.artifacts_dir) / "godot-import.log"
            if ensure_imported(self.binary, self.game.path, log_path, timeout=max(300.0, self.timeout)):
                log.info("imported the fresh Godot 4 checkout %s (%s)", self.game.path, log_path)

    def _spec(self, k: int, n_instances: int, agents: int | None, seed: int, agents_from: str) -> Any:
        from .session import LaunchSpec

        assert self.game is not None
        self._launches += 1
        suffix = "" if self._launches == 1 else f"-{self._launches}"
        label = f"Godot game {self.game.path.name}{' ' + self.scene if self.scene else ''}"
        if n_instances > 1:
            label += f" (instance {k})"
        return LaunchSpec(
            binary=self.binary, game=self.game, seed=seed,
            log_path=Path(self.context.artifacts_dir) / f"godot{suffix}.log", scene=self.scene,
            agents=agents, speedup=self.speedup, action_repeat=self.action_repeat,
            fixed_fps=self.fixed_fps, timeout=self.timeout, extra_args=list(self.extra_args),
            script_errors=self.script_errors, label=label, max_episode_steps=self.max_episode_steps,
            agents_from=agents_from,
        )

    def _launch(self, indices: range, n_instances: int, agents: int | None, seed: int, same_seed: bool = False,
                agents_from: str = "agents=") -> list[GodotSession]:
        """Start instances ``indices`` of ``n_instances``: all processes first, then each connection
        (so they boot in parallel; the official plugin alone waits one second before connecting)."""
        from ...scenario import derive_seed
        from .session import GodotSession

        if self.game is None:
            self.start()
        sessions: list[GodotSession] = []
        try:
            for k in indices:
                instance_seed = seed if k == 0 or same_seed else derive_seed(seed, "godot", k)
                session = GodotSession(self._spec(k, n_instances, agents, instance_seed, agents_from))
                sessions.append(session)
                self.sessions.append(session)
                session.launch()
            for session in sessions:
                session.connect()
        except BaseException:
            for s in sessions:
                s.close()
            raise
        if sessions:
            self.agents_per_instance = sessions[0].n_agents
            if self._first is None:
                self._first = sessions[0]
            self._check_options(sessions[0])
        return sessions

    def _check_options(self, session: GodotSession) -> None:
        run = session.run
        if run is None or self._warned_options:
            return
        asked = {"speedup": self.speedup, "action_repeat": self.action_repeat}
        got = {"speedup": run.speedup, "action_repeat": run.action_repeat}
        for name, value in asked.items():
            if value is None or got[name] is None or abs(float(got[name]) - float(value)) < 1e-9:  # type: ignore[arg-type]
                continue
            self._warned_options = True
            why = (" (the godot3 branch of Godot RL Agents reads --speedup before it parses its arguments, "
                   "sync.gd:118-120, 136-142: only the Sync node's speed_up counts, cut to a whole number)"
                   if name == "speedup" and "godot3" in run.flavour else "")
            warnings.warn(GodotOptionIgnoredWarning(
                f"{self.context.nodeid or session.spec.label}: {name}={value} was asked for, but the game runs "
                f"with {name} {got[name]} ({getattr(run, name + '_from')}){why}"), stacklevel=3)

    def _plan(self, n_envs: int | None, first: GodotSession | None) -> tuple[int, dict[str, Any] | None]:
        per = first.n_agents if first is not None else (self.agents or self.agents_per_instance)
        if n_envs is None or per is None:
            return 1, None
        instances = max(1, math.ceil(n_envs / per))
        source = ("agents=" if self.agents else "the scene's own agents (env_info)")
        why = (f"n_envs={n_envs} asks for at least {n_envs} agents; an instance has {per} Training agent"
               f"{'s' if per != 1 else ''} ({source}), so {instances} whole instance"
               f"{'s' if instances != 1 else ''} {'were' if instances != 1 else 'was'} started: "
               f"{instances * per} agents")
        return instances, {"n_envs": n_envs, "agents_per_instance": per, "started": instances,
                           "agents": instances * per, "why": why}

    def make_vec_env(self, n_envs: int | None = None, seed: int | None = None) -> VecEnv:
        """At least ``n_envs`` agents, in whole instances, as one ``VecEnv`` (wrapped in ``VecMonitor``).

        Without ``n_envs``: one instance with the scene's own agents. The count per instance is the
        game's (``env_info``): when it is not known yet, one instance is started first to learn it.
        """
        from stable_baselines3.common.vec_env import VecMonitor

        base_seed = self.context.seed if seed is None else seed
        if n_envs is not None and (isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1):
            raise EngineError(f"n_envs={n_envs!r} must be a whole number >= 1")
        sessions: list[GodotSession] = []
        plan: dict[str, Any] | None
        try:
            if n_envs is not None and self.instances is not None:
                sessions, instances, plan = self._sized_plan(n_envs, base_seed)
            else:
                instances, plan = self._plan(n_envs, None)
            if n_envs is not None and plan is None:  # the count per instance is not known yet: ask one
                sessions = self._launch(range(1), 2, self.agents, base_seed)
                instances, plan = self._plan(n_envs, sessions[0])
            agents = plan["agents_per_instance"] if plan is not None and plan.get("sized") else self.agents
            sessions += self._launch(range(len(sessions), instances), instances, agents, base_seed,
                                     agents_from="plan" if agents != self.agents else "agents=")
            self._set_spin(sessions)
            venv = self._vec_env(sessions)
        except BaseException:
            for s in sessions:
                s.close()
            raise
        if plan is not None:
            self.instance_plan = plan
            log.info("%s: %s", self.context.nodeid or "godot", plan["why"])
        wrapped = VecMonitor(venv)
        self._envs.append(wrapped)
        return wrapped

    def _sized_plan(self, n_envs: int, seed: int) -> tuple[list[GodotSession], int, dict[str, Any]]:
        """``instances=``: start the first instance with its planned ``--agents``; the plan holds
        when the scene built that many (else: whole instances of the scene's own count)."""
        if self.instances == "auto":
            cores, cpus, workers = cores_per_worker()
            basis = (f"this pytest worker has {cores} core{'s' if cores != 1 else ''} ({cpus} available "
                     f"(sched_getaffinity) / {workers} xdist worker{'s' if workers != 1 else ''})")
        else:
            cores, cpus, workers = int(self.instances or 1), 0, 0
            basis = f"instances={cores} was asked for"
        instances, per = plan_instances(n_envs, cores)
        sessions = self._launch(range(1), instances, per, seed, agents_from="plan")
        if sessions[0].n_agents != per:
            instances, plan = self._plan(n_envs, sessions[0])
            assert plan is not None
            plan["why"] += (f" (instances={self.instances!r} planned {per} agents per instance, but the scene does not "
                            "build its agents from --agents=N)")
            return sessions, instances, plan
        why = (f"n_envs={n_envs} asks for at least {n_envs} agents and {basis}, so {instances} instance"
               f"{'s' if instances != 1 else ''} of {per} agent{'s' if per != 1 else ''} (--agents={per}) "
               f"{'were' if instances != 1 else 'was'} started: {instances * per} agents, stepped at once")
        return sessions, instances, {"n_envs": n_envs, "agents_per_instance": per, "started": instances,
                                     "agents": instances * per, "cores": cores, "cpus": cpus, "workers": workers,
                                     "sized": True, "why": why}

    def _set_spin(self, sessions: list[GodotSession]) -> None:
        """Let both sides' receives spin as ``--rl-recv-spin-us`` says for this many instances (the
        game's only with our addon: its ``env_info`` says ``recv_spin``)."""
        from .protocol import recv_spin_message, spin_plan

        plan = spin_plan(self.context.settings.recv_spin_us, instances=len(sessions))
        self.spin = plan
        for session in sessions:
            if session.conn is None:
                continue
            session.conn.spin_s = plan.driver_s
            if session.addon_info.get("recv_spin") is True:
                session.conn.send(recv_spin_message(plan.game_us))
        log.debug("%s: receive spin driver %.0f us, game %d us (%s)", self.context.nodeid or "godot",
                  plan.driver_s * 1e6, plan.game_us, plan.why)

    def require_episode_seeds(self, purpose: str, session: GodotSession | None = None) -> None:
        """Raise :class:`GodotSeedingError` unless the game honours per-episode reset seeds.

        Args:
            purpose: what needs them (``"bug-hunt replays"``, ``"a determinism check"``), for the message.
        """
        __tracebackhide__ = True
        from .startup import FLAVOUR_GODOT3, SEEDS_PER_EPISODE

        session = session or self._first
        if session is None or session.run is None or session.run.seeding == SEEDS_PER_EPISODE:
            return
        run = session.run
        lines = ("main sync.gd:507-511, 556-559 and 485-487" if run.flavour != FLAVOUR_GODOT3
                 else "godot3 sync.gd:209-213, 259-262 and 125-127")
        fix = ("build the scene on rlplaytest's addon, which reseeds every episode from the reset's seed "
               "(`rlplaytest install-godot-addon PROJECT`, then use res://addons/rlplaytest/sync.gd as the sync "
               "node and extend res://addons/rlplaytest/agent_controller.gd, drawing every random number from "
               "its rng)") if session.spec.binary is None or session.spec.binary.major < 4 else (
               "rlplaytest's addon is Godot 3 only, so a Godot 4 game on the official plugin cannot be "
               "replayed exactly; reproduce the bug with a scenario that plays from launch instead")
        raise GodotSeedingError(
            f"{session.spec.label}: {purpose} need a game that honours per-episode seeds, and this one runs the "
            f"{run.flavour}: its reset message only flags every agent's needs_reset and carries no seed it reads; "
            f"it seeds the global RNG once, at launch, from --env_seed ({lines}). Fix: {fix}.")

    def make_replay_vec_env(self, n_envs: int) -> VecEnv:
        """``n_envs`` one-agent instances (parallel processes) for bug replays, all launched with
        the engine's seed (the recorded world seed: the same level); a reset with seed S seeds agent
        0's next episode with exactly S (see ``agent_controller.gd``).

        Raises:
            GodotSeedingError: the game does not honour reset seeds (the official plugin).
        """
        sessions = self._launch(range(n_envs), n_envs, 1, self.context.seed, same_seed=True, agents_from="replay")
        try:
            self.require_episode_seeds("bug-hunt replays", sessions[0])
            if sessions[0].n_agents != 1:
                raise EngineError(f"{sessions[0].spec.label}: bug-hunt replays need one agent per instance "
                                  f"(--agents=1), and the scene has {sessions[0].n_agents}; build its agents "
                                  "from --agents=N (Args.get_int(\"agents\", ...) in res://addons/rlplaytest/args.gd)")
            venv = self._vec_env(sessions)
        except BaseException:
            for s in sessions:
                s.close()
            raise
        self._envs.append(venv)
        return venv

    def _vec_env(self, sessions: list[GodotSession]) -> VecEnv:
        from .env import GodotVecEnv

        return GodotVecEnv(sessions)

    def make_env(self, seed: int | None = None) -> gym.Env[Any, Any]:
        """One agent as a ``gymnasium.Env`` (launches an instance with ``--agents=1``; the scene must
        have a single Training agent, or build its agents from ``--agents``)."""
        from .env import GodotEnv

        (session,) = self._launch(range(1), 1, 1, self.context.seed if seed is None else seed,
                                  agents_from="make_env()")
        try:
            env = GodotEnv(session)
        except BaseException:
            session.close()
            raise
        self._envs.append(env)
        return env

    def close(self) -> None:
        """Close every env and game instance (idempotent, never raises)."""
        envs, self._envs = self._envs, []
        for env in envs:
            try:
                env.close()
            except Exception:  # pragma: no cover
                pass
        sessions, self.sessions = self.sessions, []
        errors: list[str] = []
        logs: list[str] = []
        for s in sessions:
            s.close()
            if s.process is not None and s.process.script_errors:
                errors.extend(s.process.script_errors)
                logs.append(str(s.process.log_path))
        if errors and self.script_errors == "warn":
            shown = "\n".join("    " + e for e in errors[:10])
            more = f"\n    ... and {len(errors) - 10} more" if len(errors) > 10 else ""
            warnings.warn(GodotScriptErrorWarning(
                f"{self.context.nodeid or 'Godot game'}: the game printed {len(errors)} GDScript error(s):\n"
                f"{shown}{more}\n  full output: {', '.join(logs)}"), stacklevel=2)

    # -- identity -------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Engine version, game path, scene, a hash of the project's files, and what the game runs
        with as read back from it: ``plugin`` (which sync node), ``seeding`` (``per_episode`` or
        ``launch_only``), ``action_repeat``, ``speedup`` (``runs_with`` says how each is known), plus
        ``instances`` (how many the last ``make_vec_env`` started, and why)."""
        out: dict[str, Any] = {"engine": "godot", "game": str(self.game_spec.path), "scene": self.scene,
                               "agents_per_instance": self.agents_per_instance or self.agents}
        if self.binary is not None:
            out["godot_version"] = self.binary.version
            out["godot_binary"] = self.binary.path
        if self.game is not None:
            if self._hash is None:
                self._hash = project_hash(self.game.path)
            out["game_path"] = str(self.game.path)
            out["game_hash"] = self._hash
        for s in [self._first] if self._first is not None else []:
            if s.addon_info:
                out["addon"] = s.addon_info
            if s.run is not None:
                out.update(s.run.describe())
            out["boot_seconds"] = round(s.boot_seconds, 4)
        if self.instance_plan is not None:
            out["instances"] = self.instance_plan
        script_errors = [e for s in self.sessions if s.process for e in s.process.script_errors]
        if script_errors:
            out["script_errors"] = script_errors[:20]
        return out
