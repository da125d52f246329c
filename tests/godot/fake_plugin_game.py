"""The game both plugin doubles run (fake_godot4.py: plugin ``main``; fake_godot3.py: ``godot3``).

Nothing here is plugin code: it is a tiny game written the way the plugin's docs tell a game to be
written, plus the engine facts the doubles need (frames, pause, JSON). Citations: ``P4`` =
edbeeching/godot_rl_agents_plugin ``main`` at bf5d6a2, ``P3`` = its ``godot3`` branch at 5b6e1bf,
``R`` = edbeeching/godot_rl_agents tag v0.8.2.

The scene, in tree order: the players (each with its AIController child), then the Sync node last,
so in every physics frame the game code runs before Sync reads the agents (tree order is
processing order; the plugin leaves it to the scene). Each player is a counter:

* ``t`` counts physics frames since its level was reset; ``start`` is drawn from the global RNG at
  every level reset (the RNG that ``--env_seed`` seeds once: P4 ``sync.gd:485-487``);
* every frame it adds the current action's value to ``reward`` (the first discrete or continuous
  value): a step's reward is the sum over the ``action_repeat`` frames it ran, because the plugin
  zeroes the reward only when it reads it (P4 ``sync.gd:569-574``);
* at ``--fake_episode_frames`` frames it is game over: ``done = true; needs_reset = true`` (the
  documented pattern, R ``docs/CUSTOM_ENV.md:148-156``); on the next frame the player sees
  ``needs_reset``, resets its level and calls ``ai.reset()`` (same doc);
* obs = ``[t / 100, agent index, start, last action value]`` under ``--fake_obs_key`` (default
  ``obs``, P4 ``ai_controller_3d.gd:104-109``).

Engine facts: Godot's JSON parser turns every number into a float (godotengine/godot
``core/io/json.cpp`` ``_get_token``), so actions arrive as floats; ``JSON.stringify(d, "", false)``
keeps insertion order with no spaces (P4 ``sync.gd:424-425``); ``put_string``/``get_string`` frame
with a u32 little-endian length (``core/io/stream_peer.cpp``). Under ``--fixed-fps`` frames run as
fast as they can, so the plugin's 1-second start timer (60 frames of game time) costs no wall time;
only ``OS.delay_msec(1000)`` before connecting does.
"""

from __future__ import annotations

import json
import os
import random
import socket
import struct
import sys
import time
from typing import Any


def args_of(argv: list[str]) -> dict[str, str]:
    """``--key=value`` options of the double itself (``--fake_*``)."""
    out = {}
    for a in argv:
        if a.startswith("--fake_") and "=" in a:
            key, value = a[2:].split("=", 1)
            out[key] = value
    return out


def plugin_args(argv: list[str]) -> dict[str, str]:
    """The plugin's own parser (P4 ``sync.gd:460-473``, P3 ``sync.gd:103-116``): every argument,
    ``--k=v`` split at ``=`` (the second piece only), the rest with value ``""``."""
    arguments: dict[str, str] = {}
    for argument in argv:
        if "=" in argument:
            key_value = argument.split("=")
            arguments[key_value[0].lstrip("-")] = key_value[1]
        else:
            arguments[argument.lstrip("-")] = ""
    return arguments


class Wire:
    """The TCP client side: StreamPeerTCP ``put_string``/``get_string`` framing."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def available(self) -> bool:
        return bool(self.buf)

    def get_message(self) -> Any:
        """Blocks like ``_get_dict_json_message`` (P4 ``sync.gd:406-421``); None when Python left."""
        while len(self.buf) < 4 or len(self.buf) < 4 + struct.unpack("<I", self.buf[:4])[0]:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        (length,) = struct.unpack("<I", self.buf[:4])
        body, self.buf = self.buf[4:4 + length], self.buf[4 + length:]
        return json.loads(body, parse_int=float)  # Godot's JSON: every number is a float

    def put(self, message: dict[str, Any]) -> None:
        self.put_text(json.dumps(message, separators=(",", ":")))

    def put_text(self, text: str) -> None:
        data = text.encode("ascii", errors="replace")
        self.sock.sendall(struct.pack("<I", len(data)) + data)


def connect(port: int) -> socket.socket | None:
    """``StreamPeerTCP.connect_to_host("127.0.0.1", port)`` until it resolves (P4 ``sync.gd:446-457``)."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5.0)
        sock.settimeout(None)  # (a StreamPeerTCP waits as long as it takes)
        return sock
    except OSError:
        return None


def node_path(*names: str) -> str:
    """A node's path in the scene tree as Godot's ``get_path()`` gives it: from the tree's fixed root
    node ``root``, then the scene's root ``Game`` (a scene-tree NodePath, not a file-system path)."""
    return "/".join(("", "root", "Game", *names))


ACTION_SPACES = {
    "discrete": {"move": {"size": 3, "action_type": "discrete"}},
    "multi": {"turn": {"size": 3, "action_type": "discrete"}, "jump": {"size": 2, "action_type": "discrete"}},
    "continuous": {"steer": {"size": 2, "action_type": "continuous"}, "gas": {"size": 1, "action_type": "continuous"}},
    "mixed": {"steer": {"size": 1, "action_type": "continuous"}, "jump": {"size": 2, "action_type": "discrete"}},
}


