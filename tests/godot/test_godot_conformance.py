"""The same conformance tests against four games that speak the Godot RL Agents protocol:

* ``fake4``: fake_godot4.py, a double of a game on the official plugin's ``main`` branch (Godot 4);
* ``fake3``: fake_godot3.py, a double of a game on its ``godot3`` branch (Godot 3);
* ``plugin3``: the real Godot 3 engine running counter_project/plugin3.tscn, our own GDScript that
  reproduces the godot3 branch's wire behaviour (counter_project/wire3/);
* ``addon``: the real Godot 3 engine running counter_project/addon.tscn, on rlplaytest's addon.

All four run the same counter game (fake_plugin_game.py and counter_project/*.gd): two agents per
scene; each frame adds the current action's value to the reward, so a step's reward tells how many
frames it ran (``action_repeat``); an episode is ``episode_frames`` frames long.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_rlplaytest.engines.godot.engine import GodotEngine, GodotOptionIgnoredWarning, GodotSeedingError
from pytest_rlplaytest.engines.godot.startup import (
    FLAVOUR_ADDON,
    FLAVOUR_GODOT3,
    FLAVOUR_MAIN,
    GodotConnectFailed,
)
from pytest_rlplaytest.playtest import run_playtest


@dataclass
class Game:
    """One game under test and what the conformance tests may expect of it."""

    name: str
    make: Callable[..., GodotEngine]
    path: Path
    flavour: str
    action_repeat: int  # what it runs with when not asked
    honours_speedup: bool
    scene: str | None = None
    one_agent_scene: str | None = None
    godot_bin: str | None = None
    fake: bool = False
    fallbacks: list[list[str]] = field(default_factory=list)

    def engine(self, *args: str, episode_frames: int = 80, one_agent: bool = False, plugin_timing: bool = False,
               **options: Any) -> GodotEngine:
        """A started engine on this game; ``plugin_timing``: keep the plugin's one-second wait before it
        connects (the other tests shorten it to 100 ms: a knob of the doubles and of wire3/sync.gd)."""
        frames = f"--fake_episode_frames={episode_frames}" if self.fake else f"--episode_frames={episode_frames}"
        extra = [frames, *args]
        if not plugin_timing and self.flavour != FLAVOUR_ADDON:
            extra.append("--fake_connect_delay_ms=100" if self.fake else "--wire_connect_delay_ms=100")
        scene = self.scene
        if one_agent:
            if self.one_agent_scene is not None:
                scene = self.one_agent_scene
            elif self.fake:
                extra.append("--fake_scene=I")
        if scene is not None:
            options.setdefault("scene", scene)
        return self.make(self.path, godot_bin=self.godot_bin, engine_timeout=20.0, godot_args=extra, **options)


GAMES = ["fake4", "fake3", pytest.param("plugin3", marks=pytest.mark.needs_godot),
         pytest.param("addon", marks=pytest.mark.needs_godot)]


@pytest.fixture(params=GAMES)
def game(request: pytest.FixtureRequest, make_engine: Callable[..., GodotEngine]) -> Game:
    name = request.param
    if name == "fake4":
        binary = request.getfixturevalue("fake_godot4")
        return Game(name, make_engine, binary.parent / "project", FLAVOUR_MAIN, 8, True, godot_bin=str(binary),
                    fake=True, fallbacks=[["--fake_sync_mode=human"], ["--fake_port_offset=1"]])
    if name == "fake3":
        binary = request.getfixturevalue("fake_godot3")
        return Game(name, make_engine, binary.parent / "project", FLAVOUR_GODOT3, 8, False, godot_bin=str(binary),
                    fake=True, fallbacks=[["--fake_port_offset=1"], ["--fake_status=1"]])
    project = request.getfixturevalue("counter_project")
    if name == "plugin3":
        return Game(name, make_engine, project, FLAVOUR_GODOT3, 8, False, scene="res://plugin3.tscn",
                    one_agent_scene="res://plugin3_one.tscn", fallbacks=[["--wire_port_offset=1"]])
    return Game(name, make_engine, project, FLAVOUR_ADDON, 1, True, scene="res://addon.tscn")


def test_trains_and_evaluates_with_more_envs_than_the_scene_has_agents(game: Game) -> None:
    from stable_baselines3 import PPO

    engine = game.engine(episode_frames=16)
    venv = engine.make_vec_env(n_envs=3)  # the scene has 2 agents: two whole instances
    assert venv.num_envs == 4 and len(venv.venv.sessions) == 2
    plan = engine.describe()["instances"]
    assert plan["started"] == 2 and plan["agents"] == 4
    assert "n_envs=3 asks for at least 3 agents" in plan["why"] and "2 whole instances" in plan["why"]
    model = PPO("MlpPolicy", venv, n_steps=8, batch_size=16, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=32)
    assert model.num_timesteps == 32
    result = run_playtest(model, venv, episodes=4, seed=1)
    assert result.n_episodes == 4
    assert all(ep.length >= 1 for ep in result.episodes)
    assert engine.describe()["plugin"] == game.flavour


def test_time_limit_is_enforced_as_truncation(game: Game) -> None:
    engine = game.engine(episode_frames=100_000, max_episode_steps=3)  # the game itself never ends one
    venv = engine.make_vec_env().venv
    venv.reset()
    actions = np.array([1, 2])
    for step in range(1, 7):
        obs, _, dones, infos = venv.step(actions)
        if step % 3:
            assert not dones.any(), f"step {step}: only the time limit ends these episodes"
            continue
        assert dones.all(), f"step {step}: the 3-step limit ends every episode"
        for i, info in enumerate(infos):
            assert info["TimeLimit.truncated"] is True
            assert info["terminal_observation"].shape == (4,)
            assert obs[i][0] < info["terminal_observation"][0], "the returned observation starts a new episode"
    result = run_playtest(_Constant(1), engine.make_vec_env(), episodes=4, seed=2)
    assert [ep.length for ep in result.episodes] == [3, 3, 3, 3]
    assert {ep.outcome for ep in result.episodes} == {"truncated"}


def test_single_agent_env_reports_truncation_not_termination(game: Game) -> None:
    env = game.engine(episode_frames=100_000, one_agent=True, max_episode_steps=2).make_env()
    env.reset()
    first = env.step(1)
    assert first[2:4] == (False, False)
    _, _, terminated, truncated, info = env.step(1)
    assert (terminated, truncated) == (False, True) and "terminal_observation" not in info
    obs, _ = env.reset()  # the instance was reset already: no second round trip needed
    assert obs.shape == (4,)


def test_seeding_status_is_reported_and_required_by_replays(game: Game) -> None:
    engine = game.engine()
    engine.make_vec_env()
    desc = engine.describe()
    if game.flavour == FLAVOUR_ADDON:
        assert desc["seeding"] == "per_episode"
        venv = engine.make_replay_vec_env(1)
        venv.reset()
        return
    assert desc["seeding"] == "launch_only"
    with pytest.raises(GodotSeedingError) as err:
        engine.make_replay_vec_env(1)
    text = str(err.value)
    assert "bug-hunt replays need a game that honours per-episode seeds" in text
    assert "--env_seed" in text and "Fix:" in text


def _steady_rewards(engine: GodotEngine, action: int = 2, steps: int = 4) -> tuple[np.ndarray, int]:
    venv = engine.make_vec_env().venv
    venv.reset()
    rewards = []
    for _ in range(steps):
        _, r, dones, _ = venv.step(np.array([action, action]))
        assert not dones.any()
        rewards.append(r)
    return np.array(rewards[1:]), int(engine.describe()["action_repeat"])  # (the first step includes the reset)


def test_action_repeat_reported_is_the_one_the_game_runs(game: Game) -> None:
    rewards, reported = _steady_rewards(game.engine(episode_frames=100_000))
    assert reported == game.action_repeat
    np.testing.assert_array_equal(rewards, 2.0 * reported)  # each frame adds the action's value
    engine = game.engine(episode_frames=100_000, action_repeat=2)
    rewards, reported = _steady_rewards(engine)
    assert reported == 2
    np.testing.assert_array_equal(rewards, 4.0)


def test_speedup_reported_is_the_one_the_game_runs(game: Game) -> None:
    engine = game.engine(speedup=2.0)
    if game.honours_speedup:
        engine.make_vec_env()
        assert engine.describe()["speedup"] == 2.0
        return
    with pytest.warns(GodotOptionIgnoredWarning, match="godot3 branch of Godot RL Agents reads --speedup before"):
        engine.make_vec_env()
    assert engine.describe()["speedup"] == 1.0


# (rlplaytest's addon has no human fall-back: it quits with exit code 3 when it cannot connect)
@pytest.mark.parametrize("game", GAMES[:3], indirect=True)
def test_falling_back_to_human_control_fails_fast_with_the_games_lines(game: Game) -> None:
    assert game.fallbacks
    import stable_baselines3  # noqa: F401  (imported by make_vec_env: not part of the time printed below)

    for args in game.fallbacks:
        engine = game.engine(*args, plugin_timing=True)
        engine.timeout = 30.0
        start = time.monotonic()
        with pytest.raises(GodotConnectFailed) as err:
            engine.make_vec_env()
        elapsed = time.monotonic() - start
        text = str(err.value)
        assert "human control" in text and "last " in text and "physics ticks" in text, text
        print(f"{game.name} {args}: failed after {elapsed:.2f} s")


def test_call_returns_one_value_per_scene_agent(game: Game) -> None:
    venv = game.engine().make_vec_env(n_envs=3).venv
    method = "get_path" if game.fake else "get_path_text"
    per_instance = venv.call_scene_agents(method)
    assert [len(v) for v in per_instance] == [2, 2]
    assert per_instance[0][0] != per_instance[0][1]
    assert venv.env_method(method, indices=[1, 3]) == [per_instance[0][1], per_instance[1][1]]


class _Constant:
    """An agent that always takes the same discrete action."""

    def __init__(self, action: int) -> None:
        self.action = action

    def predict(self, obs: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True) -> Any:
        return np.full((len(obs),), self.action), None
