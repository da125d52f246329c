"""Signatures, bundles, deterministic replay and ddmin shrinking, on the Ledge game."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from pytest_rlplaytest.bughunt.bundle import BundleError, ReplayBundle
from pytest_rlplaytest.bughunt.replay import Replayer
from pytest_rlplaytest.bughunt.shrink import shrink
from pytest_rlplaytest.bughunt.signature import BugSignature


def test_signature_forms() -> None:
    event = BugSignature.parse("out_of_world")
    assert event.hit({"events": ["landed", "out_of_world"]}) and not event.hit({"events": ["landed"]})
    assert event.hit({"events": "out_of_world"}) and not event.hit({})
    pred = BugSignature.parse(lambda info: info.get("y", 0) < -50)
    assert pred.hit({"y": -51}) and not pred.hit({"y": 0})
    log = BugSignature.parse("log:SCRIPT ERROR.*chunk_\\d+")
    assert log.uses_log and log.hit({}, ["x", "SCRIPT ERROR: in chunk_12"]) and not log.hit({}, ["SCRIPT ERROR"])
    assert BugSignature.parse(re.compile("boom")).describe() == "log:boom"
    for bad, message in (("log:(", "not a valid regular expression"), (3, "must be an info event name"),
                         ("", "names no event")):
        with pytest.raises(ValueError, match=message):
            BugSignature.parse(bad)


@pytest.fixture
def replay_engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    from ledge import Ledge

    from pytest_rlplaytest.engines.base import EngineContext
    from pytest_rlplaytest.engines.gym import GymEngine

    engine = GymEngine(Ledge, EngineContext(artifacts_dir=tmp_path, seed=0))
    engine.start()
    yield engine
    engine.close()


def _wandering_sequence(seed: int) -> list[int]:
    """A long, biased random walk that ends by falling off the right end."""
    rng = np.random.default_rng(seed)
    actions, x = [], 0
    while x < 10:
        a = int(rng.choice([0, 1, 2], p=[0.3, 0.45, 0.25]))
        actions.append(a)
        x = max(-10, x + {0: -1, 1: 1, 2: 0}[a])
    return actions


def test_replay_is_deterministic_and_finds_the_hit_step(replay_engine) -> None:  # type: ignore[no-untyped-def]
    actions = _wandering_sequence(3)
    replayer = Replayer(replay_engine.make_replay_vec_env(2), BugSignature.parse("out_of_world"))
    outcomes = replayer.run(seed=1234, candidates=[actions, actions, actions[:-1], [2] * 30])
    assert [o.reproduced for o in outcomes] == [True, True, False, False]
    assert outcomes[0].hit_step == outcomes[1].hit_step == len(actions)
    assert outcomes[0].events[-1] == [len(actions), "out_of_world"]
    assert outcomes[3].steps == 30 and not outcomes[3].ended_early
    assert replayer.replays == 4


def test_ddmin_shrinks_to_the_minimal_sequence(replay_engine) -> None:  # type: ignore[no-untyped-def]
    actions = _wandering_sequence(7)
    assert len(actions) > 60
    replayer = Replayer(replay_engine.make_replay_vec_env(3), BugSignature.parse("out_of_world"))
    result = shrink(replayer, seed=5, actions=actions)
    assert result.actions == [1] * 10  # 1-minimal: ten steps right, nothing else
    assert result.hit_step == 10 and result.original_length == len(actions)
    assert result.ratio <= 0.25
    assert result.replays < 600


def test_shrink_refuses_a_sequence_that_does_not_reproduce(replay_engine) -> None:  # type: ignore[no-untyped-def]
    replayer = Replayer(replay_engine.make_replay_vec_env(1), BugSignature.parse("out_of_world"))
    with pytest.raises(ValueError, match="do not reproduce the bug from their seed"):
        shrink(replayer, seed=1, actions=[0] * 20)


def test_bundle_round_trip_and_errors(tmp_path: Path) -> None:
    bundle = ReplayBundle(signature="event:out_of_world", env="py:ledge:Ledge", seed=9, actions=[1, 1, 2],
                          hit_step=3, engine={"engine": "gym", "gymnasium": "1.0"})
    path = bundle.save(tmp_path / "b.json")
    loaded = ReplayBundle.load(path)
    assert loaded.actions == [1, 1, 2] and loaded.seed == 9 and loaded.original_length == 3
    assert loaded.plugin_version and loaded.created and loaded.machine["python"]
    data = json.loads(path.read_text())
    assert data["env"] == "py:ledge:Ledge" and "source" not in data  # not a path: stored as is
    data["schema_version"] = 2
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match=r"schema version 2, newer than this pytest-rlplaytest reads \(1\); "
                                          r"upgrade pytest-rlplaytest, or regenerate it"):
        ReplayBundle.load(path)
    data["schema_version"] = 0
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="invalid schema_version 0; regenerate it"):
        ReplayBundle.load(path)
    path.write_text("{not json")
    with pytest.raises(BundleError, match="is not valid JSON"):
        ReplayBundle.load(path)
    path.write_text(json.dumps({"schema_version": 1, "env": "x"}))
    with pytest.raises(BundleError, match="lacks signature, seed, actions, hit_step"):
        ReplayBundle.load(path)
    with pytest.raises(BundleError, match="does not exist"):
        ReplayBundle.load(tmp_path / "nope.json")


class _Pit(gym.Env):  # type: ignore[type-arg]
    """A continuous toy game for the "stop and wait" pass: move on a line with a velocity command in
    [-1, 1]; standing (|velocity| < 0.25) over the pit at 4 <= x <= 5 for 10 steps in a row drops you
    in (event ``out_of_world``). Walking over the pit does nothing."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-50.0, 50.0, (1,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.x, self.still, self.t = 0.0, 0, 0

    def reset(self, *, seed=None, options=None):  # type: ignore[no-untyped-def]
        self.x, self.still, self.t = 0.0, 0, 0
        return np.array([self.x], np.float32), {}

    def step(self, action):  # type: ignore[no-untyped-def]
        v = float(np.clip(np.asarray(action).ravel()[0], -1, 1))
        self.x += 0.5 * v
        self.t += 1
        self.still = self.still + 1 if (4 <= self.x <= 5 and abs(v) < 0.25) else 0
        info = {"position": [self.x]}
        fell = self.still >= 10
        if fell:
            info["events"] = ["out_of_world"]
        return np.array([self.x], np.float32), 0.0, fell, self.t >= 300, info



