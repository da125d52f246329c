"""Issue 12's leaner step: binary action blocks and binary step replies negotiated at handshake (our
addon accepts them; official-plugin games and older addons keep JSON), and the per-step path
agreeing in every mode."""

from __future__ import annotations

import json
import socket
import struct
from pathlib import Path

import numpy as np
import pytest
from probe_game import older_addon

from pytest_rlplaytest.engines.base import EngineError
from pytest_rlplaytest.engines.godot import protocol
from pytest_rlplaytest.engines.godot.protocol import Connection, GodotCrashed, action_block
from pytest_rlplaytest.engines.godot.session import GodotSession, LaunchSpec

CONTINUOUS = {"move": {"size": 2, "action_type": "continuous"}, "gas": {"size": 1, "action_type": "continuous"}}


def session_over(sock: socket.socket, n: int, action_space: dict, addon: dict) -> GodotSession:
    session = GodotSession(LaunchSpec(binary=None, game=None, seed=1, log_path=Path("unused")))  # type: ignore[arg-type]
    session._parse_env_info({"n_agents": n, "observation_space": {"obs": {"size": [2], "space": "box"}},
                             "action_space": action_space, "rlplaytest": addon})
    session.conn = Connection(sock, 5.0, lambda: True, lambda m: GodotCrashed(m))
    return session


def test_handshake_offers_binary_actions_and_replies() -> None:
    assert protocol.handshake_message()["rlplaytest"] == {"f32": True, "actions_f32": True, "step_f32": True}


def _var2bytes(values: list[float]) -> bytes:
    """Godot 3's var2bytes of a PoolRealArray (what the addon's binary step reply is)."""
    return struct.pack("<II", 22, len(values)) + np.asarray(values, "<f4").tobytes()


def _framed(body: bytes) -> bytes:
    return struct.pack("<I", len(body)) + body


def test_binary_step_replies_decode_like_json_ones(pair) -> None:
    """A binary reply of the values alone (the common step) gives the block's observations, rewards
    and telemetry, no agent done and empty infos but the telemetry; one with a JSON tail gives its
    dones and infos; a JSON reply still reads after them; without step_f32 accepted a binary body
    is not taken for a step."""
    import base64

    ours, game = pair
    f32 = {"auto_reset": True, "f32": True}
    session = session_over(ours, 2, CONTINUOUS, {**f32, "step_f32": True})
    assert session.binary_replies
    values = [0.5, -0.25, 1.0, 2.0, 0.1, -0.1, 4.5, 12.0, 3.25]  # obs 2x2, rewards 2, telemetry 3
    game.sendall(_framed(_var2bytes(values)))
    obs, rewards, dones, infos = session.recv_step()
    np.testing.assert_array_equal(obs, np.array([[0.5, -0.25], [1.0, 2.0]], dtype=np.float32))
    np.testing.assert_array_equal(rewards, np.array([0.1, -0.1], dtype=np.float32))
    assert dones.tolist() == [False, False]
    assert infos == [{"frame_ms": 4.5, "object_count": 12, "static_memory_mb": 3.25}] * 2
    tail = json.dumps({"done": [True, False], "info": [{"is_success": True}, {"position": [1, 2]}]}).encode()
    game.sendall(_framed(_var2bytes([3.0, 3.0, 0.5, 0.5, 1.0, 0.0, 4.5, 12.0, 3.25]) + tail))
    obs, rewards, dones, infos = session.recv_step()
    assert dones.tolist() == [True, False] and rewards.tolist() == [1.0, 0.0]
    assert infos[0]["is_success"] is True and infos[0]["terminal_observation"].tolist() == [3.0, 3.0]
    assert infos[1] == {"position": [1, 2], "frame_ms": 4.5, "object_count": 12, "static_memory_mb": 3.25}
    block = base64.b64encode(_var2bytes([0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 4.5, 12.0, 3.25])).decode()
    game.sendall(_framed(json.dumps({"type": "step", "f32": block, "done": [False, True],
                                     "info": [{}, {"TimeLimit.truncated": True}]}).encode()))
    obs, rewards, dones, infos = session.recv_step()
    assert dones.tolist() == [False, True] and rewards.tolist() == [1.0, 0.0]
    assert infos[1]["TimeLimit.truncated"] is True and infos[1]["terminal_observation"].tolist() == [1.0, 1.0]
    game.sendall(_framed(_var2bytes(values[:5])))  # a short block: named
    with pytest.raises(EngineError, match=r"'f32' holds \d+ values, expected 9"):
        session.recv_step()
    game.sendall(_framed(_var2bytes(values) + b'{"done": [false]}'))  # a tail of the wrong shape: named
    with pytest.raises(EngineError, match="'done' must be a list with one boolean per agent"):
        session.recv_step()
    older = session_over(ours, 2, CONTINUOUS, f32)  # the addon did not accept: not a step reply
    assert not older.binary_replies
    game.sendall(_framed(_var2bytes(values)))
    with pytest.raises(EngineError, match=r"JSON|UTF-8"):
        older.recv_step()


