"""The driver's fast paths (no Godot binary needed): float32 blocks, printf-encoded actions, the
buffered connection with kernel timeouts, telemetry and episode seeds copied into every info."""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pytest_rlplaytest.engines.base import EngineError
from pytest_rlplaytest.engines.godot.protocol import Connection, GodotCrashed, GodotTimeout, ProtocolError
from pytest_rlplaytest.engines.godot.session import GodotSession, LaunchSpec
from pytest_rlplaytest.engines.godot.spaces import ActionCodec, ObsCodec


def f32_block(values: list[float]) -> str:
    """What sync.gd sends: base64 of var2bytes(PoolRealArray) (type 22, count, float32 LE values)."""
    raw = struct.pack("<II", 22, len(values)) + np.asarray(values, dtype="<f4").tobytes()
    return base64.b64encode(raw).decode()


def test_f32_block_single_key() -> None:
    codec = ObsCodec({"obs": {"size": [3], "space": "box"}})
    obs, rewards, tele = codec.decode_f32(f32_block([1, 2, 3, 4, 5, 6, 0.5, -1, 0.067, 1033, 11.13018]), 2, "w")
    assert obs.shape == (2, 3) and obs.dtype == np.float32 and obs.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert rewards.tolist() == [0.5, -1.0] and rewards.dtype == np.float32
    assert tele == {"frame_ms": 0.067, "object_count": 1033, "static_memory_mb": 11.13018}
    obs[0, 0] = 9.0  # writable, like every other observation batch


def test_f32_block_several_keys_and_errors() -> None:
    codec = ObsCodec({"b": {"size": [1], "space": "box"}, "a": {"size": [2], "space": "box"}})
    obs, rewards, _ = codec.decode_f32(f32_block([1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0]), 2, "w")
    assert rewards.tolist() == [7, 8]
    assert obs["a"].tolist() == [[1, 2], [4, 5]] and obs["b"].tolist() == [[3], [6]]  # keys sorted: a, b
    with pytest.raises(ProtocolError, match=r"step 4 reply, agent 1, key 'a', index \[1\]: observation is nan"):
        codec.decode_f32(f32_block([1, 2, 3, 4, float("nan"), 6, 7, 8, 0, 0, 0]), 2, "step 4 reply")
    with pytest.raises(ProtocolError, match="agent 0: reward is inf"):
        codec.decode_f32(f32_block([1, 2, 3, 4, 5, 6, float("inf"), 8, 0, 0, 0]), 2, "w")
    with pytest.raises(ProtocolError, match="'f32' holds 10 values, expected 11"):
        codec.decode_f32(f32_block([0] * 10), 2, "w")
    with pytest.raises(ProtocolError, match="not base64"):
        codec.decode_f32(123, 2, "w")
    assert ObsCodec({"cam_2d": {"size": [2], "space": "box"}}).flat is None  # images never use blocks


def test_printf_actions_match_the_general_encoder() -> None:
    codec = ActionCodec({"move": {"size": 2, "action_type": "continuous"}})
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        actions = rng.uniform(-1.5, 1.5, (16, 2)).astype(dtype)
        fast = json.loads(codec.encode_json(actions, 16))
        slow = codec.encode_batch(actions, 16)
        assert [list(map(np.float32, a["move"])) for a in fast] == [list(map(np.float32, a["move"])) for a in slow]
        assert all(-1.0 <= x <= 1.0 for a in fast for x in a["move"])
    exact = np.array([[0.1, -0.7]], dtype=np.float64)
    assert json.loads(codec.encode_json(exact, 1)) == [{"move": [0.1, -0.7]}]  # float64 keeps 17 digits
    with pytest.raises(EngineError, match="agent 1 holds inf at index 0"):
        codec.encode_json(np.array([[0.0, 0.0], [np.inf, 0.0]]), 2)
    odd = ActionCodec({'m"o%ve': {"size": 1, "action_type": "continuous"}})
    assert json.loads(odd.encode_json(np.array([[0.5]]), 1)) == [{'m"o%ve': [0.5]}]
    discrete = ActionCodec({"move": {"size": 3, "action_type": "discrete"}})
    assert json.loads(discrete.encode_json(np.array([2, 0]), 2)) == [{"move": 2}, {"move": 0}]


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return struct.pack("<I", len(body)) + body


