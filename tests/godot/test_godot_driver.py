"""The Godot driver against the real Godot binary (godot3-server 3.2.3 here), with the probe game."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from pytest_rlplaytest.engines.base import EngineError
from pytest_rlplaytest.engines.godot.process import live_processes
from pytest_rlplaytest.engines.godot.protocol import GodotCrashed, GodotTimeout

pytestmark = pytest.mark.needs_godot


def _session(venv):  # the GodotVecEnv under VecMonitor
    return venv.venv.sessions[0]


def test_boot_step_close(make_engine, probe_project: Path) -> None:
    engine = make_engine(probe_project, agents=3)
    venv = engine.make_vec_env()
    assert venv.num_envs == 3
    assert venv.observation_space.shape == (5,)
    assert venv.action_space.shape == (2,)
    obs = venv.reset()
    assert obs.shape == (3, 5) and obs.dtype == np.float32
    obs, rewards, dones, infos = venv.step(np.zeros((3, 2), dtype=np.float32))
    assert obs.shape == (3, 5) and rewards.shape == (3,) and dones.shape == (3,)
    for info in infos:
        assert info["frame_ms"] >= 0 and info["object_count"] > 0 and info["static_memory_mb"] > 0
        assert len(info["position"]) == 2
    session = _session(venv)
    proc = session.process
    assert session.addon_info["addon_version"] and session.boot_seconds < 10
    desc = engine.describe()
    assert desc["godot_version"].startswith("3.") and len(desc["game_hash"]) == 64
    engine.close()
    assert proc.poll() == 0, f"the game should quit cleanly on close, got {proc.exit_description()}"
    assert proc not in live_processes()
    assert (engine.context.artifacts_dir / "godot.log").read_text().startswith("$ ")


def test_episode_end_truncation_and_terminal_obs(make_engine, probe_project: Path) -> None:
    engine = make_engine(probe_project, agents=2, godot_args=["--episode_steps=5"])
    venv = engine.make_vec_env()
    venv.reset()
    for step in range(1, 6):
        obs, _, dones, infos = venv.step(np.zeros((2, 2), dtype=np.float32))
        if step < 5:
            assert not dones.any()
    assert dones.all(), "a 5-step time limit ends both episodes at step 5"
    for i, info in enumerate(infos):
        assert info["TimeLimit.truncated"] is True and info["is_success"] is False
        assert info["terminal_observation"].shape == (5,)
        # auto-reset: the returned observation already belongs to the next episode
        assert not np.array_equal(info["terminal_observation"], obs[i])
        assert info["episode"]["l"] == 5


def test_single_agent_gym_env(make_engine, probe_project: Path) -> None:
    engine = make_engine(probe_project, godot_args=["--episode_steps=4"])
    env = engine.make_env(seed=5)
    obs, info = env.reset()
    assert obs.shape == (5,) and "rl_episode_seed" in info
    results = [env.step(np.zeros(2, dtype=np.float32)) for _ in range(4)]
    assert [r[3] for r in results] == [False, False, False, True]  # truncated at the limit
    assert not any(r[2] for r in results)
    next_obs, _ = env.reset()  # the game already auto-reset: no round trip, new episode
    assert not np.array_equal(next_obs, results[-1][0])


def test_several_instances(make_engine, probe_project: Path) -> None:
    engine = make_engine(probe_project, agents=2)
    venv = engine.make_vec_env(n_envs=4)
    assert venv.num_envs == 4 and len(venv.venv.sessions) == 2
    obs = venv.reset()
    assert obs.shape == (4, 5)
    obs, *_ = venv.step(np.zeros((4, 2), dtype=np.float32))
    assert obs.shape == (4, 5)
    # instance seeds differ, so instance 1 does not replay instance 0
    assert not np.array_equal(obs[:2], obs[2:])


def test_agents_mismatch_is_explained(make_engine, tmp_path: Path, probe_project: Path) -> None:
    engine = make_engine(probe_project, agents=2, godot_args=["--agents=3"])  # the game takes the last one
    with pytest.raises(EngineError, match=r"agents=2 was requested .* the scene has 3 agents"):
        engine.make_vec_env()


def _trajectory(engine, steps: int = 60) -> np.ndarray:
    venv = engine.make_vec_env()
    rng = np.random.default_rng(0)
    frames = [venv.reset()]
    for _ in range(steps):
        obs, rewards, dones, _ = venv.step(rng.uniform(-1, 1, (venv.num_envs, 2)).astype(np.float32))
        frames.append(np.concatenate([obs, rewards[:, None], dones[:, None]], axis=1))
    venv.close()
    return np.stack([f if f.shape[1] == 7 else np.pad(f, ((0, 0), (0, 2))) for f in frames])


def test_same_seed_same_trajectory(make_engine, probe_project: Path) -> None:
    a = _trajectory(make_engine(probe_project, seed=11, agents=3, godot_args=["--episode_steps=20"]))
    b = _trajectory(make_engine(probe_project, seed=11, agents=3, godot_args=["--episode_steps=20"]))
    c = _trajectory(make_engine(probe_project, seed=12, agents=3, godot_args=["--episode_steps=20"]))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c), "a different seed must change the trajectory"


def test_kill9_mid_episode_fails_fast_naming_the_signal(make_engine, probe_project: Path) -> None:
    engine = make_engine(probe_project, agents=2, engine_timeout=30.0)
    venv = engine.make_vec_env()
    venv.reset()
    for _ in range(3):
        venv.step(np.zeros((2, 2), dtype=np.float32))
    pid = _session(venv).process.pid
    os.kill(pid, signal.SIGKILL)
    start = time.monotonic()
    with pytest.raises(GodotCrashed) as err:
        venv.step(np.zeros((2, 2), dtype=np.float32))
    elapsed = time.monotonic() - start
    assert elapsed < 2.0, f"a dead game must fail the pending call within 2 s, took {elapsed:.2f} s"
    assert "SIGKILL" in str(err.value)
    assert "last " in str(err.value) and "godot.log" in str(err.value)


def test_game_quitting_mid_episode_names_exit_code(make_engine, probe_project: Path) -> None:
    engine = make_engine(probe_project, agents=1, godot_args=["--fault=quit", "--fault_at=3"])
    venv = engine.make_vec_env()
    venv.reset()
    with pytest.raises(GodotCrashed, match="exit code 5"):
        for _ in range(10):
            venv.step(np.zeros((1, 2), dtype=np.float32))


def test_hanging_game_times_out(make_engine, probe_project: Path) -> None:
    engine = make_engine(probe_project, agents=1, timeout=1.5, godot_args=["--fault=hang", "--fault_at=3"])
    venv = engine.make_vec_env()
    venv.reset()
    venv.step(np.zeros((1, 2), dtype=np.float32))
    start = time.monotonic()
    with pytest.raises(GodotTimeout, match=r"sent nothing for 1\.5 s") as err:
        for _ in range(10):
            venv.step(np.zeros((1, 2), dtype=np.float32))
    elapsed = time.monotonic() - start
    assert 1.4 < elapsed < 4.0
    assert "--rl-engine-timeout" in str(err.value)
    proc = _session(venv).process
    engine.close()
    assert proc.poll() is not None, "close() must kill a hung game"


def test_script_error_fails_in_fail_mode(make_engine, probe_project: Path) -> None:
    engine = make_engine(probe_project, agents=1, script_errors="fail",
                         godot_args=["--fault=script_error", "--fault_at=3"])
    venv = engine.make_vec_env()
    venv.reset()
    with pytest.raises(EngineError) as err:
        for _ in range(10):
            venv.step(np.zeros((1, 2), dtype=np.float32))
    text = str(err.value)
    assert "SCRIPT ERROR" in text and "this_method_does_not_exist" in text, text
    assert "probe_agent.gd" in text


def test_script_error_warns_by_default_and_play_goes_on(make_engine, probe_project: Path) -> None:
    from pytest_rlplaytest.engines.godot.engine import GodotScriptErrorWarning

    engine = make_engine(probe_project, agents=1, godot_args=["--fault=soft_error", "--fault_at=3"])
    venv = engine.make_vec_env()
    venv.reset()
    for _ in range(10):  # the game goes on after a GDScript error; so does the test
        venv.step(np.zeros((1, 2), dtype=np.float32))
    with pytest.warns(GodotScriptErrorWarning, match=r"printed \d+ GDScript error\(s\)") as record:
        engine.close()
    message = str(record[0].message)
    assert "this_method_does_not_exist" in message and "godot.log" in message


def test_script_error_ignored_on_request(make_engine, probe_project: Path) -> None:
    import warnings

    engine = make_engine(probe_project, agents=1, script_errors="ignore",
                         godot_args=["--fault=soft_error", "--fault_at=3"])
    venv = engine.make_vec_env()
    venv.reset()
    for _ in range(10):
        venv.step(np.zeros((1, 2), dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        engine.close()


def test_boot_failure_is_reported(make_engine, probe_project: Path) -> None:
    engine = make_engine(probe_project, scene="res://does_not_exist.tscn", timeout=10.0)
    start = time.monotonic()
    with pytest.raises(EngineError) as err:
        engine.make_vec_env()
    assert time.monotonic() - start < 8.0
    assert "exited before connecting" in str(err.value) or "did not connect" in str(err.value)


def test_godot_rl_drives_our_addon(probe_project: Path, godot_binary, tmp_path: Path) -> None:
    """Wire compatibility: godot-rl's own GodotEnv talks to a scene built with our addon."""
    godot_env = pytest.importorskip("godot_rl.core.godot_env")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "godot.log", "wb")
    proc = subprocess.Popen([godot_binary.path, "--path", str(probe_project), "--fixed-fps", "60",
                             f"--port={port}", "--env_seed=3", "--agents=2", "--episode_steps=5"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        env = godot_env.GodotEnv(port=port, convert_action_space=True)
        assert env.num_envs == 2
        obs, _ = env.reset()
        assert len(obs) == 2 and len(obs[0]["obs"]) == 5
        dones_seen = 0
        for _ in range(5):
            action = np.zeros((2, 2), dtype=np.float32)
            obs, reward, done, _, _ = env.step(action)
            assert len(obs) == 2 and len(reward) == 2
            dones_seen += sum(done)
        assert dones_seen == 2
        env.close()
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()