def test_action_block_is_a_pool_real_array() -> None:
    values = np.array([[0.5, -1.0, 0.25], [1.0, 0.0, -0.125]], dtype=np.float64)
    frame = action_block(values.astype(np.float32))
    length, tag, count = struct.unpack_from("<III", frame)
    assert (length, tag, count) == (len(frame) - 4, 22, 6)
    assert np.frombuffer(frame[12:], "<f4").tolist() == values.ravel().tolist()


def test_accepted_blocks_are_sent_and_refusals_keep_json(pair) -> None:
    ours, game = pair
    session = session_over(ours, 2, CONTINUOUS, {"auto_reset": True, "actions_f32": True})
    assert session.binary_actions
    session.send_actions(np.array([[0.5, -2.0, 0.25], [3.0, 0.0, -0.125]], dtype=np.float32))
    sent = game.recv(65536)
    assert sent[4] == 22  # a PoolRealArray, not '{'
    assert np.frombuffer(sent[12:], "<f4").tolist() == [0.5, -1.0, 0.25, 1.0, 0.0, -0.125]  # clipped like JSON
    with pytest.raises(EngineError, match="action for agent 1 holds nan at index 0"):
        session.send_actions(np.array([[0, 0, 0], [np.nan, 0, 0]], dtype=np.float32))
    # an older addon (no actions_f32 in env_info), and discrete actions even where accepted: JSON
    for space, addon in ((CONTINUOUS, {"auto_reset": True}),
                         ({"move": {"size": 3, "action_type": "discrete"}}, {"actions_f32": True})):
        session = session_over(ours, 2, space, addon)
        assert not session.binary_actions
        session.send_actions(np.zeros((2, 3)) if len(space) == 2 else np.array([2, 0]))
        assert json.loads(game.recv(65536)[4:])["type"] == "action"


def test_official_plugin_doubles_keep_json_actions(make_engine, fake_godot4: Path) -> None:
    """The official plugin ignores the offer (main sync.gd:106-120 reads only major_version), so a
    continuous scene gets JSON actions and steps as before."""
    engine = make_engine(fake_godot4.parent / "project", godot_bin=str(fake_godot4), engine_timeout=10.0,
                         godot_args=["--fake_connect_delay_ms=100", "--fake_actions=continuous"])
    venv = engine.make_vec_env().venv
    session = venv.sessions[0]
    assert "actions_f32" not in session.addon_info and not session.binary_actions
    venv.reset()
    _, rewards, _, _ = venv.step(np.full((venv.num_envs, 3), 0.5, dtype=np.float32))
    assert rewards.shape == (venv.num_envs,)


def _old_addon(project: Path, dest: Path) -> Path:
    """The probe project with the addon as it was before binary actions and replies: its env_info
    says nothing of actions_f32 or step_f32 (the lines these changes added are taken out again)."""
    return older_addon(project, dest, '\t\t\tinfo["rlplaytest"]["actions_f32"] = _accept_bin_actions()\n',
                       '\t\t\t"step_f32": step_bin,\n',
                       '\t\t\tstep_bin_offered = typeof(ext) == TYPE_DICTIONARY and ext.get("step_f32", false) == true\n')