def test_shrink_stops_and_waits_for_continuous_actions(tmp_path: Path) -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv

    from pytest_rlplaytest.bughunt.shrink import neutral_action

    rng = np.random.default_rng(0)
    # wander right with noise, reach the pit, then dither on it with small moves until falling in
    actions = [[float(np.clip(0.3 + rng.normal(0, 0.8), -1, 1))] for _ in range(40)]
    env = _Pit()
    for a in actions:
        env.step(a)
    actions += [[float(np.clip(4.5 - env.x, -1, 1))]] + [[float(v)] for v in rng.uniform(-0.2, 0.2, 200)]
    venv = DummyVecEnv([_Pit, _Pit])
    replayer = Replayer(venv, BugSignature.parse("out_of_world"))
    first = replayer.run(0, [actions])[0]
    assert first is not None and first.reproduced
    assert neutral_action(venv.action_space, actions[0]) == [0.0]
    result = shrink(replayer, seed=0, actions=actions[: first.hit_step])
    assert result.hit_step == len(result.actions)
    assert result.actions[-10:] == [[0.0]] * 10  # it stops on the pit and waits
    assert len(result.actions) <= 0.5 * result.original_length
    assert replayer.run(0, [result.actions])[0].reproduced  # type: ignore[union-attr]
    assert neutral_action(gym.spaces.Discrete(3), 1) is None  # no neutral action is known
    assert neutral_action(gym.spaces.Box(0.5, 1.0, (1,)), [0.7]) is None  # zero is outside the space