def test_connection_reassembles_split_and_coalesced_messages(pair) -> None:
    ours, game = pair
    conn = Connection(ours, 5.0, lambda: True, lambda m: GodotCrashed(m))
    big = {"type": "step", "blob": "x" * 200_000}  # larger than the initial buffer
    data = frame({"type": "a"}) + frame(big) + frame({"type": "b"})

    def feed() -> None:
        for i in range(0, len(data), 7777):
            game.sendall(data[i:i + 7777])
            time.sleep(0.001)

    t = threading.Thread(target=feed)
    t.start()
    assert conn.recv("x")["type"] == "a"
    assert conn.recv("x") == big
    assert conn.recv("x")["type"] == "b"
    t.join()


def test_connection_timeout_and_death(pair) -> None:
    ours, game = pair
    conn = Connection(ours, 0.5, lambda: True, lambda m: GodotCrashed(m))
    start = time.monotonic()
    with pytest.raises(GodotTimeout, match=r"sent nothing for 0\.5 s while the driver waited for its step 1 reply"):
        conn.recv("step 1 reply")
    assert 0.4 < time.monotonic() - start < 1.5
    alive = [True]
    conn = Connection(ours, 30.0, lambda: alive[0], lambda m: GodotCrashed(m))
    threading.Timer(0.3, lambda: alive.__setitem__(0, False)).start()
    start = time.monotonic()
    with pytest.raises(GodotCrashed, match="exited while the driver waited"):
        conn.recv("x")
    assert time.monotonic() - start < 2.0
    game.close()
    with pytest.raises(GodotCrashed, match="closed the connection"):
        Connection(ours, 30.0, lambda: True, lambda m: GodotCrashed(m)).recv("x")


def session_over(sock: socket.socket, n: int, obs_size: int = 2) -> GodotSession:
    session = GodotSession(LaunchSpec(binary=None, game=None, seed=1, log_path=Path("unused")))  # type: ignore[arg-type]
    session._parse_env_info({"n_agents": n, "observation_space": {"obs": {"size": [obs_size], "space": "box"}},
                             "action_space": {"move": {"size": 2, "action_type": "continuous"}},
                             "rlplaytest": {"auto_reset": True, "f32": True}})
    session.conn = Connection(sock, 5.0, lambda: True, lambda m: GodotCrashed(m))
    return session


