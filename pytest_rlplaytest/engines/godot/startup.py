"""What a game prints while it boots: which sync node it runs, what it runs with, and early failures.

Games built on the official Godot RL Agents plugin never say over the wire that they gave up: the
plugin tries to connect once and then plays on under human control. Their output says it at once,
so :class:`StartupWatch` reads the game's lines while the driver waits for the connection and the
``env_info`` reply, and fails as soon as a line shows that no connection will come:

* main branch (Godot 4, ``bf5d6a2``): ``sync.gd:96-112`` connects only when at least one agent is
  in Training mode, after printing ``getting command line arguments`` (``:461``), the arguments
  (``:463-464``) and ``physics ticks ...`` (``:77-83``); then ``Waiting for one second to allow
  server to start`` (``:443``). No such line within :data:`NO_TRAINING_GRACE_S` after
  ``physics ticks``: the scene has no Training agent. A failed attempt prints the warning
  ``Couldn't connect to Python server, using human controls instead.`` (``:109-112``).
* godot3 branch (``5b6e1bf``): always connects, prints ``trying to connect to server`` then the
  connect result and the socket status glued together, e.g. ``02`` (``sync.gd:88-101``); any status
  but 2 (connected) means it fell back to human control without a word (``:143-149``).
* Godot 3 projects whose ``project.godot`` lacks the editor-written ``_global_script_classes``
  cannot resolve ``AIController3D`` & co: ``SCRIPT ERROR: GDScript::reload: Parse Error: Unknown
  class: "AIController3D"`` (godot3-server 3.2.3's wording).
* Godot 4 projects without an up-to-date ``.godot/global_script_class_cache.cfg`` cannot resolve
  ``class_name`` types (``Could not find base class``/``Could not find type``/``Identifier ... not
  declared``; godotengine/godot#75684).

The same lines tell what the game runs with: the plugin's ``physics ticks <ticks> <time_scale>
<speedup> <speed_up>`` line holds the time scale in effect (main ``sync.gd:75-83``, godot3
``sync.gd:138-140``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..base import EngineError

#: seconds after ``physics ticks`` within which a main-branch Sync with a Training agent prints
#: ``Waiting for one second to allow server to start`` (it does so in the same frame)
NO_TRAINING_GRACE_S = 1.0

FLAVOUR_ADDON = "rlplaytest addon"
FLAVOUR_MAIN = "Godot RL Agents plugin (main branch, Godot 4)"
FLAVOUR_GODOT3 = "Godot RL Agents plugin (godot3 branch, Godot 3)"

_PHYSICS_TICKS = re.compile(r"^physics ticks\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")
_GODOT3_STATUS = re.compile(r"^\s*(\d)(\d)\s*$")
_UNKNOWN_CLASS = re.compile(r'Parse Error: Unknown class: "(\w+)"')
_GODOT4_CLASS = re.compile(r'(?:Could not find (?:base class|type) "(\w+)"|Identifier "(\w+)" not declared)')


class GodotConnectFailed(EngineError):
    """The game will never connect: it fell back to human control, or has no Training agent."""


class GodotProjectError(EngineError):
    """The project cannot run as it is (class names unresolved: an import or editor pass is missing)."""


@dataclass
class StartupFacts:
    """What the game's boot lines said (filled in as they arrive)."""

    saw_args_first: bool = False
    physics_ticks: tuple[float, float, float, float] | None = None
    physics_ticks_at: float = 0.0
    waiting_to_connect: bool = False
    godot3_status: int | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def time_scale(self) -> float | None:
        """The ``Engine.time_scale`` the plugin set (its speedup in effect), from ``physics ticks``."""
        return None if self.physics_ticks is None else self.physics_ticks[1]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


