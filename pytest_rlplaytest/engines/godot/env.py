"""A running Godot game as Gymnasium / Stable-Baselines3 environments.

* :class:`GodotSession`: one game process, its connection and its spaces (boot, reset, step, call).
* :class:`GodotVecEnv`: the agents of one or more game instances as an SB3 ``VecEnv`` (one env per
  agent, shared spaces).
* :func:`make_gym_env`: a single-agent instance as a ``gymnasium.Env``.

Episode ends: ``done`` from the game means *terminated* unless the step's ``info`` says it was a time
limit (``TimeLimit.truncated`` or ``truncated`` true; our addon reports it, the official plugin
does not). SB3 conventions: a done agent's ``info["terminal_observation"]`` holds its final
observation. Our addon resets a done agent in the same frame and sends the terminal observation in
``info["rl_terminal_obs"]``, so the returned observation already starts the next episode (exactly
SB3's auto-reset). The official Godot RL Agents plugin resets agents itself on the *next* frame and
sends only the terminal observation: then that observation is also returned as the "first" one of
the next episode, as godot-rl does (one step of the new episode sees a stale observation).

Our addon also sends the engine telemetry once per reply (top-level ``rlplaytest`` object) and each
agent's ``rl_episode_seed`` only in the first info of an episode; the session copies both into every
agent's info, so every step's info still holds ``frame_ms``, ``object_count``, ``static_memory_mb`` and
``rl_episode_seed``. Step replies from our addon carry observations, rewards and that telemetry as
one float32 block (``f32``, offered in our handshake) instead of JSON numbers; see ``addon/sync.gd``.
Replies are checked with a few cheap whole-batch tests first; only a reply that fails them is
inspected value by value, so errors still name the agent, key and index.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base import EngineError
from .binary import GameLocation, GodotBinary, build_command
from .process import GodotProcess
from .protocol import (
    Connection,
    GodotCrashed,
    GodotScriptError,
    Listener,
    ProtocolError,
    handshake_message,
)
from .spaces import ActionCodec, ObsCodec

EPISODE_SEED_KEY = "rl_episode_seed"
_NUMBER_TYPES = frozenset({float, int})
_BOOL_TYPES = frozenset({bool})

if TYPE_CHECKING:
    import gymnasium as gym

TERMINAL_OBS_WIRE_KEY = "rl_terminal_obs"


@dataclass
class LaunchSpec:
    """How to launch one game instance."""

    binary: GodotBinary | None
    game: GameLocation
    seed: int
    log_path: Path
    scene: str | None = None
    agents: int | None = None
    speedup: float | None = None
    action_repeat: int | None = None
    fixed_fps: int | None = 60
    timeout: float = 30.0
    extra_args: list[str] = field(default_factory=list)
    #: "fail": a SCRIPT ERROR in the game's output fails the next call; "warn" (reported by the
    #: engine at close) and "ignore": the call goes on
    script_errors: str = "warn"
    label: str = "the Godot game"


class GodotSession:
    """One game process speaking the protocol. Create, then :meth:`start`; always :meth:`close`."""

    def __init__(self, spec: LaunchSpec) -> None:
        self.spec = spec
        self.process: GodotProcess | None = None
        self.conn: Connection | None = None
        self.n_agents = 0
        self.obs_codec: ObsCodec | None = None
        self.action_codec: ActionCodec | None = None
        self.env_info: dict[str, Any] = {}
        self.addon_info: dict[str, Any] = {}
        self.auto_reset = False
        self.boot_seconds = float("nan")
        self.first_obs_seconds = float("nan")
        self.steps = 0
        self._seen_script_errors = 0
        self._started_at = 0.0
        self._pending: list[dict[str, Any]] | None = None
        self._episode_seeds: list[Any] = []
        self._action_prefix = b'{"type":"action","action":'

    # -- errors ---------------------------------------------------------------------------
    def _context(self) -> str:
        proc = self.process
        if proc is None:
            return ""
        proc.wait_output(1.0 if not proc.alive else 0.05)
        parts = []
        if proc.script_errors:
            errs = "\n".join("    " + e for e in proc.script_errors[-10:])
            parts.append(f"GDScript errors (SCRIPT ERROR) printed by the game:\n{errs}")
        parts.append(proc.describe_output(30))
        return "\n" + "\n".join(parts)

    def crashed(self, message: str) -> EngineError:
        """Build a :class:`GodotCrashed` naming the exit status and showing the game's output."""
        proc = self.process
        status = ""
        if proc is not None:
            deadline = time.monotonic() + 2.0
            while proc.alive and time.monotonic() < deadline:
                time.sleep(0.02)
            status = f" ({proc.exit_description()})" if not proc.alive else " (the process is still running)"
        return GodotCrashed(f"{self.spec.label}: {message}{status}.{self._context()}")

    def _protocol_error(self, exc: EngineError) -> EngineError:
        text = str(exc)
        prefix = "" if text.startswith(self.spec.label) else f"{self.spec.label}: "
        return type(exc)(f"{prefix}{text}{self._context()}")

    def _check_script_errors(self) -> None:
        proc = self.process
        if proc is None or self.spec.script_errors != "fail":
            return
        if len(proc.script_errors) > self._seen_script_errors:
            new = proc.script_errors[self._seen_script_errors:]
            self._seen_script_errors = len(proc.script_errors)
            shown = "\n".join("    " + e for e in new[:10])
            raise GodotScriptError(
                f"{self.spec.label} printed {len(new)} GDScript error(s) (SCRIPT ERROR):\n{shown}\n"
                f"Fix the script, or pass script_errors='ignore' in the marker to only record them. "
                f"Full output: {proc.log_path}"
            )

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Launch the game, accept its connection, exchange handshake and env_info."""
        spec = self.spec
        listener = Listener()
        try:
            cmd = build_command(spec.binary, spec.game, port=listener.port, seed=spec.seed, scene=spec.scene,
                                speedup=spec.speedup, action_repeat=spec.action_repeat,
                                fixed_fps=spec.fixed_fps, agents=spec.agents, extra=spec.extra_args)
            self._started_at = time.monotonic()
            try:
                # a locale Godot knows, so the log does not start with locale errors
                self.process = GodotProcess(cmd, spec.log_path, cwd=spec.game.path if not spec.game.exported
                                            else spec.game.path.parent, env={"LANG": "en_US.UTF-8"})
            except OSError as exc:
                raise EngineError(f"{spec.label}: could not launch {cmd[0]}: {exc}") from None
            proc = self.process
            sock = listener.accept(spec.timeout, lambda: proc.alive, self.crashed)
        finally:
            listener.close()
        self.boot_seconds = time.monotonic() - self._started_at
        self.conn = Connection(sock, spec.timeout, lambda: proc.alive, self.crashed, spec.label)
        try:
            self.conn.send(handshake_message())
            info = self.conn.request({"type": "env_info"}, "env_info", "env_info reply")
            self._parse_env_info(info)
        except ProtocolError as exc:
            raise self._protocol_error(exc) from None
        self._check_script_errors()

    def _parse_env_info(self, info: dict[str, Any]) -> None:
        where = f"{self.spec.label}: env_info"
        n = info.get("n_agents")
        if isinstance(n, float) and n.is_integer():
            n = int(n)
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ProtocolError(f"{where}: n_agents must be a whole number, got {n!r}")
        if n == 0:
            raise ProtocolError(
                f"{where}: the scene has no agents. Add agent nodes (extending "
                "res://addons/rlplaytest/agent_controller.gd, or Godot RL Agents' AIController) to group AGENT."
            )
        obs_spaces = info.get("observation_space")
        act_spaces = info.get("action_space")
        if isinstance(obs_spaces, dict):
            obs_spaces = [obs_spaces] * n
        if isinstance(act_spaces, dict):
            act_spaces = [act_spaces] * n
        for name, value in (("observation_space", obs_spaces), ("action_space", act_spaces)):
            if not isinstance(value, list) or len(value) != n:
                raise ProtocolError(f"{where}: {name} must be one object or a list of {n} (one per agent), got "
                                    f"{str(value)[:120]}")
        assert isinstance(obs_spaces, list) and isinstance(act_spaces, list)
        for i in range(1, n):
            if obs_spaces[i] != obs_spaces[0] or act_spaces[i] != act_spaces[0]:
                raise ProtocolError(
                    f"{where}: agent {i}'s spaces differ from agent 0's ({obs_spaces[i]} / {act_spaces[i]} vs "
                    f"{obs_spaces[0]} / {act_spaces[0]}); a playtest trains one shared policy, so all agents "
                    "of a scene must declare the same observation and action spaces"
                )
        self.n_agents = n
        self._episode_seeds = [None] * n
        self.obs_codec = ObsCodec(obs_spaces[0], where=where)
        self.action_codec = ActionCodec(act_spaces[0], where=where)
        self.env_info = info
        extra = info.get("rlplaytest")
        self.addon_info = dict(extra) if isinstance(extra, dict) else {}
        self.auto_reset = bool(self.addon_info.get("auto_reset", False))
        if self.spec.agents is not None and n != self.spec.agents:
            raise EngineError(
                f"{self.spec.label}: agents={self.spec.agents} was requested (--agents={self.spec.agents}) but the "
                f"scene has {n} agents. The scene must build its agents from the --agents=N argument "
                "(Args.get_int(\"agents\", ...) in res://addons/rlplaytest/args.gd); otherwise drop agents=."
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.alive

    def close(self) -> None:
        """Send close, wait briefly, then SIGTERM/SIGKILL the process group. Idempotent, never raises."""
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                if self.alive:
                    conn.send({"type": "close"})
            except Exception:
                pass
            conn.close()
        if self.process is not None:
            try:
                self.process.terminate(grace=1.0)
            except Exception:  # pragma: no cover - teardown must not mask the test's error
                pass

    # -- protocol calls -------------------------------------------------------------------
    def _require(self) -> Connection:
        if self.conn is None:
            raise EngineError(f"{self.spec.label} is not running (closed, or start() was not called)")
        return self.conn

    def _infos(self, reply: dict[str, Any], where: Any) -> list[dict[str, Any]]:
        """Per-agent infos, with the reply's telemetry and each agent's current episode seed added."""
        infos = reply.get("info")
        n = self.n_agents
        if infos is None:
            infos = [{} for _ in range(n)]
        elif type(infos) is not list or len(infos) != n:
            raise ProtocolError(f"{where}: 'info' must be a list with one object per agent ({n})")
        elif set(map(type, infos)) != {dict}:
            for i, info in enumerate(infos):
                if info is None:
                    infos[i] = {}
                elif not isinstance(info, dict):
                    raise ProtocolError(f"{where}, agent {i}: info must be an object, got {type(info).__name__}")
        telemetry = reply.get("rlplaytest")
        seeds = self._episode_seeds
        shared = telemetry if type(telemetry) is dict and telemetry else None
        for i, info in enumerate(infos):
            if shared is not None:  # per-reply telemetry goes into every agent's info
                info.update(shared)
            seed = info.get(EPISODE_SEED_KEY)  # sent in an episode's first info only: carry it on
            if seed is None:
                if seeds[i] is not None:
                    info[EPISODE_SEED_KEY] = seeds[i]
            else:
                seeds[i] = seed
        return infos

    def reset(self, seed: int | None = None) -> tuple[Any, list[dict[str, Any]]]:
        """Reset every agent (``seed``: reseed the game first; our addon honours it). Returns the
        observation batch and per-agent infos."""
        conn = self._require()
        assert self.obs_codec is not None
        message: dict[str, Any] = {"type": "reset"}
        if seed is not None:
            message["seed"] = int(seed)
        where = f"{self.spec.label}: reset reply"
        try:
            reply = conn.request(message, "reset", "reset reply")
            obs = self.obs_codec.decode_batch(reply.get("obs"), self.n_agents, where)
            infos = self._infos(reply, where)
        except ProtocolError as exc:
            raise self._protocol_error(exc) from None
        if self.first_obs_seconds != self.first_obs_seconds:  # NaN: first reset
            self.first_obs_seconds = time.monotonic() - self._started_at
        self._check_script_errors()
        return obs, infos

    def send_actions(self, actions: Any) -> None:
        """Send one action per agent (a batch shaped like the action space)."""
        conn = self.conn
        if conn is None:
            conn = self._require()
        assert self.action_codec is not None
        body = self._action_prefix + self.action_codec.encode_json(actions, self.n_agents).encode("ascii") + b"}"
        conn.send_frame(len(body).to_bytes(4, "little") + body, "action")

    def recv_step(self) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Receive the step reply: ``(obs, rewards, dones, infos)`` with SB3 conventions applied
        (``terminal_observation`` and ``TimeLimit.truncated`` in the info of done agents)."""
        conn = self.conn
        if conn is None:
            conn = self._require()
        codec = self.obs_codec
        assert codec is not None
        self.steps += 1
        where = _Where(self.spec.label, self.steps)
        try:
            short = _ShortWhere(self.steps)
            reply = conn.recv(short)
            if reply.get("type") != "step":
                reply = conn.expect("step", short, first=reply)
            block = reply.get("f32")
            if block is not None and codec.flat is not None:
                obs, rewards, reply["rlplaytest"] = codec.decode_f32(block, self.n_agents, where)
            else:
                obs = codec.decode_batch(reply.get("obs"), self.n_agents, where)
                rewards = self._rewards(reply.get("reward"), where)
            done_list = reply.get("done")
            dones = self._dones(done_list, where)  # (a list of n booleans or 0/1 from here on)
            infos = self._infos(reply, where)
            if True not in done_list:  # type: ignore[operator]  # (1 == True: covers 0/1 too)
                if self.spec.script_errors == "fail":
                    self._check_script_errors()
                return obs, rewards, dones, infos
            for i in np.flatnonzero(dones):
                info = infos[i]
                if TERMINAL_OBS_WIRE_KEY in info:
                    info["terminal_observation"] = codec.decode_one(
                        info.pop(TERMINAL_OBS_WIRE_KEY), f"{where}, agent {i}, terminal observation")
                else:
                    info["terminal_observation"] = _row(obs, int(i))
                truncated = bool(info.get("TimeLimit.truncated", False) or info.get("truncated", False))
                info["TimeLimit.truncated"] = truncated
        except ProtocolError as exc:
            raise self._protocol_error(exc) from None
        self._check_script_errors()
        return obs, rewards, dones, infos

    def _rewards(self, rewards: Any, where: Any) -> np.ndarray:
        if type(rewards) is list and len(rewards) == self.n_agents and set(map(type, rewards)) <= _NUMBER_TYPES:
            arr = np.array(rewards, dtype=np.float64)
            if np.isfinite(arr).all():
                return arr.astype(np.float32)
        if not isinstance(rewards, list) or len(rewards) != self.n_agents:
            got = f"{len(rewards)} entries" if isinstance(rewards, list) else repr(rewards)[:60]
            raise ProtocolError(f"{where}: 'reward' must be a list with one number per agent ({self.n_agents}), "
                                f"got {got}")
        for i, r in enumerate(rewards):
            if isinstance(r, bool) or not isinstance(r, (int, float)):
                raise ProtocolError(f"{where}, agent {i}: reward {r!r} is not a number")
        arr = np.asarray(rewards, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            i = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise ProtocolError(f"{where}, agent {i}: reward is {arr[i]}; the game must send finite numbers")
        return arr.astype(np.float32)

    def _dones(self, dones: Any, where: Any) -> np.ndarray:
        if type(dones) is list and len(dones) == self.n_agents and set(map(type, dones)) <= _BOOL_TYPES:
            return np.array(dones, dtype=bool)
        if not isinstance(dones, list) or len(dones) != self.n_agents:
            got = f"{len(dones)} entries" if isinstance(dones, list) else repr(dones)[:60]
            raise ProtocolError(f"{where}: 'done' must be a list with one boolean per agent ({self.n_agents}), "
                                f"got {got}")
        for i, d in enumerate(dones):
            if not isinstance(d, (bool, int, float)) or d not in (0, 1):
                raise ProtocolError(f"{where}, agent {i}: done {d!r} is not a boolean")
        return np.asarray(dones, dtype=bool)

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Send actions and receive the reply."""
        self.send_actions(actions)
        return self.recv_step()

    def call(self, method: str) -> list[Any]:
        """Call ``method`` on every agent in the game; one return value per agent."""
        conn = self._require()
        try:
            reply = conn.request({"type": "call", "method": method}, "call", f"call {method!r} reply")
        except ProtocolError as exc:
            raise self._protocol_error(exc) from None
        returns = reply.get("returns")
        if not isinstance(returns, list):
            raise self._protocol_error(ProtocolError(f"call {method!r} reply: 'returns' must be a list"))
        return returns


class _Where:
    """``"<label>: step N reply"`` for error messages, formatted only when an error needs it."""

    __slots__ = ("label", "step")

    def __init__(self, label: str, step: int) -> None:
        self.label = label
        self.step = step

    def __str__(self) -> str:
        return f"{self.label}: step {self.step} reply"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class _ShortWhere:
    """``"step N reply"`` (the connection's wording), formatted only when an error needs it."""

    __slots__ = ("step",)

    def __init__(self, step: int) -> None:
        self.step = step

    def __str__(self) -> str:
        return f"step {self.step} reply"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _row(obs: Any, i: int) -> Any:
    if isinstance(obs, dict):
        return {k: v[i].copy() for k, v in obs.items()}
    return obs[i].copy()


def _concat(parts: Sequence[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


def _vec_env_base() -> type:
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv

    return VecEnv


def make_vec_env_class() -> type:
    """Build :class:`GodotVecEnv` lazily (SB3 is imported only when a Godot env is made)."""
    global GodotVecEnv
    if GodotVecEnv is not None:
        return GodotVecEnv
    VecEnv = _vec_env_base()

    class _GodotVecEnv(VecEnv):  # type: ignore[misc, valid-type]
        """The agents of one or more running game instances as one SB3 ``VecEnv``.

        Env ``k`` is agent ``k`` in instance order. ``step`` sends every instance its actions
        before waiting for any reply, so instances run in parallel. ``env_method(name)`` calls
        ``name`` on the agents in the game (the protocol's ``call`` message).
        """

        def __init__(self, sessions: Sequence[GodotSession]) -> None:
            if not sessions:
                raise ValueError("GodotVecEnv needs at least one started GodotSession")
            self.sessions = list(sessions)
            first = self.sessions[0]
            assert first.obs_codec is not None and first.action_codec is not None
            for s in self.sessions[1:]:
                assert s.obs_codec is not None and s.action_codec is not None
                if s.obs_codec.keys != first.obs_codec.keys or s.action_codec.keys != first.action_codec.keys:
                    raise EngineError("game instances declare different spaces; they must run the same scene")
            self._offsets = np.cumsum([0] + [s.n_agents for s in self.sessions]).tolist()
            super().__init__(self._offsets[-1], first.obs_codec.space(), first.action_codec.space())
            self._actions: Any = None
            self.closed = False

        def new_log_lines(self, env_index: int) -> list[str]:
            """What the game instance running agent ``env_index`` printed since this was last
            asked for that agent (log-pattern bug signatures). The agents of one instance share
            its output, so each of them sees every line."""
            cursors = self.__dict__.setdefault("_log_cursors", {})
            for session, start, end in zip(self.sessions, self._offsets, self._offsets[1:]):
                if start <= env_index < end:
                    if session.process is None:
                        return []
                    lines, cursors[env_index] = session.process.lines_since(cursors.get(env_index, 0))
                    return lines
            raise IndexError(f"no agent {env_index} in this VecEnv of {self.num_envs}")

        def world_seed(self, env_index: int) -> int:
            """The ``--env_seed`` of the game instance that runs agent ``env_index`` (its world:
            a level generated from it must be generated alike for a replay)."""
            for session, start, end in zip(self.sessions, self._offsets, self._offsets[1:]):
                if start <= env_index < end:
                    return int(session.spec.seed)
            raise IndexError(f"no agent {env_index} in this VecEnv of {self.num_envs}")

        def reset(self) -> Any:
            seeds = [options.get("rl_episode_seed", seed) for options, seed in zip(self._options, self._seeds)]
            parts, infos = [], []
            for s, off in zip(self.sessions, self._offsets):
                obs, inf = s.reset(seed=seeds[off] if off < len(seeds) else None)
                parts.append(obs)
                infos.extend(inf)
            self.reset_infos = infos
            if hasattr(self, "_reset_seeds"):
                self._reset_seeds()
            if hasattr(self, "_reset_options"):
                self._reset_options()
            return _concat(parts)

        def step_async(self, actions: np.ndarray) -> None:
            self._actions = np.asarray(actions)
            if len(self.sessions) == 1:
                self.sessions[0].send_actions(self._actions)
                return
            for s, lo, hi in zip(self.sessions, self._offsets, self._offsets[1:]):
                s.send_actions(self._actions[lo:hi])

        def step_wait(self) -> Any:
            if len(self.sessions) == 1:
                return self.sessions[0].recv_step()
            parts, rewards, dones, infos = [], [], [], []
            for s in self.sessions:
                obs, rew, done, inf = s.recv_step()
                parts.append(obs)
                rewards.append(rew)
                dones.append(done)
                infos.extend(inf)
            return _concat(parts), np.concatenate(rewards), np.concatenate(dones), infos

        def close(self) -> None:
            if self.closed:
                return
            self.closed = True
            for s in self.sessions:
                s.close()

        def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
            idx = list(self._get_indices(indices))
            if attr_name == "render_mode":
                return [None for _ in idx]
            raise AttributeError(f"Godot agents have no Python attribute {attr_name!r}; use env_method to call "
                                 "a method on the agents in the game")

        def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
            raise AttributeError(f"cannot set {attr_name!r} on agents living in a Godot process")

        def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
            if method_args or method_kwargs:
                raise TypeError("the Godot call message carries no arguments")
            returns: list[Any] = []
            for s in self.sessions:
                returns.extend(s.call(method_name))
            return [returns[i] for i in self._get_indices(indices)]

        def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
            return [False for _ in self._get_indices(indices)]

        def describe(self) -> dict[str, Any]:
            """Boot and first-observation times per instance."""
            return {
                "instances": len(self.sessions),
                "agents_per_instance": [s.n_agents for s in self.sessions],
                "boot_seconds": [round(s.boot_seconds, 4) for s in self.sessions],
                "first_obs_seconds": [round(s.first_obs_seconds, 4) for s in self.sessions],
            }

    _GodotVecEnv.__name__ = _GodotVecEnv.__qualname__ = "GodotVecEnv"
    GodotVecEnv = _GodotVecEnv
    return GodotVecEnv


GodotVecEnv: Any = None


def make_gym_env(session: GodotSession) -> gym.Env[Any, Any]:
    """A single-agent ``gymnasium.Env`` over a started one-agent :class:`GodotSession`."""
    import gymnasium as gym

    if session.n_agents != 1:
        raise EngineError(
            f"{session.spec.label} has {session.n_agents} agents; a single-agent Env needs exactly one. Pass "
            "agents=1 (if the scene reads --agents) or use make_vec_env()."
        )
    assert session.obs_codec is not None and session.action_codec is not None

    class GodotEnv(gym.Env):  # type: ignore[type-arg]
        """One Godot agent as a Gymnasium env (terminated vs truncated as the game reports them)."""

        metadata: dict[str, Any] = {"render_modes": []}

        def __init__(self) -> None:
            self.session = session
            self.observation_space = session.obs_codec.space()  # type: ignore[union-attr]
            self.action_space = session.action_codec.space()  # type: ignore[union-attr]
            self._next: tuple[Any, dict[str, Any]] | None = None

        def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
            super().reset(seed=seed)
            if seed is None and self._next is not None:
                obs, info = self._next
                self._next = None
                return obs, info
            self._next = None
            obs, infos = self.session.reset(seed=seed)
            return _row(obs, 0), infos[0]

        def step(self, action: Any) -> Any:
            batch = np.asarray(action)[None, ...]
            obs, rewards, dones, infos = self.session.step(batch)
            info = infos[0]
            first = _row(obs, 0)
            if not dones[0]:
                return first, float(rewards[0]), False, False, info
            truncated = bool(info.get("TimeLimit.truncated", False))
            terminal = info.pop("terminal_observation")
            if self.session.auto_reset:
                self._next = (first, {})
            return terminal, float(rewards[0]), not truncated, truncated, info

        def close(self) -> None:
            self.session.close()

    return GodotEnv()