def test_telemetry_and_episode_seeds_reach_every_info(pair) -> None:
    ours, game = pair
    session = session_over(ours, 2)
    game.sendall(frame({"type": "reset", "obs": [{"obs": [0, 0]}, {"obs": [1, 1]}],
                        "info": [{"rl_episode_seed": 11}, {"rl_episode_seed": 22}]}))
    session.reset()
    game.recv(65536)  # the reset message
    # JSON step (as sent to drivers without f32): telemetry once, at the top
    game.sendall(frame({"type": "step", "obs": [{"obs": [0, 1]}, {"obs": [2, 3]}], "reward": [1, 2],
                        "done": [False, False], "info": [{}, {"events": ["hit"]}],
                        "rlplaytest": {"frame_ms": 0.5, "object_count": 7, "static_memory_mb": 1.5}}))
    session.send_actions(np.zeros((2, 2), np.float32))
    obs, rewards, dones, infos = session.recv_step()
    assert obs.tolist() == [[0, 1], [2, 3]] and rewards.tolist() == [1, 2] and not dones.any()
    assert infos[0] == {"frame_ms": 0.5, "object_count": 7, "static_memory_mb": 1.5, "rl_episode_seed": 11}
    assert infos[1]["events"] == ["hit"] and infos[1]["rl_episode_seed"] == 22
    sent = game.recv(65536)
    assert json.loads(sent[4:]) == {"type": "action", "action": [{"move": [0, 0]}, {"move": [0, 0]}]}
    # f32 step; agent 1's episode ends (auto-reset: terminal observation in info); then its new seed
    terminal = {"rl_terminal_obs": {"obs": [9, 9]}, "TimeLimit.truncated": True}
    game.sendall(frame({"type": "step", "f32": f32_block([4, 5, 6, 7, 0.5, 0.25, 2.0, 8, 3.0]),
                        "done": [False, True], "info": [{}, terminal]}))
    session.send_actions(np.zeros((2, 2), np.float32))
    obs, rewards, dones, infos = session.recv_step()
    assert obs.tolist() == [[4, 5], [6, 7]] and rewards.tolist() == [0.5, 0.25] and dones.tolist() == [False, True]
    assert infos[1]["terminal_observation"].tolist() == [9, 9] and infos[1]["TimeLimit.truncated"] is True
    assert infos[1]["rl_episode_seed"] == 22 and infos[0]["frame_ms"] == 2.0 and infos[0]["object_count"] == 8
    game.sendall(frame({"type": "step", "f32": f32_block([0] * 6 + [1, 2, 3]), "done": [False, False],
                        "info": [{}, {"rl_episode_seed": 33}]}))
    session.send_actions(np.zeros((2, 2), np.float32))
    infos = session.recv_step()[3]
    assert [i["rl_episode_seed"] for i in infos] == [11, 33]
    # a malformed JSON step still gets the precise error
    game.sendall(frame({"type": "step", "obs": [{"obs": [0, 1]}, {"obs": [2]}], "reward": [1, 2],
                        "done": [False, False]}))
    session.send_actions(np.zeros((2, 2), np.float32))
    with pytest.raises(ProtocolError, match="step 4 reply, agent 1, key 'obs': observation has 1 values"):
        session.recv_step()


@pytest.mark.needs_godot
def test_f32_and_json_replies_agree_on_the_real_game(make_engine, probe_project: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The same seeded run through float32 blocks and through plain JSON (a driver that does not offer
    f32, like godot-rl) gives the same observations, rewards, dones and infos."""
    from pytest_rlplaytest.engines.godot import protocol
    from pytest_rlplaytest.engines.godot import session as session_module

    def run() -> tuple[bool, list]:
        engine = make_engine(probe_project, agents=3, godot_args=["--episode_steps=4"])
        venv = engine.make_vec_env().venv
        trace = [venv.reset()]
        actions = np.random.default_rng(5).uniform(-1, 1, (9, 3, 2)).astype(np.float32)
        for a in actions:
            trace.append(venv.step(a))
        f32 = venv.sessions[0].addon_info["f32"]
        engine.close()
        return f32, trace

    f32, fast = run()
    plain = protocol.handshake_message()
    plain.pop("rlplaytest")
    monkeypatch.setattr(session_module, "handshake_message", lambda: plain)
    json_mode, slow = run()
    assert f32 is True and json_mode is False
    np.testing.assert_allclose(fast[0], slow[0], rtol=1e-5, atol=1e-6)
    for (o1, r1, d1, i1), (o2, r2, d2, i2) in zip(fast[1:], slow[1:]):
        np.testing.assert_allclose(o1, o2, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(r1, r2, rtol=1e-5, atol=1e-6)
        assert d1.tolist() == d2.tolist()
        for a, b in zip(i1, i2):
            assert set(a) == set(b) and a["rl_episode_seed"] == b["rl_episode_seed"]
            assert {"frame_ms", "object_count", "static_memory_mb"} <= set(a)
            if "terminal_observation" in a:
                np.testing.assert_allclose(a["terminal_observation"], b["terminal_observation"], rtol=1e-5, atol=1e-6)
    assert any(d.any() for _, _, d, _ in fast[1:]), "episodes of 4 steps end within 9 steps"
