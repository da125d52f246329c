"""A stand-in for a Godot 4 binary running a game on the official Godot RL Agents plugin, ``main``.

Rebuilt behaviour by behaviour from edbeeching/godot_rl_agents_plugin ``main`` at bf5d6a2
(``addons/godot_rl_agents/sync.gd``, cited as ``sync.gd:N``, and ``controller/ai_controller_3d.gd``);
the game it runs is in fake_plugin_game.py. Used by the tests as ``--godot-bin`` through a tiny
shell wrapper. Its defaults are the plugin's: ``action_repeat`` 8, ``speed_up`` 1, Sync in Training
mode, per-agent ``env_info`` lists with ``agent_policy_names``, ``info`` always sent, reset only
flags ``needs_reset``, no ``--agents``, one connection attempt one second after start and a
fall-back to human control.

Knobs for the tests (``--fake_*``; not plugin arguments): the Sync node's inspector values
(``fake_sync_mode`` training|human|onnx, ``fake_sync_action_repeat``, ``fake_sync_speed_up``), the
scene (see fake_plugin_game.build_scene), ``fake_connect_delay_ms`` (the plugin's 1000),
``fake_port_offset`` (connect to the wrong port), and wire faults for the driver's validation
tests (``fake_fault=nan|bad_shape|bad_reward|bad_type`` at step ``fake_fault_at``; not plugin
behaviour). A project without ``.godot/global_script_class_cache.cfg`` fails as Godot 4 does on a
fresh checkout: the class names do not resolve (godotengine/godot#75684), the Sync script does not
load, nothing connects.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any

from fake_plugin_game import (
    AIController,
    Wire,
    args_of,
    build_scene,
    connect,
    handle_meta,
    idle_forever,
    log,
    plugin_args,
    warn,
)

VERSION = "4.3.stable.official.77dcf97d8"
MAJOR_VERSION = "0"  # sync.gd:26
MINOR_VERSION = "7"  # sync.gd:27
DEFAULT_PORT = "11008"  # sync.gd:28
DEFAULT_SEED = "1"  # sync.gd:29


class Sync:
    """sync.gd at bf5d6a2."""

    def __init__(self, argv: list[str], opts: dict[str, str]) -> None:
        self.argv, self.opts = argv, opts
        self.control_mode = opts.get("fake_sync_mode", "training")  # sync.gd:11 (default TRAINING)
        self.action_repeat = int(opts.get("fake_sync_action_repeat", "8"))  # sync.gd:13
        self.speed_up = float(opts.get("fake_sync_speed_up", "1.0"))  # sync.gd:15
        self.rng = random.Random()  # Godot 4 randomizes the global RNG at startup
        self.all_agents = build_scene(opts, self.rng)
        self.agents_training: list[AIController] = []
        self.agents_heuristic: list[AIController] = []
        self.connected = False
        self.wire: Wire | None = None
        self.args: dict[str, str] = {}
        self.need_to_send_obs = False  # sync.gd:51
        self.just_reset = False  # sync.gd:54
        self.n_action_steps = 0  # sync.gd:56
        self.paused = False
        self.quitting = False
        self.hung = False

    # -- start (sync.gd:64-93) --------------------------------------------------------------
    def ready(self) -> None:
        """sync.gd:64-69: pause, _initialize, a 1.0 s timer (game time), unpause."""
        self.paused = True
        self._initialize()
        self.pause_frames = 60  # create_timer(1.0) under --fixed-fps 60

    def _initialize(self) -> None:
        self._get_agents()  # sync.gd:73
        self.args = self._get_args()  # sync.gd:74
        speedup = self._get_speedup()
        ticks = int(speedup * 60)  # sync.gd:75 (a float into an int property)
        time_scale = self._get_speedup() * 1.0  # sync.gd:76
        log("physics ticks", ticks, time_scale, self._get_speedup(), self.speed_up)  # sync.gd:77-83
        for agent in self.all_agents:  # sync.gd:85
            agent.set_heuristic("human")
        self._initialize_training_agents()  # sync.gd:87
        self._set_seed()  # sync.gd:91
        self.action_repeat = int(float(self.args.get("action_repeat", str(self.action_repeat))))  # sync.gd:490-491

    def _get_agents(self) -> None:
        """sync.gd:362-383: agents split by mode (an inheriting agent takes Sync's, :349-359)."""
        for agent in self.all_agents:
            if agent.control_mode == "inherit":
                agent.control_mode = self.control_mode
            if agent.control_mode == "training":
                self.agents_training.append(agent)
            elif agent.control_mode == "human":
                self.agents_heuristic.append(agent)

    def _get_args(self) -> dict[str, str]:
        """sync.gd:460-473, printing as it goes (:461, :464)."""
        log("getting command line arguments")
        for argument in self.argv:
            log(argument)
        return plugin_args(self.argv)

    def _get_speedup(self) -> float:
        log(self.args)  # sync.gd:477
        return float(self.args.get("speedup", str(self.speed_up)))  # sync.gd:478

    def _set_seed(self) -> None:
        self.rng.seed(int(float(self.args.get("env_seed", DEFAULT_SEED))))  # sync.gd:485-487

    def _initialize_training_agents(self) -> None:
        """sync.gd:96-112: only with a Training agent; spaces first, then one connection attempt."""
        if not self.agents_training:
            return
        self.obs_spaces = [a.get_obs_space() for a in self.agents_training]  # sync.gd:100-101
        self.action_spaces = [a.get_action_space() for a in self.agents_training]  # sync.gd:102
        self.connected = self._connect_to_server()  # sync.gd:103
        if self.connected:
            for agent in self.agents_training:  # sync.gd:105
                agent.set_heuristic("model")
            self._handshake()  # sync.gd:106
            self._send_env_info()  # sync.gd:107
        else:
            warn("Couldn't connect to Python server, using human controls instead. Did you start the "
                 "training server using e.g. `gdrl` from the console?",
                 "push_warning (core/variant/variant_utility.cpp:1118)")  # sync.gd:109-112

    def _connect_to_server(self) -> bool:
        """sync.gd:442-457: print, OS.delay_msec(1000), print, one connect that blocks until resolved."""
        import time

        log("Waiting for one second to allow server to start")
        time.sleep(int(self.opts.get("fake_connect_delay_ms", "1000")) / 1000.0)
        log("trying to connect to server")
        port = int(float(self.args.get("port", DEFAULT_PORT))) + int(self.opts.get("fake_port_offset", "0"))
        sock = connect(port)
        if sock is None:
            return False
        self.wire = Wire(sock)
        return True

    def _handshake(self) -> None:
        """sync.gd:391-403: read, compare versions, print; no reply."""
        log("performing handshake")
        message = self._message()
        assert message is not None and message["type"] == "handshake"
        if message["major_version"] != MAJOR_VERSION:
            log("WARNING: major verison mismatch ", message["major_version"], " ", MAJOR_VERSION)
        if message["minor_version"] != MINOR_VERSION:
            log("WARNING: minor verison mismatch ", message["minor_version"], " ", MINOR_VERSION)
        log("handshake complete")

    def _send_env_info(self) -> None:
        """sync.gd:428-439: per-agent lists, n_agents = Training agents, policy names."""
        message = self._message()
        assert message is not None and message["type"] == "env_info"
        assert self.wire is not None
        self.wire.put({"type": "env_info", "observation_space": self.obs_spaces,
                       "action_space": self.action_spaces, "n_agents": len(self.agents_training),
                       "agent_policy_names": [a.policy_name for a in self.agents_training]})

    def _message(self) -> Any:
        """sync.gd:406-421: wait for bytes; Python gone -> print, quit, null."""
        assert self.wire is not None
        message = self.wire.get_message()
        if message is None:
            log("server disconnected status, closing")  # sync.gd:412
            self.quitting = True
        return message

    # -- every physics frame (sync.gd:183-225) ----------------------------------------------
    def physics_process(self) -> None:
        if self.n_action_steps % self.action_repeat != 0:  # sync.gd:189-191
            self.n_action_steps += 1
            return
        self.n_action_steps += 1  # sync.gd:193
        self._training_process()  # sync.gd:195
        self._heuristic_process()  # sync.gd:197

    def _training_process(self) -> None:
        """sync.gd:200-225."""
        if not self.connected:
            return
        assert self.wire is not None
        self.paused = True  # :202
        obs = [a.get_obs() for a in self.agents_training]  # :204 (read before reward and done)
        info = [a.get_info() for a in self.agents_training]  # :205
        if self.just_reset:  # :207-214: the reset reply, an action_repeat after the reset message
            self.just_reset = False
            self.wire.put({"type": "reset", "obs": obs, "info": info})
            self.paused = False
            return
        if self.need_to_send_obs:  # :216-223
            self.need_to_send_obs = False
            reward = []
            for a in self.agents_training:  # :569-574
                reward.append(a.get_reward())
                a.zero_reward()
            done = []
            for a in self.agents_training:  # :584-591
                d = a.get_done()
                if d:
                    a.set_done_false()
                done.append(d)
            self._send_step({"type": "step", "obs": obs, "reward": reward, "done": done, "info": info})
        self._handle_message()  # :225

    def _handle_message(self) -> None:
        """sync.gd:498-539."""
        message = self._message()
        if message is None:  # :500-501 then indexes null: a script error, the game quits
            print("SCRIPT ERROR: Invalid access to property or key 'type' on a base object of type 'Nil'.",
                  file=sys.stderr, flush=True)
            return
        kind = message["type"]
        if kind == "close":  # :501-505
            log("received close message, closing game")
            self.quitting = True
            self.paused = False
        elif kind == "reset":  # :507-521: flags needs_reset on every agent, replies later
            log("resetting all agents")
            for agent in self.all_agents:  # :556-559
                agent.needs_reset = True
            self.just_reset = True
            self.paused = False
        elif kind == "call":  # :523-529: every agent in group AGENT, then the next message
            returns = [agent.call(message["method"]) for agent in self.all_agents]  # :542-547
            assert self.wire is not None
            self.wire.put({"type": "call", "returns": returns})
            log("calling method from Python")
            self._handle_message()
        elif kind == "action":  # :531-536
            for i, action in enumerate(message["action"]):  # :594-596
                self.agents_training[i].set_action(action)
            self.need_to_send_obs = True
            self.paused = False
        else:  # :538-539: the tree stays paused (set at :202), so Sync never runs again
            log("message was not handled")
            self.hung = True

    def _heuristic_process(self) -> None:
        """sync.gd:286-288 and 550-553."""
        for agent in self.agents_heuristic:
            if agent.get_done():
                agent.set_done_false()

    # -- wire faults (not plugin behaviour: for the driver's validation tests) ------------------
    def _send_step(self, reply: dict[str, Any]) -> None:
        assert self.wire is not None
        self.steps = getattr(self, "steps", 0) + 1
        fault, at = self.opts.get("fake_fault", ""), int(self.opts.get("fake_fault_at", "-1"))
        if self.steps == at and fault == "nan":
            reply["obs"][1][next(iter(reply["obs"][1]))][2] = "NANTOKEN"
            import json

            self.wire.put_text(json.dumps(reply, separators=(",", ":")).replace('"NANTOKEN"', "nan"))
            return
        if self.steps == at and fault == "bad_shape":
            key = next(iter(reply["obs"][1]))
            reply["obs"][1][key] = reply["obs"][1][key][:3]
        if self.steps == at and fault == "bad_reward":
            reply["reward"] = reply["reward"][:-1]
        if self.steps == at and fault == "bad_type":
            reply["type"] = "reset"
        self.wire.put(reply)


def run_frames(sync: Sync) -> int:
    """The main loop: a paused tree runs no game code and no pausable Sync (its process mode is
    inherited: sync.gd sets none); the start timer runs while paused (sync.gd:68)."""
    while True:
        if sync.quitting:
            return 0  # get_tree().quit(): the process exits at the end of the frame
        if sync.hung:
            return idle_forever()
        if getattr(sync, "pause_frames", 0) > 0:
            sync.pause_frames -= 1
            if sync.pause_frames == 0:
                sync.paused = False  # sync.gd:69
            continue
        if sync.paused:
            continue
        if not sync.connected:
            return idle_forever()  # human control (or no agent at all), forever
        for agent in sync.all_agents:  # tree order: players (their AIController after them), Sync last
            agent.player.physics()
            agent.physics()
        sync.physics_process()


def main() -> int:
    argv = sys.argv[1:]
    meta = handle_meta(argv, VERSION)
    if meta is not None:
        return meta
    assert "--headless" in argv, f"the driver must give a Godot 4 binary --headless: {argv}"
    project = argv[argv.index("--path") + 1] if "--path" in argv else "."
    if not os.path.isfile(os.path.join(project, ".godot", "global_script_class_cache.cfg")):
        print('SCRIPT ERROR: Parse Error: Could not find base class "AIController3D".\n'
              "          at: GDScript::reload (res://player_ai_controller.gd:1)", file=sys.stderr, flush=True)
        return idle_forever()  # the Sync script did not load: nothing connects, nothing is printed
    sync = Sync(argv, args_of(argv))
    sync.ready()
    return run_frames(sync)


if __name__ == "__main__":
    sys.exit(main())
