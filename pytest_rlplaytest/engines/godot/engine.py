"""The Godot engine: headless Godot games driven over the Godot RL Agents wire protocol.

Name a game in the marker with ``env="godot:<project dir or exported binary>"`` (relative to the
pytest rootdir) or a :class:`GodotGame` spec, plus Godot options::

    @pytest.mark.rl_scenario(env="godot:example_project/godot", scene="res://scenes/landing.tscn",
                             agents=16)

Each instance runs in lockstep (``--fixed-fps 60``: physics advances only when an action arrives).
``agents`` is passed to the game as ``--agents=N`` (scenes built with our addon read it); a
``VecEnv`` of ``n_envs`` agents launches ``n_envs / agents`` instances.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..base import Engine, EngineContext, EngineError
from ..registry import split_target

if TYPE_CHECKING:
    import gymnasium as gym
    from stable_baselines3.common.vec_env import VecEnv

    from .binary import GameLocation, GodotBinary
    from .env import GodotSession


@dataclass(frozen=True)
class GodotGame:
    """A Godot game for ``rl_scenario(env=GodotGame(...))``.

    Args:
        path: project folder (with ``project.godot``) or exported binary; relative to the rootdir.
        scene: ``res://`` scene to run instead of the main scene.
        agents: agents per instance (``--agents=N``).
        args: extra command-line arguments for the game.
    """

    path: str | os.PathLike[str]
    scene: str | None = None
    agents: int | None = None
    args: Sequence[str] = field(default_factory=tuple)
    engine_scheme: ClassVar[str] = "godot"

    @property
    def name(self) -> str:
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


class GodotScriptErrorWarning(UserWarning):
    """The game printed ``SCRIPT ERROR`` lines (GDScript runtime errors) while it was played."""


class GodotEngine(Engine):
    """Runs a Godot project or exported game headless and drives its agents."""

    scheme: ClassVar[str] = "godot"
    #: what identifies the build (never boot_seconds, paths or the binary's location)
    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = ("engine", "godot_version", "game_hash", "scene", "addon.addon_version")
    OPTIONS: ClassVar[dict[str, str]] = {
        "scene": "Godot scene to run, e.g. 'res://scenes/landing.tscn' (default: the project's main scene)",
        "agents": "agents per Godot instance, passed as --agents=N (the scene must read it)",
        "speedup": "Godot time scale (--speedup=X); under lockstep it rarely matters",
        "action_repeat": "physics frames per action (--action_repeat=K, default 1)",
        "fixed_fps": "physics frames per simulated second (--fixed-fps N, default 60; 0 disables lockstep)",
        "timeout": "seconds the game may stay silent (boot and each reply); default --rl-engine-timeout",
        "godot_args": "extra command-line arguments for the game (a list of strings)",
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
        # --key=value game arguments and max_episode_steps becomes --max_episode_steps=N (our addon's
        # agent controller honours it as its time limit)
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
        extra = opts.get("godot_args", ())
        if isinstance(extra, str) or not all(isinstance(a, str) for a in extra):
            raise EngineError("rl_scenario(godot_args=...): must be a list of strings")
        if not isinstance(env_kwargs, dict):
            raise EngineError("rl_scenario(env_kwargs=...): must be a dict (passed to the game as --key=value)")
        self.extra_args = [*self.game_spec.args, *extra, *(f"--{k}={v}" for k, v in env_kwargs.items())]
        if max_episode_steps is not None:
            self.extra_args.append(f"--max_episode_steps={_positive_int('max_episode_steps', max_episode_steps)}")
        self.script_errors = opts.get("script_errors", "warn")
        if self.script_errors not in ("warn", "fail", "ignore"):
            raise EngineError(f"rl_scenario(script_errors={self.script_errors!r}): must be 'warn', 'fail' or 'ignore'")
        self.binary: GodotBinary | None = None
        self.game: GameLocation | None = None
        self.sessions: list[GodotSession] = []
        self._envs: list[Any] = []
        self._launches = 0
        self._hash: str | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Find the binary and the game (no process is launched until an env is made).

        Raises:
            EngineUnavailable: no Godot binary (hint: ``apt-get install godot3-server``).
            EngineError: the game path is wrong.
        """
        from .binary import find_godot, locate_game

        settings = self.context.settings
        self.game = locate_game(self.game_spec.path, self.context.paths)
        configured = settings.godot_bin
        if not self.game.exported or configured:
            self.binary = find_godot(configured)

    def _launch(self, n_instances: int, agents: int | None, seed: int,
                same_seed: bool = False) -> list[GodotSession]:
        from ...scenario import derive_seed
        from .env import GodotSession, LaunchSpec

        if self.game is None:
            self.start()
        assert self.game is not None
        sessions: list[GodotSession] = []
        try:
            for k in range(n_instances):
                self._launches += 1
                suffix = "" if self._launches == 1 else f"-{self._launches}"
                label = f"Godot game {self.game.path.name}{' ' + self.scene if self.scene else ''}"
                if n_instances > 1:
                    label += f" (instance {k})"
                spec = LaunchSpec(
                    binary=self.binary, game=self.game,
                    seed=seed if k == 0 or same_seed else derive_seed(seed, "godot", k),
                    log_path=Path(self.context.artifacts_dir) / f"godot{suffix}.log", scene=self.scene,
                    agents=agents, speedup=self.speedup, action_repeat=self.action_repeat,
                    fixed_fps=self.fixed_fps, timeout=self.timeout, extra_args=list(self.extra_args),
                    script_errors=self.script_errors, label=label,
                )
                session = GodotSession(spec)
                sessions.append(session)
                self.sessions.append(session)
                session.start()
        except BaseException:
            for s in sessions:
                s.close()
            raise
        return sessions

    def make_vec_env(self, n_envs: int | None = None, seed: int | None = None) -> VecEnv:
        """The agents of ``n_envs / agents`` instances as one ``VecEnv`` (wrapped in ``VecMonitor``).

        With neither ``n_envs`` nor ``agents``: one instance with the scene's own agent count.
        With ``n_envs`` only: one instance asked for ``n_envs`` agents.
        """
        from stable_baselines3.common.vec_env import VecMonitor

        base_seed = self.context.seed if seed is None else seed
        agents = self.agents
        instances = 1
        if n_envs is not None:
            if agents is None:
                agents = n_envs
            elif n_envs % agents:
                raise EngineError(f"n_envs={n_envs} is not a multiple of agents={agents} (agents per Godot "
                                  "instance); pick n_envs = k * agents")
            else:
                instances = n_envs // agents
        wrapped = VecMonitor(self._vec_env(instances, agents, base_seed))
        self._envs.append(wrapped)
        return wrapped

    def make_replay_vec_env(self, n_envs: int) -> VecEnv:
        """``n_envs`` one-agent instances (parallel processes) for bug replays, all launched with
        the engine's seed (the recorded world seed: the same level); a reset with seed S seeds agent
        0's next episode with exactly S (see ``agent_controller.gd``)."""
        venv = self._vec_env(n_envs, 1, self.context.seed, same_seed=True)  # one world, k replayers
        self._envs.append(venv)
        return venv

    def _vec_env(self, instances: int, agents: int | None, seed: int, same_seed: bool = False) -> VecEnv:
        """Launch ``instances`` games and expose all their agents as one ``GodotVecEnv``."""
        from .env import make_vec_env_class

        sessions = self._launch(instances, agents, seed, same_seed)
        try:
            return make_vec_env_class()(sessions)  # type: ignore[no-any-return]
        except BaseException:
            for s in sessions:
                s.close()
            raise

    def make_env(self, seed: int | None = None) -> gym.Env[Any, Any]:
        """One agent as a ``gymnasium.Env`` (launches an instance with ``--agents=1``)."""
        from .env import make_gym_env

        (session,) = self._launch(1, 1, self.context.seed if seed is None else seed)
        try:
            env = make_gym_env(session)
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
            import warnings

            shown = "\n".join("    " + e for e in errors[:10])
            more = f"\n    ... and {len(errors) - 10} more" if len(errors) > 10 else ""
            warnings.warn(GodotScriptErrorWarning(
                f"{self.context.nodeid or 'Godot game'}: the game printed {len(errors)} GDScript error(s):\n"
                f"{shown}{more}\n  full output: {', '.join(logs)}"), stacklevel=2)

    # -- identity -------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Engine version, game path, scene, and a hash of the project's files."""
        out: dict[str, Any] = {"engine": "godot", "game": str(self.game_spec.path), "scene": self.scene,
                               "agents_per_instance": self.agents}
        if self.binary is not None:
            out["godot_version"] = self.binary.version
            out["godot_binary"] = self.binary.path
        if self.game is not None:
            if self._hash is None:
                self._hash = project_hash(self.game.path)
            out["game_path"] = str(self.game.path)
            out["game_hash"] = self._hash
        for s in self.sessions[:1]:
            if s.addon_info:
                out["addon"] = s.addon_info
            out["boot_seconds"] = round(s.boot_seconds, 4)
        script_errors = [e for s in self.sessions if s.process for e in s.process.script_errors]
        if script_errors:
            out["script_errors"] = script_errors[:20]
        return out
