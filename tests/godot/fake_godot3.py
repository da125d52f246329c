"""A stand-in for a Godot 3 binary running a game on the official Godot RL Agents plugin's ``godot3``
branch (edbeeching/godot_rl_agents_plugin at 5b6e1bf; ``addons/godot_rl_agents/sync.gd`` cited as
``sync.gd:N``, ``controller/ai_controller.gd`` as ``ai_controller.gd:N``). The game is
fake_plugin_game.py's. What sets this branch apart from ``main``: protocol minor version "3"; no
control modes (every agent of group AGENT is an agent, ``n_agents`` counts them all); ``env_info``
sends agent 0's spaces as single dicts and no ``agent_policy_names``; replies carry no ``info``;
the step reply reads obs after reward and done; ``--speedup`` is ignored (read before the arguments
are parsed); ``action_repeat`` is always ``--action_repeat`` or the constant 8; one connection
attempt that is not waited for, and a silent fall-back to human control.

Knobs (``--fake_*``): the scene (fake_plugin_game.build_scene; H letters are ignored here: no
modes), ``fake_sync_speed_up``, ``fake_connect_delay_ms`` (the plugin's 1000), ``fake_port_offset``,
``fake_status`` (the socket status the single ``get_status()`` sees, default what the connect
gave: 2 connected, 3 refused; 1 = the connect had not finished, the race of sync.gd:97-101: the
game gives up although the TCP connection completes).
"""

from __future__ import annotations

import random
import sys
from typing import Any

from fake_plugin_game import Wire, args_of, build_scene, connect, handle_meta, idle_forever, log, plugin_args

VERSION = "3.5.3.stable.official.6c814135b"
MAJOR_VERSION = "0"  # sync.gd:8
MINOR_VERSION = "3"  # sync.gd:9
DEFAULT_PORT = 11008  # sync.gd:10
DEFAULT_SEED = 1  # sync.gd:11
DEFAULT_ACTION_REPEAT = 8  # sync.gd:12