class StartupWatch:
    """Reads the boot lines of one game and raises as soon as they show it will not connect.

    Args:
        label: names the game in messages.
        lines: returns the lines printed since the last call (the process's output).
        describe_output: the game's last output lines and log path, for messages.
        project: the project folder (for the fix in class-name errors), None for an exported game.
        godot_major: the engine's major version (3 or 4), 0 if unknown.
        line_flushed: the game's output arrives line by line (a project run by the editor binary:
            debug builds flush every print). Only then is the *absence* of a line within
            :data:`NO_TRAINING_GRACE_S` taken as a sign; an exported release build may buffer its
            output in blocks, so there only the lines themselves count.
    """

    def __init__(self, label: str, lines: Callable[[], Sequence[str]], describe_output: Callable[[], str],
                 project: str | None = None, godot_major: int = 0, line_flushed: bool = True) -> None:
        self.label = label
        self._lines = lines
        self._describe = describe_output
        self.project = project
        self.major = godot_major
        self.line_flushed = line_flushed
        self.facts = StartupFacts()
        self._after_trying = False

    def check(self) -> None:
        """Read the new lines; raise :class:`GodotConnectFailed` / :class:`GodotProjectError` when
        they show the game cannot connect or run."""
        now = time.monotonic()
        for line in self._lines():
            self._line(line.strip(), now)
        facts = self.facts
        if (self.line_flushed and facts.physics_ticks is not None and facts.saw_args_first
                and not facts.waiting_to_connect and now - facts.physics_ticks_at >= NO_TRAINING_GRACE_S):
            self._fail_no_training()

    def _line(self, line: str, now: float) -> None:
        facts = self.facts
        facts.lines.append(line)
        if line == "getting command line arguments" and facts.physics_ticks is None:
            facts.saw_args_first = True  # main branch order (sync.gd:74 before :77)
        elif (m := _PHYSICS_TICKS.match(line)) is not None:
            facts.physics_ticks = tuple(_number(g) for g in m.groups())  # type: ignore[assignment]
            facts.physics_ticks_at = now
        elif line.startswith("Waiting for one second to allow server to start"):
            facts.waiting_to_connect = True
        elif line == "trying to connect to server":
            self._after_trying = True
            return
        elif "Couldn't connect to Python server" in line:
            self._fail_fallback(line)
        elif self._after_trying and (m := _GODOT3_STATUS.match(line)) is not None:
            facts.godot3_status = int(m.group(2))
            if facts.godot3_status != 2:  # StreamPeerTCP.STATUS_CONNECTED
                self._fail_godot3_status(facts.godot3_status)
        elif (m := _UNKNOWN_CLASS.search(line)) is not None:
            self._fail_godot3_classes(m.group(1), line)
        elif self.major >= 4 and (m := _GODOT4_CLASS.search(line)) is not None:
            self._fail_godot4_classes(m.group(1) or m.group(2), line)
        self._after_trying = False

    def _raise(self, kind: type[EngineError], what: str, causes: Sequence[str]) -> None:
        listed = "\n".join(f"  - {c}" for c in causes)
        raise kind(f"{self.label}: {what}\n{listed}\n{self._describe()}")

    def _fail_no_training(self) -> None:
        self._raise(GodotConnectFailed, (
            "the Godot RL Agents Sync node did not try to connect: the scene has no agent in Training "
            "mode, so the plugin never connects and the game runs on under human control (plugin "
            "sync.gd:96-97: it connects only when at least one AIController is in Training mode). Causes:"), [
            "the Sync node's control_mode is Human or Onnx Inference: set it to Training",
            "every AIController's control_mode overrides it (Human, Onnx Inference, Record Expert Demos): "
            "set them to Inherit From Sync or Training",
            "the controllers are not in group AGENT: a controller that overrides _ready() must call "
            "super._ready() (ai_controller_3d.gd:44-45 adds it to the group)",
        ])

    def _fail_fallback(self, line: str) -> None:
        self._raise(GodotConnectFailed, (
            f"the game gave up connecting to the driver and plays on under human control ({line!r}; "
            "plugin sync.gd:103-112: it tries once, one second after start, and never again). Causes:"), [
            "the game connected to another port than the driver's --port=N (the plugin reads the last "
            "--port= of its command line, sync.gd:481-482; a launcher script or the game may change it)",
            "the driver was gone or not listening (it listens before launching the game; see its error above)",
        ])

    def _fail_godot3_status(self, status: int) -> None:
        self._raise(GodotConnectFailed, (
            f"the game's single connection attempt ended with socket status {status} (2 = connected), so "
            "the godot3 branch of Godot RL Agents silently fell back to human control (sync.gd:88-101, "
            "143-149: it checks the status once, right after connect_to_host, and never retries). Causes:"), [
            "status 1 (still connecting): the machine was too busy for the loopback connect to finish "
            "at once; rerun, and consider rlplaytest's addon, which waits for the connection",
            "status 3 (error): the game connected to another port than the driver's --port=N, or the "
            "driver was not listening",
        ])

    def _fail_godot3_classes(self, name: str, line: str) -> None:
        project = self.project or "the project"
        self._raise(GodotProjectError, (
            f"Godot 3 cannot resolve the class name {name!r} ({line!r}). Godot 3 finds class_name scripts "
            "(AIController, AIController3D, Sync's sensors...) through the _global_script_classes list in "
            "project.godot, which only the editor writes. Fix, either:"), [
            f"open {project} once in the Godot 3 editor (it writes _global_script_classes into "
            "project.godot) and commit project.godot",
            f'or extend by path instead of by class name, e.g. extends "res://addons/godot_rl_agents/'
            f'controller/ai_controller_3d.gd" instead of extends {name}',
        ])

    def _fail_godot4_classes(self, name: str, line: str) -> None:
        project = self.project or "."
        self._raise(GodotProjectError, (
            f"Godot 4 cannot resolve the class name {name!r} ({line!r}): the project's class cache "
            "(.godot/global_script_class_cache.cfg) is missing or stale (a fresh checkout has no .godot/ "
            "folder; godotengine/godot#75684). Fix:"), [
            f"import the project once: godot --headless --path {project} --import (the driver does this "
            "by itself when .godot/ is missing; delete .godot/ to make it import again)",
        ])


