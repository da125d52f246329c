"""One running Godot game speaking the Godot RL Agents wire protocol: :class:`GodotSession`.

It launches the process, accepts its connection, exchanges handshake and ``env_info``, and then
resets, steps and calls it. It serves three kinds of games alike: scenes built with our addon, and
games built on the official Godot RL Agents plugin's ``main`` (Godot 4) and ``godot3`` branches.
What differs is read back from the game (:mod:`.startup`): which one it is, whether it honours
reset seeds, and what ``action_repeat``/``speedup`` it runs with.

Episode ends: ``done`` from the game means *terminated* unless the step's ``info`` says it was a time
limit (``TimeLimit.truncated`` or ``truncated`` true; our addon reports it, the official plugin
does not). A done agent's ``info["terminal_observation"]`` holds its final observation (SB3). Our
addon resets a done agent in the same frame and sends the terminal observation in
``info["rl_terminal_obs"]``, so the returned observation starts the next episode (SB3's
auto-reset). The official plugin never resets anything itself: it reports ``done`` once and clears
it (main ``sync.gd:584-591``); the game's own code resets its level (the documented pattern sets
``done`` and ``needs_reset`` and resets on ``needs_reset``), so the observation sent with
``done=true`` is whatever the game shows on that frame (used as the terminal observation, as
godot-rl does).

Time limits (``max_episode_steps``) hold for every game: the session counts each agent's steps and
truncates an episode that reaches the limit (``TimeLimit.truncated = True``). Neither protocol can
reset one agent (a reset message resets them all: main ``sync.gd:556-559``), so the session resets
the whole instance then: every agent of it ends its episode at that step, as truncated unless the
game ended it in that very step. Our addon also gets ``--max_episode_steps`` and ends its episodes
there itself, so for it the driver's limit is only a backstop.

Our addon also sends the engine telemetry once per reply (top-level ``rlplaytest`` object) and each
agent's ``rl_episode_seed`` only in the first info of an episode; the session copies both into every
agent's info. Step replies from our addon carry observations, rewards and that telemetry as one
float32 block (``f32``, offered in our handshake) instead of JSON numbers; see ``addon/sync.gd``.
Where the addon also accepts ``step_f32``, a step reply is that block as a binary message, followed
by the dones and infos as JSON only when an agent is done or an info is not empty
(:func:`.protocol.is_binary_body`): the common step has no JSON at all.
Continuous actions go to our addon as one binary float32 block when it accepts them in ``env_info``
(``actions_f32``, offered in our handshake; :func:`.protocol.action_block`); official-plugin games
and older addons never accept, and keep getting JSON actions.
Replies are checked with a few cheap whole-batch tests first; only a reply that fails them is
inspected value by value, so errors still name the agent, key and index.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from ...telemetry import EPISODE_SEED_KEY
from ..base import EngineError
from .binary import GameLocation, GodotBinary, build_command
from .policies import (
    GodotMultiPolicyError,  # noqa: F401  (re-exported: its home was this module)
    MixedActionCodec,
    MixedObsCodec,
    build_codecs,
    check_group_spaces,
    group_agents,
    policy_names,
)
from .process import GodotProcess
from .protocol import (
    Connection,
    GodotCrashed,
    GodotScriptError,
    Listener,
    ProtocolError,
    action_block,
    handshake_message,
    is_binary_body,
    parse_message,
)
from .scenefile import sync_node_properties
from .spaces import ActionCodec, ObsCodec
from .startup import (
    FLAVOUR_ADDON,
    SEEDS_PER_EPISODE,
    GameRun,
    GodotProjectError,
    StartupWatch,
    detect_flavour,
    detect_run,
)

_NUMBER_TYPES = frozenset({float, int})
_BOOL_TYPES = frozenset({bool})
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
    #: the driver's time limit in steps per episode (None: the game's own)
    max_episode_steps: int | None = None
    #: who asked for ``agents``: the marker (``"agents="``), ``"make_env()"``, ``"replay"`` (one agent)
    #: or ``"plan"`` (the engine's ``instances=`` plan, which checks the count itself)
    agents_from: str = "agents="


class GodotSession:
    """One game process speaking the protocol. Create, then :meth:`start` (or :meth:`launch` then
    :meth:`connect`, so several games boot in parallel); always :meth:`close`."""

    def __init__(self, spec: LaunchSpec) -> None:
        self.spec = spec
        self.process: GodotProcess | None = None
        self.conn: Connection | None = None
        self.n_agents = 0
        self.obs_codec: ObsCodec | MixedObsCodec | None = None
        self.action_codec: ActionCodec | MixedActionCodec | None = None
        self.env_info: dict[str, Any] = {}
        self.addon_info: dict[str, Any] = {}
        self.auto_reset = False
        self.run: GameRun | None = None
        self.policy_names: list[str] = []
        #: agent indices per policy name (``agent_policy_names``), and each policy's codecs
        self.policy_groups: dict[str, list[int]] = {}
        self.policy_codecs: dict[str, tuple[ObsCodec, ActionCodec]] = {}
        self.boot_seconds = float("nan")
        self.first_obs_seconds = float("nan")
        self.steps = 0
        #: the last step ended every agent's episode by resetting the instance (time limit)
        self.reset_in_last_step = False
        self._seen_script_errors = 0
        self._started_at = 0.0
        self._listener: Listener | None = None
        self._watch: StartupWatch | None = None
        self._line_cursor = 0
        self._episode_seeds: list[Any] = []
        self._episode_steps = np.zeros(0, dtype=np.int64)
        self._action_prefix = b'{"type":"action","action":'
        #: actions go out as binary blocks (our addon accepted them in env_info; continuous actions)
        self.binary_actions = False

    @property
    def seeding(self) -> str | None:
        """:data:`.startup.SEEDS_PER_EPISODE` or ``SEEDS_LAUNCH_ONLY`` once connected."""
        return self.run.seeding if self.run is not None else None

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
        self.launch()
        self.connect()

    def launch(self) -> None:
        """Listen, then start the game process (returns at once)."""
        spec = self.spec
        self._listener = listener = Listener()
        cmd = build_command(spec.binary, spec.game, port=listener.port, seed=spec.seed, scene=spec.scene,
                            speedup=spec.speedup, action_repeat=spec.action_repeat,
                            fixed_fps=spec.fixed_fps, agents=spec.agents, extra=spec.extra_args)
        self._started_at = time.monotonic()
        try:
            # a locale Godot knows, so the log does not start with locale errors
            self.process = GodotProcess(cmd, spec.log_path, cwd=spec.game.path if not spec.game.exported
                                        else spec.game.path.parent, env={"LANG": "en_US.UTF-8"})
        except OSError as exc:
            listener.close()
            self._listener = None
            raise EngineError(f"{spec.label}: could not launch {cmd[0]}: {exc}") from None
        proc = self.process
        self._watch = StartupWatch(spec.label, self._new_lines, lambda: proc.describe_output(30),
                                   project=None if spec.game.exported else str(spec.game.path),
                                   godot_major=spec.binary.major if spec.binary is not None else 0,
                                   line_flushed=not spec.game.exported)

    def _new_lines(self) -> list[str]:
        assert self.process is not None
        lines, self._line_cursor = self.process.lines_since(self._line_cursor, settle=0.0)
        return lines

    def connect(self) -> None:
        """Accept the launched game's connection (failing fast on what its output says), then
        handshake and env_info."""
        spec, proc, listener, watch = self.spec, self.process, self._listener, self._watch
        assert proc is not None and listener is not None and watch is not None, "launch() first"
        try:
            sock = listener.accept(spec.timeout, lambda: proc.alive, self.crashed, watch.check)
        finally:
            listener.close()
            self._listener = None
        self.boot_seconds = time.monotonic() - self._started_at
        self.conn = Connection(sock, spec.timeout, lambda: proc.alive, self.crashed, spec.label)
        self.conn.watch = watch.check  # a godot3-branch game may connect after giving up (sync.gd:97-101)
        try:
            self.conn.send(handshake_message())
            info = self.conn.request({"type": "env_info"}, "env_info", "env_info reply")
            self._parse_env_info(info)
        except ProtocolError as exc:
            raise self._protocol_error(exc) from None
        finally:
            self.conn.watch = None
        try:
            watch.check()  # (the boot lines printed so far, for detect_run)
        except GodotProjectError:  # a running game's script errors are reported as script errors
            pass
        self._detect_run(info)
        self._check_script_errors()

    def _detect_run(self, info: dict[str, Any]) -> None:
        spec, watch = self.spec, self._watch
        assert watch is not None
        major = spec.binary.major if spec.binary is not None else 0
        flavour = detect_flavour(info, major, watch.facts)
        sync_props = None
        if flavour != FLAVOUR_ADDON and not spec.game.exported:
            sync_props = sync_node_properties(spec.game.path, spec.scene)
        self.run = detect_run(flavour, info, watch.facts, asked_action_repeat=spec.action_repeat,
                              asked_speedup=spec.speedup, sync_props=sync_props, exported=spec.game.exported)
        self._check_agent_count(flavour)

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
        if isinstance(obs_spaces, dict):  # the godot3 branch: agent 0's spaces (sync.gd:74-85)
            obs_spaces = [obs_spaces] * n
        if isinstance(act_spaces, dict):
            act_spaces = [act_spaces] * n
        for name, value in (("observation_space", obs_spaces), ("action_space", act_spaces)):
            if not isinstance(value, list) or len(value) != n:
                raise ProtocolError(f"{where}: {name} must be one object or a list of {n} (one per agent), got "
                                    f"{str(value)[:120]}")
        assert isinstance(obs_spaces, list) and isinstance(act_spaces, list)
        self.policy_names = policy_names(info, n, where)
        self.policy_groups = group_agents(self.policy_names)
        check_group_spaces(self.policy_groups, obs_spaces, act_spaces, where)
        self.n_agents = n
        self._episode_seeds = [None] * n
        self._episode_steps = np.zeros(n, dtype=np.int64)
        self.obs_codec, self.action_codec, self.policy_codecs = build_codecs(
            self.policy_groups, obs_spaces, act_spaces, where)
        self.env_info = info
        extra = info.get("rlplaytest")
        self.addon_info = dict(extra) if isinstance(extra, dict) else {}
        self.auto_reset = bool(self.addon_info.get("auto_reset", False))
        self.binary_actions = (self.addon_info.get("actions_f32") is True and isinstance(self.action_codec, ActionCodec)
                               and self.action_codec.mode == "continuous")
        #: the addon sends the common step reply as a binary float32 message (``step_f32``)
        self.binary_replies = (self.addon_info.get("step_f32") is True and isinstance(self.obs_codec, ObsCodec)
                               and self.obs_codec.flat is not None)

    def _check_agent_count(self, flavour: str) -> None:
        spec, n = self.spec, self.n_agents
        if spec.agents is None or n == spec.agents or spec.agents_from in ("replay", "plan"):
            return  # (replays check seeding first, then the count: GodotEngine.make_replay_vec_env)
        if spec.agents_from == "make_env()":
            how = ("the scene builds its agents from --agents=N" if flavour == FLAVOUR_ADDON else
                   "official Godot RL Agents scenes cannot be told how many agents to have: their agents are "
                   "the AIController nodes in group AGENT")
            raise EngineError(
                f"{spec.label}: make_env() needs a scene with one Training agent, and this one has {n} ({how}). "
                "Use make_vec_env() (the rl_env fixture: one env per agent), or a scene with a single agent.")
        if flavour == FLAVOUR_ADDON:
            fix = ("The scene must build its agents from the --agents=N argument (Args.get_int(\"agents\", ...) "
                   "in res://addons/rlplaytest/args.gd); otherwise drop agents=.")
        else:
            fix = (f"This game runs the {flavour}, which never reads --agents: a scene's agents are the "
                   "AIController nodes in its group AGENT (main sync.gd:362-383, godot3 sync.gd:29-30). Drop "
                   "agents=; n_envs= then starts as many whole instances as it needs.")
        raise EngineError(f"{spec.label}: agents={spec.agents} was requested (--agents={spec.agents}) but the "
                          f"scene has {n} agents. {fix}")

    @property
    def alive(self) -> bool:
        """True while the session's Godot process runs."""
        return self.process is not None and self.process.alive

    def close(self) -> None:
        """Send close, wait briefly, then SIGTERM/SIGKILL the process group. Idempotent, never raises."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                if self.alive:
                    conn.send({"type": "close"})
            except Exception:
                pass
            conn.close()
        if self.process is not None:
            try:  # (a game that never finished connecting, e.g. one under human control, gets no grace)
                self.process.terminate(grace=1.0 if self.env_info else 0.0)
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
        telemetry = reply.get("rlplaytest")
        shared = telemetry if type(telemetry) is dict and telemetry else {}
        if infos is None:  # (our addon's common binary step; the godot3 branch sends none: sync.gd:171-175, 188-193)
            return [{**shared, EPISODE_SEED_KEY: seed} if seed is not None else dict(shared)
                    for seed in self._episode_seeds]
        if type(infos) is not list or len(infos) != n:
            raise ProtocolError(f"{where}: 'info' must be a list with one object per agent ({n})")
        elif set(map(type, infos)) != {dict}:
            for i, info in enumerate(infos):
                if info is None:
                    infos[i] = {}
                elif not isinstance(info, dict):
                    raise ProtocolError(f"{where}, agent {i}: info must be an object, got {type(info).__name__}")
        seeds = self._episode_seeds
        for i, info in enumerate(infos):
            if shared:  # per-reply telemetry goes into every agent's info
                info.update(shared)
            seed = info.get(EPISODE_SEED_KEY)  # sent in an episode's first info only: carry it on
            if seed is None:
                if seeds[i] is not None:
                    info[EPISODE_SEED_KEY] = seeds[i]
            else:
                seeds[i] = seed
        return infos

    def reset(self, seed: int | None = None) -> tuple[Any, list[dict[str, Any]]]:
        """Reset every agent. ``seed`` reseeds the episode in games that honour it (our addon;
        :attr:`seeding`); the official plugin reads nothing of a reset message but its type (main
        ``sync.gd:507-511``), so it is not sent there. Returns the observation batch and infos."""
        self.send_reset(seed)
        return self.recv_reset()

    def send_reset(self, seed: int | None = None) -> None:
        """Send the reset message of :meth:`reset` (then :meth:`recv_reset`: several instances
        reset at once)."""
        message: dict[str, Any] = {"type": "reset"}
        if seed is not None and self.seeding == SEEDS_PER_EPISODE:
            message["seed"] = int(seed)
        self._require().send(message)

    def recv_reset(self) -> tuple[Any, list[dict[str, Any]]]:
        """Receive the reset reply of :meth:`send_reset`: the observation batch and infos."""
        conn = self._require()
        assert self.obs_codec is not None
        where = f"{self.spec.label}: reset reply"
        try:
            reply = conn.expect("reset", "reset reply")
            obs = self.obs_codec.decode_batch(reply.get("obs"), self.n_agents, where)
            infos = self._infos(reply, where)
        except ProtocolError as exc:
            raise self._protocol_error(exc) from None
        self._episode_steps[:] = 0
        if self.first_obs_seconds != self.first_obs_seconds:  # NaN: first reset
            self.first_obs_seconds = time.monotonic() - self._started_at
        self._check_script_errors()
        return obs, infos

    def send_actions(self, actions: Any) -> None:
        """Send one action per agent (a batch shaped like the action space)."""
        conn = self.conn
        if conn is None:
            conn = self._require()
        codec = self.action_codec
        assert codec is not None
        if self.binary_actions and isinstance(codec, ActionCodec):
            arr = np.asarray(actions, dtype=np.float32).reshape(self.n_agents, codec.width)
            total = float(arr.sum())
            if total - total == 0.0:  # all finite (else the JSON encoder names the bad value)
                if arr.min() < -1.0 or arr.max() > 1.0:
                    arr = np.clip(arr, -1.0, 1.0)
                conn.send_frame(action_block(arr), "action")
                return
        body = self._action_prefix + codec.encode_json(actions, self.n_agents).encode("ascii") + b"}"
        conn.send_frame(len(body).to_bytes(4, "little") + body, "action")

    def recv_step(self) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Receive the step reply: ``(obs, rewards, dones, infos)`` with SB3 conventions applied
        (``terminal_observation`` and ``TimeLimit.truncated`` in the info of done agents) and the
        time limit enforced."""
        conn = self.conn
        if conn is None:
            conn = self._require()
        codec = self.obs_codec
        assert codec is not None
        self.steps += 1
        self.reset_in_last_step = False
        where = _Where(self.spec.label, self.steps)
        try:
            short = _ShortWhere(self.steps)
            body = conn.recv_body(short)
            reply: dict[str, Any] | None
            if self.binary_replies and is_binary_body(body):  # the values, then dones/infos JSON if any
                flat = cast(ObsCodec, codec)  # (binary_replies: one ObsCodec with a float32 layout)
                size = flat.f32_bytes(self.n_agents)
                obs, rewards, telemetry = flat.decode_f32_raw(body[:size], self.n_agents, where)
                if len(body) == size:  # the common step: no agent done, every info empty
                    reply = None
                    dones = np.zeros(self.n_agents, dtype=bool)
                    infos = self._infos({"rlplaytest": telemetry}, where)
                    ended = False
                else:
                    reply = parse_message(body[size:], short)
                    reply["rlplaytest"] = telemetry
            else:
                reply = parse_message(body, short)
                if reply.get("type") != "step":
                    reply = conn.expect("step", short, first=reply)
                block = reply.get("f32")
                if block is not None and codec.flat is not None:
                    obs, rewards, reply["rlplaytest"] = codec.decode_f32(block, self.n_agents, where)
                else:
                    obs = codec.decode_batch(reply.get("obs"), self.n_agents, where)
                    rewards = self._rewards(reply.get("reward"), where)
            if reply is not None:
                done_list = reply.get("done")
                dones = self._dones(done_list, where)  # (a list of n booleans or 0/1 from here on)
                infos = self._infos(reply, where)
                ended = True in done_list  # type: ignore[operator]  # (1 == True: covers 0/1 too)
            limit = self.spec.max_episode_steps
            if limit is not None:
                self._episode_steps += 1
            if ended:
                self._mark_ends(obs, dones, infos, where)
            if limit is not None and self._episode_steps.max() >= limit:
                obs = self._truncate(obs, dones, infos, limit)
        except ProtocolError as exc:
            raise self._protocol_error(exc) from None
        self._check_script_errors()
        return obs, rewards, dones, infos

    def _mark_ends(self, obs: Any, dones: np.ndarray, infos: list[dict[str, Any]], where: Any) -> None:
        codec = self.obs_codec
        assert codec is not None
        for i in np.flatnonzero(dones):
            info = infos[i]
            if TERMINAL_OBS_WIRE_KEY in info:
                info["terminal_observation"] = codec.decode_agent(
                    int(i), info.pop(TERMINAL_OBS_WIRE_KEY), f"{where}, agent {i}, terminal observation")
            else:
                info["terminal_observation"] = _row(obs, int(i))
            info["TimeLimit.truncated"] = bool(info.get("TimeLimit.truncated", False) or info.get("truncated", False))
        self._episode_steps[dones] = 0

    def _truncate(self, obs: Any, dones: np.ndarray, infos: list[dict[str, Any]], limit: int) -> Any:
        """An agent reached ``limit`` steps: reset the instance (the only reset the protocol has)
        and end every agent's episode at this step, as truncated where the game did not end it."""
        assert self.conn is not None and self.obs_codec is not None
        where = f"{self.spec.label}: reset reply (time limit of {limit} steps)"
        reply = self.conn.request({"type": "reset"}, "reset", where)
        new_obs = self.obs_codec.decode_batch(reply.get("obs"), self.n_agents, where)
        for i in np.flatnonzero(~dones):
            infos[i]["terminal_observation"] = _row(obs, int(i))
            infos[i]["TimeLimit.truncated"] = True
        dones[:] = True
        self._infos(reply, where)  # (the new episodes' seeds; their infos start the next step)
        self._episode_steps[:] = 0
        self.reset_in_last_step = True
        return new_obs

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
        """Call ``method`` (no arguments) on the agents in the game. The official plugin calls it on
        every node of group AGENT, in any control mode (main ``sync.gd:542-547``), so the list may be
        longer than :attr:`n_agents` (Training agents only); our addon calls its agents."""
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