class AIController:
    """P4 ``ai_controller_3d.gd`` state and defaults (P3 ``ai_controller.gd`` is the same minus modes)."""

    def __init__(self, player: Player, mode: str, policy: str) -> None:
        self.player = player
        self.control_mode = mode  # "inherit" | "human" | "training" (P4 ai_controller_3d.gd:4-11)
        self.policy_name = policy  # P4 ai_controller_3d.gd:31
        self.reset_after = int(player.opts.get("fake_reset_after", "1000"))  # P4 :15
        self.heuristic = "human"  # P4 :35
        self.done = False  # P4 :36
        self.reward = 0.0  # P4 :37
        self.n_steps = 0  # P4 :38
        self.needs_reset = False  # P4 :39

    def physics(self) -> None:
        """P4 ``ai_controller_3d.gd:98-101``: counts frames; past ``reset_after`` only flags needs_reset."""
        self.n_steps += 1
        if self.n_steps > self.reset_after:
            self.needs_reset = True

    def reset(self) -> None:  # P4 :112-114 (done and reward untouched)
        self.n_steps = 0
        self.needs_reset = False

    def get_obs(self) -> dict[str, Any]:
        return self.player.obs()

    def get_obs_space(self) -> dict[str, Any]:  # P4 :104-109
        obs = self.get_obs()
        return {key: {"size": [len(value)], "space": "box"} for key, value in obs.items()}

    def get_action_space(self) -> dict[str, Any]:
        """The game's (each AIController subclass declares its own; P4 sync.gd:98-102 sends one per
        agent): ``--fake_actions`` names one of ACTION_SPACES, or one per player, comma-separated."""
        kinds = self.player.opts.get("fake_actions", "discrete").split(",")
        return ACTION_SPACES[kinds[self.player.index % len(kinds)]]

    def set_action(self, action: dict[str, Any]) -> None:
        self.player.action = action

    def get_reward(self) -> float:
        return self.reward

    def get_info(self) -> dict[str, Any]:  # P4 :91-92 returns {}; the game overrides it
        return {"t": self.player.t} if self.player.opts.get("fake_info", "1") == "1" else {}

    def get_done(self) -> bool:  # P4 :127-128
        return self.done

    def set_done_false(self) -> None:  # P4 :131-132
        self.done = False

    def zero_reward(self) -> None:  # P4 :135-136
        self.reward = 0.0

    def set_heuristic(self, h: str) -> None:  # P4 :122-124
        self.heuristic = h

    def call(self, method: str) -> Any:
        """``agent.call(method)`` (P4 ``sync.gd:545``): a few zero-argument methods of the game."""
        if method == "get_path":
            return node_path(self.player.name, "AIController3D")
        if method == "get_done":
            return self.done
        return None


class Player:
    """The counter game (see the module docstring)."""

    def __init__(self, index: int, opts: dict[str, str], rng: random.Random) -> None:
        self.index = index
        self.name = f"Player{index}"
        self.opts = opts
        self.rng = rng
        self.episode_frames = int(opts.get("fake_episode_frames", "80"))
        self.obs_key = opts.get("fake_obs_key", "obs")
        self.t = 0
        self.start = rng.random()
        self.action: dict[str, Any] = {}
        self.ai: AIController | None = None

    def value(self) -> float:
        for v in self.action.values():
            return float(v[0]) if isinstance(v, list) else float(v)
        return 0.0

    def obs(self) -> dict[str, Any]:
        return {self.obs_key: [self.t / 100.0, float(self.index), self.start, self.value()]}

    def physics(self) -> None:
        ai = self.ai
        assert ai is not None
        if ai.needs_reset:  # R docs/CUSTOM_ENV.md:148-156: the game resets itself on needs_reset
            self.t = 0
            self.start = self.rng.random()
            ai.reset()
            return
        self.t += 1
        ai.reward += self.value()
        if self.t >= self.episode_frames:
            ai.done = True
            ai.needs_reset = True


def build_scene(opts: dict[str, str], rng: random.Random) -> list[AIController]:
    """The agents in tree order: ``--fake_scene`` letters (I inherit from Sync, T training, H human),
    ``--fake_policies`` comma-separated policy names."""
    scene = opts.get("fake_scene", "II")
    policies = opts.get("fake_policies", "")
    names = policies.split(",") if policies else ["shared_policy"] * len(scene)
    modes = {"I": "inherit", "T": "training", "H": "human"}
    agents = []
    for i, letter in enumerate(scene):
        player = Player(i, opts, rng)
        player.ai = AIController(player, modes[letter], names[i])
        agents.append(player.ai)
    return agents


def handle_meta(argv: list[str], version: str) -> int | None:
    """Engine modes the doubles answer without a game: ``--version``; ``--import`` / ``--editor``
    (the editor scans the project and writes ``.godot/global_script_class_cache.cfg``)."""
    if "--version" in argv:
        print(os.environ.get("FAKE_GODOT_VERSION", version))
        return 0
    if "--import" in argv or "--editor" in argv or "-e" in argv:
        project = argv[argv.index("--path") + 1]
        os.makedirs(os.path.join(project, ".godot", "imported"), exist_ok=True)
        with open(os.path.join(project, ".godot", "global_script_class_cache.cfg"), "w") as fh:
            fh.write('list=Array[Dictionary]([{"class": &"Sync"}, {"class": &"AIController3D"}])\n')
        with open(os.path.join(project, ".godot", "import-runs.log"), "a") as fh:
            fh.write(" ".join(argv) + "\n")
        return 0
    return None


def idle_forever() -> int:
    """A game that plays on without a driver (human control): until it is killed."""
    while True:
        time.sleep(0.05)


def log(*parts: Any) -> None:
    """Godot's ``print`` (stdout, flushed: debug builds flush every print)."""
    print(*parts, flush=True)


def warn(text: str, where: str) -> None:
    """Godot 4's ``push_warning``: stderr ``WARNING:`` plus the ``at:`` line."""
    print(f"WARNING: {text}\n     at: {where}", file=sys.stderr, flush=True)