SEEDS_PER_EPISODE = "per_episode"
SEEDS_LAUNCH_ONLY = "launch_only"

#: the official plugin's default action_repeat: main branch Sync export (sync.gd:13), godot3
#: branch constant (sync.gd:12, 129-130: the inspector value is always overwritten)
PLUGIN_ACTION_REPEAT = 8


def detect_flavour(env_info: dict[str, object], godot_major: int, facts: StartupFacts) -> str:
    """Which sync node the game runs: our addon (its ``rlplaytest`` block in env_info), else the
    plugin branch that matches the engine (exported games, engine unknown: the main branch prints
    its arguments before ``physics ticks`` and sends ``agent_policy_names``; godot3 does neither)."""
    if isinstance(env_info.get("rlplaytest"), dict):
        return FLAVOUR_ADDON
    if godot_major == 3:
        return FLAVOUR_GODOT3
    if godot_major >= 4 or facts.saw_args_first or "agent_policy_names" in env_info:
        return FLAVOUR_MAIN
    return FLAVOUR_GODOT3


@dataclass(frozen=True)
class GameRun:
    """What one game instance runs with, as read back from the game (not as asked for).

    Attributes:
        flavour: :data:`FLAVOUR_ADDON`, :data:`FLAVOUR_MAIN` or :data:`FLAVOUR_GODOT3`.
        seeding: :data:`SEEDS_PER_EPISODE` (a reset with a seed reseeds the episode: our addon) or
            :data:`SEEDS_LAUNCH_ONLY` (``--env_seed`` seeds the global RNG once at launch and resets
            carry no seed the game reads: the official plugin, main ``sync.gd:485-487, 507-511``,
            godot3 ``sync.gd:125-127, 209-213``).
        action_repeat: physics frames per action; ``action_repeat_from`` says how it is known.
        speedup: ``Engine.time_scale`` in effect; ``speedup_from`` says how it is known.
    """

    flavour: str
    seeding: str
    action_repeat: int | None
    action_repeat_from: str
    speedup: float | None
    speedup_from: str

    def describe(self) -> dict[str, object]:
        """The ``describe()`` entries of an engine (see :meth:`.engine.GodotEngine.describe`)."""
        return {"plugin": self.flavour, "seeding": self.seeding, "action_repeat": self.action_repeat,
                "speedup": self.speedup,
                "runs_with": {"action_repeat": self.action_repeat_from, "speedup": self.speedup_from}}


def _plugin_action_repeat(flavour: str, asked: int | None, sync_props: dict[str, str] | None,
                          exported: bool) -> tuple[int | None, str]:
    if asked is not None:
        return asked, "--action_repeat (the plugin reads it: main sync.gd:490-491, godot3 sync.gd:129-130)"
    if flavour == FLAVOUR_GODOT3:
        return PLUGIN_ACTION_REPEAT, "the godot3 branch's DEFAULT_ACTION_REPEAT (sync.gd:12, 129-130)"
    if sync_props is not None:
        raw = sync_props.get("action_repeat")
        if raw is None:
            return PLUGIN_ACTION_REPEAT, "the Sync node's default (sync.gd:13); the scene file keeps it"
        try:
            return int(float(raw)), "the Sync node's action_repeat in the scene file"
        except ValueError:
            pass
    where = "an exported game" if exported else "the Sync node was not found in the scene file"
    return PLUGIN_ACTION_REPEAT, (f"assumed: the Sync node's default (sync.gd:13), unread ({where}); "
                                  "pass action_repeat= to be sure")


def detect_run(flavour: str, env_info: dict[str, object], facts: StartupFacts, *, asked_action_repeat: int | None,
               asked_speedup: float | None, sync_props: dict[str, str] | None, exported: bool) -> GameRun:
    """Read back what the game runs with (see :class:`GameRun`)."""
    if flavour == FLAVOUR_ADDON:
        addon = env_info.get("rlplaytest")
        assert isinstance(addon, dict)
        ar = addon.get("action_repeat")
        return GameRun(flavour, SEEDS_PER_EPISODE, int(ar) if isinstance(ar, (int, float)) else asked_action_repeat,
                       "the addon's env_info (its action_repeat)",
                       asked_speedup if asked_speedup is not None else 1.0,
                       "--speedup (the addon reads it)" if asked_speedup is not None else "the addon's default (1)")
    ar, ar_from = _plugin_action_repeat(flavour, asked_action_repeat, sync_props, exported)
    if facts.time_scale is not None:
        speed, speed_from = facts.time_scale, "the game's log (its 'physics ticks' line: the time scale set)"
    else:
        speed, speed_from = None, "unknown (no 'physics ticks' line in the game's log)"
    return GameRun(flavour, SEEDS_LAUNCH_ONLY, ar, ar_from, speed, speed_from)