def test_build_check_ignores_locations_but_names_real_changes(tmp_path: Path) -> None:
    import warnings

    from pytest_rlplaytest.bughunt.session import BuildChangedWarning, check_build
    from pytest_rlplaytest.errors import RLPlaytestWarning

    class FakeEngine:
        IDENTITY_KEYS = ("godot_version", "game_hash", "scene")

        def describe(self) -> dict:
            return {"engine": "godot", "game_path": str(tmp_path / "ci" / "clone" / "game"), "game_hash": "bbb",
                    "godot_version": "3.2.3"}

    moved = ReplayBundle(signature="event:x", env="godot:game", seed=1, actions=[0], hit_step=1,
                         engine={"engine": "godot", "game_path": str(tmp_path / "dev" / "game"), "game_hash": "bbb",
                                 "godot_version": "3.2.3"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_build(moved, FakeEngine(), "b.json") == []  # type: ignore[arg-type]
    moved.engine["game_hash"] = "aaa"
    assert issubclass(BuildChangedWarning, RLPlaytestWarning)  # -W error::pytest.PytestWarning catches it
    with pytest.warns(BuildChangedWarning, match="game_hash: recorded 'aaa', now 'bbb'"):
        assert check_build(moved, FakeEngine(), "b.json") == ["game_hash: recorded 'aaa', now 'bbb'"]  # type: ignore[arg-type]


def test_replays_seed_every_env_through_the_public_reset_options(replay_engine) -> None:  # type: ignore[no-untyped-def]
    from ledge import Ledge
    from stable_baselines3.common.vec_env import VecCheckNan

    from pytest_rlplaytest.bughunt.replay import seed_each

    # behind a wrapper: an attribute set on the wrapper (SB3's private per-env seed list) reaches nothing
    venv = VecCheckNan(replay_engine.make_replay_vec_env(3), raise_exception=True)
    seed_each(venv, [77, 77, 77])
    obs = venv.reset()
    assert [info["rl_episode_seed"] for info in venv.venv.reset_infos] == [77, 77, 77]
    recorded, _ = Ledge().reset(seed=77)  # the game itself was reset with seed 77 (its wind is seeded)
    np.testing.assert_array_equal(obs, np.stack([recorded] * 3))
    venv.reset()  # the seeds are used once: the next episodes derive from them, as recorded ones do
    assert len({info["rl_episode_seed"] for info in venv.venv.reset_infos}) == 1
    assert venv.venv.reset_infos[0]["rl_episode_seed"] != 77
    with pytest.raises(ValueError, match="one seed per env: 1 seeds for 3 envs"):
        seed_each(venv, [1])
    venv.close()


class _Recorder(gym.Env):  # type: ignore[type-arg]
    """Records the seed and options of every reset."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self) -> None:
        self.resets: list[tuple[int | None, dict | None]] = []

    def reset(self, *, seed=None, options=None):  # type: ignore[no-untyped-def]
        self.resets.append((seed, options))
        return np.zeros(1, np.float32), {}

    def step(self, action):  # type: ignore[no-untyped-def]
        return np.zeros(1, np.float32), 0.0, False, False, {}


def test_the_replay_seed_option_is_the_episode_seed_and_stays_out_of_the_game() -> None:
    from pytest_rlplaytest.engines.gym import SeededEpisodes
    from pytest_rlplaytest.scenario import derive_seed

    game = _Recorder()
    env = SeededEpisodes(game, base_seed=3, label="rec")
    _, info = env.reset(options={"rl_episode_seed": 5, "level": 2})
    assert info["rl_episode_seed"] == 5 and game.resets[-1] == (5, {"level": 2})
    env.reset(options={"rl_episode_seed": 6})
    assert game.resets[-1] == (6, None)
    _, info = env.reset()  # the stream restarts from the replayed seed
    assert info["rl_episode_seed"] == derive_seed(6, "episode", 0) == game.resets[-1][0]
    env.reset(seed=8, options={"rl_episode_seed": 9})  # an explicit seed wins
    assert game.resets[-1] == (8, None)


def test_bundle_paths_are_stored_relative_to_the_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_rlplaytest.bughunt.session import open_engine
    from pytest_rlplaytest.common.paths import PathBase
    from pytest_rlplaytest.engines.godot.binary import locate_game

    game = tmp_path / "repo" / "game"
    game.mkdir(parents=True)
    (game / "project.godot").write_text("")
    bundle = ReplayBundle(
        signature="event:x", env=f"godot:{game}", seed=1, actions=[0], hit_step=1,
        engine={"engine": "godot", "game": "../game", "game_path": str(game),
                "godot_binary": str(tmp_path / "bin" / "godot3"),
                "godot_version": "3.2.3", "game_hash": "abc"},
        scenario={"env": f"godot:{game}", "model": str(tmp_path / "repo" / "models" / "a.zip"), "kind": "bug_repro"})
    path = bundle.save(tmp_path / "repo" / "tests" / "bundles" / "b.json")
    text = path.read_text()
    assert str(tmp_path) not in text  # no absolute path of this machine (the game's nor the binary's)
    data = json.loads(text)
    assert data["env"] == "godot:../../game"
    assert data["scenario"] == {"env": "godot:../../game", "model": "../../models/a.zip", "kind": "bug_repro"}
    assert data["engine"] == {"engine": "godot", "game_hash": "abc", "godot_version": "3.2.3"}  # identity only
    monkeypatch.chdir(tmp_path)  # the current folder plays no part in reading it back
    loaded = ReplayBundle.load(path)
    assert loaded.env == "godot:../../game" and loaded.paths == PathBase.content(path)
    engine = open_engine(loaded, path, tmp_path / "art", nodeid="t")
    assert engine.context.paths == PathBase.content(path)
    assert locate_game(engine.game_spec.path, engine.context.paths).path == game  # type: ignore[attr-defined]
    # saved elsewhere (`rlplaytest shrink BUNDLE OUT`), its paths are rewritten for the new folder
    moved = loaded.with_actions([0], 1).save(tmp_path / "elsewhere" / "c.json")
    assert json.loads(moved.read_text())["env"] == "godot:../repo/game"
    assert ReplayBundle.load(moved).paths.resolve("../repo/game") == game