class Sync:
    """sync.gd at 5b6e1bf."""

    def __init__(self, argv: list[str], opts: dict[str, str]) -> None:
        self.argv, self.opts = argv, opts
        self.action_repeat = 8  # sync.gd:3 (export; overwritten at :129-130)
        self.speed_up = float(opts.get("fake_sync_speed_up", "1.0"))  # sync.gd:4
        self.rng = random.Random(0)  # Godot 3's global RNG starts from a fixed seed
        self.agents = build_scene(opts, self.rng)  # sync.gd:29-30: every node of group AGENT
        self.connected = False
        self.wire: Wire | None = None
        self.args: dict[str, str] = {}  # sync.gd:19
        self.need_to_send_obs = False
        self.just_reset = False
        self.n_action_steps = 0
        self.quitting = False
        self.hung = False

    def initialize(self) -> None:
        """sync.gd:136-153 (after ``_ready``'s pause, :22-27)."""
        speedup = self._get_speedup()  # :138, args still {} here: --speedup never counts
        log("physics ticks", int(speedup * 60), self._fmt(self._get_speedup() * 1.0), self._get_speedup(),
            self._fmt(self.speed_up))  # :140
        self.args = self._get_args()  # :142
        self.connected = self._connect_to_server()  # :143
        if self.connected:
            for agent in self.agents:  # :145
                agent.set_heuristic("model")
            self._handshake()  # :146
            self._send_env_info()  # :147
        else:
            for agent in self.agents:  # :149
                agent.set_heuristic("human")
        self.rng.seed(int(float(self.args.get("env_seed", DEFAULT_SEED))))  # :125-127, :151
        self.action_repeat = int(float(self.args.get("action_repeat", DEFAULT_ACTION_REPEAT)))  # :129-130, :152

    @staticmethod
    def _fmt(value: float) -> str:
        """Godot 3 prints a whole float without decimals (``1``)."""
        return str(int(value)) if float(value).is_integer() else str(value)

    def _get_speedup(self) -> int:
        log(self.args if self.args else "{}")  # :119
        return int(float(self.args.get("speedup", self.speed_up)))  # :120 (int() of the value)

    def _get_args(self) -> dict[str, str]:
        log("getting command line arguments")  # :104 (the arguments are not echoed)
        return plugin_args(self.argv)  # :105-116

    def _connect_to_server(self) -> bool:
        """sync.gd:88-101: no poll loop: the status right after connect_to_host decides."""
        import time

        log("Waiting for one second to allow server to start")  # :89
        time.sleep(int(self.opts.get("fake_connect_delay_ms", "1000")) / 1000.0)  # :90
        log("trying to connect to server")  # :91
        port = int(float(self.args.get("port", DEFAULT_PORT))) + int(self.opts.get("fake_port_offset", "0"))
        sock = connect(port)
        status = 2 if sock is not None else 3
        status = int(self.opts.get("fake_status", status))
        log(f"0{status}")  # :99: print(connect, client.get_status()): OK (0) and the status, glued
        if sock is not None:
            self.wire = Wire(sock)
        return status == 2  # :101

    def _message(self) -> Any:
        """sync.gd:50-69."""
        assert self.wire is not None
        message = self.wire.get_message()
        if message is None:
            log("server disconnected, closing")  # :60-63
            self.quitting = True
        return message

    def _handshake(self) -> None:
        """sync.gd:36-48 (both warnings say "major")."""
        log("performing handshake")
        message = self._message()
        assert message is not None and message["type"] == "handshake"
        if message["major_version"] != MAJOR_VERSION:
            log("WARNING: major verison mismatch ", message["major_version"], " ", MAJOR_VERSION)
        if message["minor_version"] != MINOR_VERSION:
            log("WARNING: major verison mismatch ", message["minor_version"], " ", MINOR_VERSION)
        log("handshake complete")

    def _send_env_info(self) -> None:
        """sync.gd:74-85: agent 0's spaces as single dicts, every agent counted, no policy names."""
        message = self._message()
        assert message is not None and message["type"] == "env_info"
        assert self.wire is not None
        self.wire.put({"type": "env_info", "observation_space": self.agents[0].get_obs_space(),
                       "action_space": self.agents[0].get_action_space(), "n_agents": len(self.agents)})

    def physics_process(self) -> None:
        """sync.gd:155-198."""
        if self.n_action_steps % self.action_repeat != 0:  # :158-160
            self.n_action_steps += 1
            return
        self.n_action_steps += 1
        if not self.connected:  # :197-198
            for agent in self.agents:
                if agent.get_done():
                    agent.set_done_false()
            return
        assert self.wire is not None
        if self.just_reset:  # :167-178: no info
            self.just_reset = False
            self.wire.put({"type": "reset", "obs": [a.get_obs() for a in self.agents]})
            return
        if self.need_to_send_obs:  # :180-194: reward, done, then obs; no info
            self.need_to_send_obs = False
            reward = []
            for a in self.agents:  # :270-275
                reward.append(a.get_reward())
                a.zero_reward()
            done = []
            for a in self.agents:  # :277-283
                d = a.get_done()
                if d:
                    a.set_done_false()
                done.append(d)
            obs = [a.get_obs() for a in self.agents]  # :186
            self.wire.put({"type": "step", "obs": obs, "reward": reward, "done": done})
        self._handle_message()  # :196

    def _handle_message(self) -> None:
        """sync.gd:200-244."""
        message = self._message()
        if message is None:
            return
        kind = message["type"]
        assert self.wire is not None
        if kind == "close":  # :203-207
            log("received close message, closing game")
            self.quitting = True
        elif kind == "reset":  # :209-223, :259-262
            log("resetting all agents")
            for agent in self.agents:
                agent.needs_reset = True
            self.just_reset = True
        elif kind == "call":  # :225-234, :246-251
            self.wire.put({"type": "call", "returns": [a.call(message["method"]) for a in self.agents]})
            log("calling method from Python")
            self._handle_message()
        elif kind == "action":  # :236-241, :285-287
            for i, action in enumerate(message["action"]):
                self.agents[i].set_action(action)
            self.need_to_send_obs = True
        else:  # :243-244
            log("message was not handled")
            self.hung = True


def main() -> int:
    argv = sys.argv[1:]
    meta = handle_meta(argv, VERSION)
    if meta is not None:
        return meta
    sync = Sync(argv, args_of(argv))
    sync.initialize()
    if not sync.connected:
        return idle_forever()  # sync.gd:149, 197-198: human control, forever
    while True:
        if sync.quitting:
            return 0
        if sync.hung:
            return idle_forever()
        for agent in sync.agents:  # tree order: the players, then Sync
            agent.player.physics()
            agent.physics()
        sync.physics_process()


if __name__ == "__main__":
    sys.exit(main())
