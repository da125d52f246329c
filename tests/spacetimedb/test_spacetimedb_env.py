"""The Gymnasium env, the engine and a short PPO run against the fake server test double."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fake_spacetimedb_server import FakeServerThread
from stable_baselines3.common.vec_env import DummyVecEnv

from pytest_rlplaytest.common.paths import PathBase
from pytest_rlplaytest.engines.base import EngineContext, EngineError, EngineUnavailable
from pytest_rlplaytest.engines.registry import engine_class, split_target
from pytest_rlplaytest.engines.spacetimedb.blackholio import BLACKHOLIO
from pytest_rlplaytest.engines.spacetimedb.client import ConnectionLost
from pytest_rlplaytest.engines.spacetimedb.engine import SpacetimeEngine, database_name
from pytest_rlplaytest.engines.spacetimedb.env import ConcurrentVecEnv, SpacetimeEnv
from pytest_rlplaytest.engines.spacetimedb.mapping import StepClock
from pytest_rlplaytest.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
FAST = dataclasses.replace(BLACKHOLIO, clock=StepClock(table="entity", ticks=1, max_wait_ms=60.0))
EAST = 1  # action 1: unit vector (1, 0)
STOP = 0


def settings(**values: Any) -> Settings:
    return Settings.defaults(ROOT).replace(**{"engine_timeout": 10.0, **values})


def engine_for(tmp_path: Path, target: str = "", seed: int = 7, **options: Any) -> SpacetimeEngine:
    paths = options.pop("_paths", PathBase.option(ROOT))
    ctx = EngineContext(artifacts_dir=tmp_path / "artifacts", seed=seed, options=options,
                        settings=options.pop("_settings"), nodeid="tests/x.py::test", paths=paths)
    return SpacetimeEngine(target, ctx)


def test_registry_resolves_the_scheme() -> None:
    scheme, target = split_target("spacetimedb:example_project/spacetimedb/blackholio")
    assert (scheme, target) == ("spacetimedb", "example_project/spacetimedb/blackholio")
    assert engine_class(scheme) is SpacetimeEngine
    assert database_name("Example_Project/Blackholio Server") == "blackholio-server"


def test_env_reset_and_step(fake_server_thread: FakeServerThread) -> None:
    env = SpacetimeEnv(fake_server_thread.url, "blackholio", FAST, name="walker", timeout=5)
    try:
        obs, info = env.reset()
        assert env.observation_space.contains(obs)
        assert info["mass"] == 15 and info["owned"] == 1
        x0 = info["position"][0]
        for _ in range(5):
            obs, rew, _terminated, truncated, info = env.step(EAST)
            assert env.observation_space.contains(obs) and isinstance(rew, float)
            assert not truncated
        assert info["position"][0] > x0 or info["position"][0] >= 200 - 4  # moved east (or at the wall)
        assert obs[0] == 1.0 and info["tick_wait_ms"] >= 0
        # reset gives a fresh circle (suicide + respawn) with the starting mass
        _, info = env.reset()
        assert info["mass"] == 15 and info["owned"] == 1
    finally:
        env.close()
        env.close()  # idempotent


def test_eating_food_is_rewarded(fake_server_thread: FakeServerThread) -> None:
    env = SpacetimeEnv(fake_server_thread.url, "blackholio", FAST, timeout=5)
    try:
        _, info = env.reset()
        x, y = info["position"]
        fake_server_thread.call(fake_server_thread.server.mutate(
            "blackholio", lambda world, d: world.place_food(d, x, y, 4)))
        total, events = 0.0, []
        for _ in range(3):
            _, rew, terminated, _, info = env.step(STOP)
            total += rew
            events += info["events"]
            assert not terminated
        assert info["mass"] >= 19
        assert total == pytest.approx((info["mass"] - 15) / 10)
        assert "gained_mass" in events
    finally:
        env.close()


def test_being_eaten_terminates_and_reset_respawns(fake_server_thread: FakeServerThread) -> None:
    env = SpacetimeEnv(fake_server_thread.url, "blackholio", FAST, timeout=5)
    try:
        _, info = env.reset()
        x, y = info["position"]
        fake_server_thread.call(fake_server_thread.server.mutate(
            "blackholio", lambda world, d: world.place_enemy(d, x, y, 200)))
        for _ in range(5):
            obs, rew, terminated, _, info = env.step(STOP)
            if terminated:
                break
        assert terminated and rew == -1.0 and "died" in info["events"]
        assert not obs.any()
        _, info = env.reset()
        assert info["mass"] == 15
    finally:
        env.close()


def test_server_drop_mid_episode_fails_fast(fake_server_thread: FakeServerThread) -> None:
    # a 2 s request timeout: waiting for it instead of failing at once would raise RequestTimeout
    env = SpacetimeEnv(fake_server_thread.url, "blackholio", FAST, timeout=2)
    try:
        env.reset()
        env.step(EAST)
        fake_server_thread.call(fake_server_thread.server.drop_all_connections())
        with pytest.raises(ConnectionLost, match="lost"):
            for _ in range(3):  # the drop may land while waiting for the clock or on the next call
                env.step(STOP if _ % 2 else EAST)
    finally:
        env.close()


def ticks_per_step(venv: Any, server: FakeServerThread, step_wait: Any, steps: int = 8) -> float:
    before = server.server.ticks
    for i in range(steps):
        venv.step_async(np.array([EAST, (i % 8) + 1, STOP]))
        step_wait(venv)
    return (server.server.ticks - before) / steps


def test_engine_against_a_running_server_steps_agents_concurrently(
        fake_server_thread: FakeServerThread, tmp_path: Path) -> None:
    engine = engine_for(tmp_path, "", agents=3, database="blackholio", max_episode_steps=15, step_max_ms=60,
                        _settings=settings(spacetimedb_url=fake_server_thread.url))
    engine.start()
    try:
        venv = engine.make_vec_env()
        assert venv.num_envs == 3
        obs = venv.reset()
        assert obs.shape == (3, BLACKHOLIO.observation.size)
        dones_seen = 0
        for i in range(20):
            obs, _rewards, dones, infos = venv.step(np.array([EAST, (i % 8) + 1, STOP]))
            dones_seen += int(dones.sum())
            assert all("rl_episode_seed" in info for info in infos)
        assert dones_seen >= 3  # every agent hit max_episode_steps=15 once (or was eaten before)
        # the 3 agents step concurrently: about one server tick per VecEnv step, where stepping them one
        # after the other (DummyVecEnv's step_wait on the same envs) takes about one tick per agent
        concurrent = ticks_per_step(venv, fake_server_thread, ConcurrentVecEnv.step_wait)
        sequential = ticks_per_step(venv, fake_server_thread, DummyVecEnv.step_wait)
        assert concurrent < 0.75 * sequential, (concurrent, sequential)
        players = fake_server_thread.server.worlds["blackholio"].rows["player"]
        assert sorted(p["name"] for p in players.values()) == ["agent0", "agent1", "agent2"]
        description = engine.describe()
        assert description["engine"] == "spacetimedb" and description["agents"] == 3
        assert description["server"] == fake_server_thread.url and description["mapping"] == "blackholio"
        venv.close()
    finally:
        engine.close()
        engine.close()


def test_engine_rejects_a_dead_url_and_bad_options(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, "", database="x", _settings=settings(spacetimedb_url="http://127.0.0.1:9"))
    with pytest.raises(EngineError, match="no SpacetimeDB server answers"):
        engine.start()
    engine = engine_for(tmp_path, "", database="x", mapping="pacman", _settings=settings())
    with pytest.raises(EngineError, match="unknown mapping"):
        engine.start()
    engine = engine_for(tmp_path, "", database="x", agents=0, _settings=settings())
    with pytest.raises(EngineError, match="agents must be"):
        engine.start()


def test_engine_without_the_cli_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SPACETIME_BIN", raising=False)
    engine = engine_for(tmp_path, "example_project/spacetimedb/blackholio", _settings=settings())
    with pytest.raises(EngineUnavailable, match=r"install\.spacetimedb\.com"):
        engine.start()
    engine.close()


def test_engine_resolves_relative_module_paths_against_the_test_file(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, "spacetimedb/missing", _settings=settings(),
                        _paths=PathBase.marker(tmp_path / "tests" / "test_game.py"))
    with pytest.raises(EngineError, match=r"'spacetimedb/missing' \(resolved against the test file's folder "
                                          r".*tests: .*tests/spacetimedb/missing\) does not exist"):
        engine.start()


def test_ppo_trains_over_real_websockets(fake_server_thread: FakeServerThread, tmp_path: Path) -> None:
    """A short PPO run through the engine's VecEnv: rewards flow from server-side mass changes."""
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    engine = engine_for(tmp_path, "", agents=2, database="blackholio", max_episode_steps=64, step_max_ms=60,
                        _settings=settings(spacetimedb_url=fake_server_thread.url))
    engine.start()
    try:
        venv = engine.make_vec_env()
        model = PPO("MlpPolicy", venv, n_steps=128, batch_size=64, n_epochs=2, seed=0, device="cpu",
                    policy_kwargs={"net_arch": [32, 32]})
        model.learn(total_timesteps=1024)
        episodes = list(model.ep_info_buffer)
        assert len(episodes) >= 8  # 2 agents x 512 steps / 64 steps per episode
        assert any(ep["r"] > 0 for ep in episodes), episodes  # somebody ate food: mass deltas became rewards
        assert all(ep["l"] <= 64 for ep in episodes)
        action, _ = model.predict(venv.reset(), deterministic=True)
        assert action.shape == (2,) and all(0 <= a < 9 for a in action)
        venv.close()
    finally:
        engine.close()
