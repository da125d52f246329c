"""A stand-in for a Godot 4 binary running a game with the *official* Godot RL Agents plugin.

Used by the tests as ``--godot-bin`` (through a tiny shell wrapper). It behaves as the official
plugin does on the wire, quirks included:

* ``--version`` prints a Godot 4 version, so the driver adds ``--headless``;
* it connects to ``--port`` and never answers the handshake;
* ``env_info`` spaces come as a single dict (older plugin) or one per agent (``--fake_spaces=list``);
* the reset reply arrives on the *next* frame (after a short delay here), without ``info``;
* step replies carry ``info`` only with ``--fake_info=1``; done agents are not reset in the same
  frame and no terminal observation is sent;
* faults for the validation tests: ``--fake_fault=nan|bad_shape|bad_reward|bad_type`` at step
  ``--fake_fault_at=K``.

Game: each agent is a counter; obs = [t/10, agent index, 0.5, 1.0]; reward = action index; an
episode lasts ``--fake_episode=N`` steps.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import time


def arg(name: str, default: str) -> str:
    for a in sys.argv[1:]:
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return default


def main() -> int:
    if "--version" in sys.argv:
        print("4.2.1.stable.official.b09f793f5")
        return 0
    assert "--headless" in sys.argv, f"a Godot 4 binary must get --headless: {sys.argv}"
    port = int(arg("port", "-1"))
    n = int(arg("agents", "2"))
    episode = int(arg("fake_episode", "4"))
    fault = arg("fake_fault", "")
    fault_at = int(arg("fake_fault_at", "-1"))
    with_info = arg("fake_info", "0") == "1"
    time.sleep(0.05)
    sock = socket.create_connection(("127.0.0.1", port))
    buf = b""

    def recv() -> dict:
        nonlocal buf
        while len(buf) < 4:
            chunk = sock.recv(65536)
            if not chunk:
                sys.exit(0)
            buf += chunk
        (length,) = struct.unpack("<I", buf[:4])
        while len(buf) < 4 + length:
            chunk = sock.recv(65536)
            if not chunk:
                sys.exit(0)
            buf += chunk
        body, buf = buf[4:4 + length], buf[4 + length:]
        return json.loads(body)

    def send_text(text: str) -> None:
        data = text.encode()
        sock.sendall(struct.pack("<I", len(data)) + data)

    def send(msg: dict) -> None:
        send_text(json.dumps(msg))

    t = [0] * n
    step = 0
    obs_space = {"obs": {"size": [4], "space": "box"}}
    act_space = {"move": {"size": 3, "action_type": "discrete"}}

    def obs_of(i: int) -> dict:
        return {"obs": [t[i] / 10.0, float(i), 0.5, 1.0]}

    while True:
        msg = recv()
        kind = msg.get("type")
        if kind == "handshake":
            continue  # the official plugin never replies
        if kind == "env_info":
            spaces_list = arg("fake_spaces", "dict") == "list"
            send({"type": "env_info", "n_agents": n,
                  "observation_space": [obs_space] * n if spaces_list else obs_space,
                  "action_space": [act_space] * n if spaces_list else act_space,
                  "agent_policy_names": ["shared_policy"] * n})
        elif kind == "reset":
            t = [0] * n
            time.sleep(1 / 60)  # the reply comes on the next physics frame
            send({"type": "reset", "obs": [obs_of(i) for i in range(n)]})
        elif kind == "call":
            send({"type": "call", "returns": [f"{msg.get('method')}:{i}" for i in range(n)]})
        elif kind == "action":
            step += 1
            actions = msg["action"]
            rewards = [float(a["move"]) for a in actions]
            dones = []
            for i in range(n):
                t[i] += 1
                dones.append(t[i] >= episode)
            obs = [obs_of(i) for i in range(n)]
            for i in range(n):
                if dones[i]:
                    t[i] = 0  # the game resets the agent on the next frame, unseen by the driver
            reply: dict = {"type": "step", "obs": obs, "reward": rewards, "done": dones}
            if with_info:
                reply["info"] = [{"speed": 1.5} for _ in range(n)]
            if step == fault_at and fault == "nan":
                obs[1]["obs"][2] = "NANTOKEN"
                text = json.dumps(reply).replace('"NANTOKEN"', "nan")
                send_text(text)
                continue
            if step == fault_at and fault == "bad_shape":
                obs[1]["obs"] = obs[1]["obs"][:3]
            if step == fault_at and fault == "bad_reward":
                reply["reward"] = rewards[:-1]
            if step == fault_at and fault == "bad_type":
                reply["type"] = "reset"
            send(reply)
        elif kind == "close":
            return 0


if __name__ == "__main__":
    sys.exit(main())