@pytest.mark.needs_godot
def test_binary_and_json_actions_agree_on_the_real_game(make_engine, probe_project: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The same seeded run with binary action blocks and step replies, with JSON both ways (a driver
    that does not offer them) and against an older addon gives identical observations, rewards and
    dones; every step reply of the first run is binary (those where an episode ends with a JSON tail)."""
    from pytest_rlplaytest.engines.godot import session as session_module

    actions = np.random.default_rng(7).uniform(-1.2, 1.2, (12, 3, 2)).astype(np.float32)
    bodies: list[bytes] = []
    real_is_binary = session_module.is_binary_body
    monkeypatch.setattr(session_module, "is_binary_body", lambda body: bodies.append(bytes(body)) or real_is_binary(body))

    def run(project: Path) -> tuple[tuple[bool, bool], list]:
        engine = make_engine(project, agents=3, godot_args=["--episode_steps=5"])
        venv = engine.make_vec_env().venv
        trace = [venv.reset()]
        trace += [venv.step(a)[:3] for a in actions]
        modes = venv.sessions[0].binary_actions, venv.sessions[0].binary_replies
        engine.close()
        return modes, trace

    fast_modes, fast = run(probe_project)
    size = 8 + 4 * (3 * 5 + 3 + 3)  # var2bytes of 3 agents x 5 observations, 3 rewards, 3 telemetry values
    assert len(bodies) == len(actions) and all(b[0] == 22 for b in bodies), "every step reply is binary"
    tails = [json.loads(b[size:]) for b in bodies if len(b) > size]
    assert tails and all(set(t) == {"done", "info"} for t in tails), "dones and infos follow as JSON"
    bodies.clear()
    old_modes, old = run(_old_addon(probe_project, tmp_path / "old"))
    offer = protocol.handshake_message()
    del offer["rlplaytest"]["actions_f32"]
    del offer["rlplaytest"]["step_f32"]
    monkeypatch.setattr(session_module, "handshake_message", lambda: offer)
    json_modes, slow = run(probe_project)
    assert (fast_modes, old_modes, json_modes) == ((True, True), (False, False), (False, False))
    assert not bodies, "no binary step reply where the addon did not accept them"
    for other in (old, slow):
        np.testing.assert_array_equal(fast[0], other[0])
        for (o1, r1, d1), (o2, r2, d2) in zip(fast[1:], other[1:]):
            np.testing.assert_array_equal(o1, o2)
            np.testing.assert_array_equal(r1, r2)
            assert d1.tolist() == d2.tolist()
    assert any(d.any() for _, _, d in fast[1:]), "episodes of 5 steps end within 12 steps"
    assert len({o.tobytes() for o, _, _ in fast[1:]}) == len(actions), "the actions move the agents"


@pytest.mark.needs_godot
@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_binary_actions_reach_the_agents_as_json_ones_do(make_engine, probe_project: Path, size: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Every width of a binary action block (the addon's literal paths for 1-3 values and its loop
    beyond) gives each agent the same {"move": [values]} a JSON action message gives it."""
    from pytest_rlplaytest.engines.godot import session as session_module

    sent = np.random.default_rng(size).uniform(-1, 1, (3, size)).astype(np.float32)

    def received(offer_binary: bool) -> list:
        offer = protocol.handshake_message()
        if not offer_binary:
            del offer["rlplaytest"]["actions_f32"]
        monkeypatch.setattr(session_module, "handshake_message", lambda: offer)
        engine = make_engine(probe_project, agents=3, godot_args=[f"--move_size={size}"])
        venv = engine.make_vec_env().venv
        assert venv.sessions[0].binary_actions is offer_binary
        venv.reset()
        venv.step(sent)
        got = venv.env_method("last_action")
        engine.close()
        return got

    binary, plain = received(True), received(False)
    assert binary == plain
    np.testing.assert_allclose(np.array([a["move"] for a in binary]), sent, rtol=0, atol=1e-6)


# ---- instances sized to the machine -----------------------------------------------------------
def test_cores_per_worker_shares_the_cores_among_xdist_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_rlplaytest.engines.godot.engine import cores_per_worker

    assert cores_per_worker(workers=1, cpus=8) == (8, 8, 1)
    assert cores_per_worker(workers=3, cpus=8) == (2, 8, 3)
    assert cores_per_worker(workers=4, cpus=2) == (1, 2, 4)  # oversubscribed: still one instance
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    assert cores_per_worker(cpus=6) == (3, 6, 2)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT")
    import os

    cpus = len(os.sched_getaffinity(0))
    assert cores_per_worker() == (cpus, cpus, 1)


def test_plan_instances() -> None:
    from pytest_rlplaytest.engines.godot.engine import plan_instances

    assert plan_instances(16, 2) == (2, 8)
    assert plan_instances(16, 1) == (1, 16)
    assert plan_instances(3, 8) == (3, 1)  # never more instances than agents
    assert plan_instances(5, 2) == (2, 3)  # the same count in each: 6 agents
    assert plan_instances(5, 4) == (3, 2)  # 4 cores, but 2 agents each take 3 instances
    assert plan_instances(1, 4) == (1, 1)


def test_instances_option_errors(make_engine, probe_project: Path) -> None:
    with pytest.raises(EngineError, match=r"instances='many'\): instances must be 'auto' .* or a whole number"):
        make_engine(probe_project, instances="many")
    with pytest.raises(EngineError, match=r"agents= fixes the agents per instance.*drop one of them"):
        make_engine(probe_project, instances="auto", agents=2)


@pytest.mark.needs_godot
def test_sized_instances_on_the_real_game(make_engine, probe_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_rlplaytest.engines.godot import engine as engine_module

    monkeypatch.setattr(engine_module, "cores_per_worker", lambda: (2, 4, 2))
    engine = make_engine(probe_project, instances="auto")
    venv = engine.make_vec_env(n_envs=5).venv
    assert [s.n_agents for s in venv.sessions] == [3, 3]
    plan = engine.describe()["instances"]
    assert (plan["started"], plan["agents"], plan["cores"], plan["workers"]) == (2, 6, 2, 2)
    assert "2 cores (4 available (sched_getaffinity) / 2 xdist workers)" in plan["why"]
    assert "2 instances of 3 agents (--agents=3)" in plan["why"]
    engine.close()
    engine = make_engine(probe_project, instances=3)
    venv = engine.make_vec_env(n_envs=3).venv
    assert [s.n_agents for s in venv.sessions] == [1, 1, 1]
    assert "instances=3 was asked for" in engine.describe()["instances"]["why"]


@pytest.mark.needs_godot
def test_sized_plan_falls_back_when_the_scene_ignores_agents(make_engine, fake_godot4: Path) -> None:
    engine = make_engine(fake_godot4.parent / "project", godot_bin=str(fake_godot4), engine_timeout=10.0,
                         godot_args=["--fake_connect_delay_ms=100"], instances=4)
    venv = engine.make_vec_env(n_envs=3).venv  # the scene has 2 agents whatever --agents says
    assert [s.n_agents for s in venv.sessions] == [2, 2]
    why = engine.describe()["instances"]["why"]
    assert "2 whole instances" in why and "does not build its agents from --agents=N" in why


@pytest.mark.needs_godot
def test_overlapped_steps_match_sequential_ones(make_engine, probe_project: Path) -> None:
    """Two instances stepped at once by the VecEnv (every instance gets its actions before any reply
    is read) give exactly what stepping each instance on its own gives."""
    actions = np.random.default_rng(11).uniform(-1, 1, (10, 4, 2)).astype(np.float32)
    engine = make_engine(probe_project, instances=2, godot_args=["--episode_steps=4"])
    venv = engine.make_vec_env(n_envs=4).venv
    assert len(venv.sessions) == 2
    together = [venv.reset()] + [venv.step(a)[:3] for a in actions]
    engine.close()
    engine = make_engine(probe_project, instances=2, godot_args=["--episode_steps=4"])
    sessions = engine.make_vec_env(n_envs=4).venv.sessions
    alone = [np.concatenate([s.reset()[0] for s in sessions])]
    for a in actions:
        steps = [sessions[0].step(a[:2])[:3], sessions[1].step(a[2:])[:3]]
        alone.append(tuple(np.concatenate([p[j] for p in steps]) for j in range(3)))
    np.testing.assert_array_equal(together[0], alone[0])
    for (o1, r1, d1), (o2, r2, d2) in zip(together[1:], alone[1:]):
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        assert d1.tolist() == d2.tolist()
    assert not np.array_equal(together[1][0][:2], together[1][0][2:]), "the instances play different worlds"
    assert any(d.any() for _, _, d in together[1:])


@pytest.mark.needs_godot
def test_instances_marker_argument_through_pytest(pytester: pytest.Pytester, probe_project: Path) -> None:
    """``rl_scenario(instances=...)`` reaches the engine: the rl_env fixture's agents are spread over
    the planned instances, binary actions included, and describe() says why."""
    pytester.makepyfile(
        f"""
        import numpy as np
        import pytest

        @pytest.mark.rl_scenario(env="godot:{probe_project}", n_envs=4, instances=2)
        def test_env(rl_env, rl_engine):
            sessions = rl_env.venv.sessions
            assert [s.n_agents for s in sessions] == [2, 2] and all(s.binary_actions for s in sessions)
            rl_env.reset()
            rl_env.step(np.zeros((4, 2), dtype=np.float32))
            assert "2 instances of 2 agents (--agents=2)" in rl_engine.describe()["instances"]["why"]

        @pytest.mark.rl_scenario(env="godot:{probe_project}", n_envs=4, instances="lots")
        def test_bad(rl_env):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*instances must be 'auto'*or a whole number >= 1*"])
