"""Bounded engine restarts during training (``--rl-engine-restarts``), never during evaluation.

A fast variant crashes an in-process game (``Crashy-v0`` raises the ``EngineError`` a crashed game
raises); the real one SIGKILLs ``godot3-server`` three times from a side thread while a
long_training scenario trains on the probe game.
"""

from __future__ import annotations

import json

import pytest
from nightly_games import FAST_PPO

TEST_DIR = "test_crashy.py__test_trains_through_crashes"

CRASHY_TEST = f"""
import pytest

@pytest.mark.long_training
@pytest.mark.rl_scenario(env="Crashy-v0", timesteps=768, episodes=6, n_envs=2, algo_kwargs={FAST_PPO},
                         env_kwargs=dict(crash_at=CRASHES))
def test_trains_through_crashes(rl_playtest):
    rl_playtest()
"""


def _crashy(pytester: pytest.Pytester, crashes: tuple[int, ...]) -> None:
    pytester.makepyfile(test_crashy=CRASHY_TEST.replace("CRASHES", repr(list(crashes))))


def test_training_survives_three_crashes_and_reports_each(nightly_games: pytest.Pytester) -> None:
    _crashy(nightly_games, (101, 302, 503))
    art = nightly_games.path / "art"
    result = nightly_games.runpytest("--rl-long", f"--rl-artifacts={art}", "--junitxml=junit.xml")
    result.assert_outcomes(passed=1)
    record = json.loads((art / TEST_DIR / "training.json").read_text())
    restarts = record["engine_restarts"]
    assert restarts["allowed"] == 3 and len(restarts["restarts"]) == 3
    assert record["timesteps"] == 768  # the budget is met despite the crashes
    # two envs: each crash drops the episode in flight in each env that had started one
    assert [r["dropped_episodes"] for r in restarts["restarts"]] == [2, 2, 2]
    assert restarts["dropped_episodes"] == 6
    for restart, step in zip(restarts["restarts"], (101, 302, 503)):
        assert restart["error_type"] == "EngineError"
        assert f"at step {step}" in restart["error"] and "Segmentation fault" in restart["log_tail"][-1]
    report = (art / "report.md").read_text()
    assert "3 engine restart(s) during training, 6 episode(s) in flight dropped" in report
    for number in (1, 2, 3):
        assert f"restart {number} at timestep" in report
    assert report.count("Segmentation fault") == 3
    junit = (nightly_games.path / "junit.xml").read_text()
    assert 'name="rl_engine_restarts" value="3"' in junit and 'name="rl_dropped_episodes" value="6"' in junit
    (art / "report.md").unlink()  # `rlplaytest report` rebuilds the same notes from the artifacts alone
    from pytest_rlplaytest.cli import main

    assert main(["report", str(art)]) == 0
    assert "3 engine restart(s) during training" in (art / "report.md").read_text()


def test_a_fourth_crash_fails_naming_every_restart(nightly_games: pytest.Pytester) -> None:
    _crashy(nightly_games, (101, 202, 303, 404))
    result = nightly_games.runpytest("--rl-long")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*at step 404 (killed by SIGKILL)*",
                                 "*after 3 restart(s), the limit set by --rl-engine-restarts=3*#1 at timestep*"
                                 "#2 at timestep*#3 at timestep*"])


def test_without_restarts_the_first_crash_fails_with_its_signal(nightly_games: pytest.Pytester) -> None:
    _crashy(nightly_games, (101,))
    result = nightly_games.runpytest("--rl-long", "--rl-engine-restarts=0")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*EngineError: Crashy: the game stopped answering at step 101 (killed by SIGKILL)*"])
    result.stdout.no_fnmatch_line("*restart(s)*")


def test_a_test_without_long_training_does_not_restart_by_default(nightly_games: pytest.Pytester) -> None:
    nightly_games.makepyfile(test_crashy=CRASHY_TEST.replace("CRASHES", "[101]").replace("@pytest.mark.long_training\n",
                                                                                        ""))
    nightly_games.runpytest().assert_outcomes(errors=1)


def test_evaluation_never_restarts(nightly_games: pytest.Pytester) -> None:
    _crashy(nightly_games, (776,))  # after the 768 training steps: during evaluation
    result = nightly_games.runpytest("--rl-long")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*EngineError: Crashy: the game stopped answering at step 776*"])
    result.stdout.no_fnmatch_line("*restart(s)*")


GODOT_TEST = """
import os, signal, threading, time
import pytest

KILLS = []

@pytest.fixture
def killer(rl_engine):
    '''SIGKILLs each game instance once it has played 40 steps, three times, from a side thread.'''
    stop = threading.Event()

    def run():
        killed = set()
        while not stop.is_set() and len(KILLS) < KILLS_WANTED:
            for session in list(rl_engine.sessions):
                proc = session.process
                if proc is not None and proc.pid not in killed and proc.alive and session.steps >= 40:
                    killed.add(proc.pid)
                    os.kill(proc.pid, signal.SIGKILL)
                    KILLS.append(proc.pid)
            time.sleep(0.002)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield KILLS
    stop.set()
    thread.join(5)

@pytest.mark.long_training
@pytest.mark.rl_scenario(env="godot:game", agents=2, timesteps=1024, episodes=4, max_episode_steps=50,
                         algo_kwargs=dict(n_steps=64, n_epochs=1, batch_size=64))
def test_godot_trains_through_kills(killer, rl_playtest):
    rl_playtest()
    assert len(killer) == KILLS_WANTED
"""


@pytest.mark.needs_godot
def test_godot_killed_three_times_during_long_training_is_restarted(godot_game: pytest.Pytester) -> None:
    godot_game.makepyfile(test_godot_kills=GODOT_TEST.replace("KILLS_WANTED", "3"))
    art = godot_game.path / "art"
    result = godot_game.runpytest("--rl-long", f"--rl-artifacts={art}")
    result.assert_outcomes(passed=1)
    record = json.loads((art / "test_godot_kills.py__test_godot_trains_through_kills" / "training.json").read_text())
    restarts = record["engine_restarts"]["restarts"]
    assert len(restarts) == 3 and record["timesteps"] == 1024
    assert all("killed by SIGKILL" in "\n".join(r["log_tail"]) for r in restarts), restarts
    report = (art / "report.md").read_text()
    assert "3 engine restart(s) during training" in report
    assert report.count("killed by SIGKILL") >= 3


@pytest.mark.needs_godot
def test_godot_killed_without_restarts_fails_with_the_signal(godot_game: pytest.Pytester) -> None:
    godot_game.makepyfile(test_godot_kills=GODOT_TEST.replace("KILLS_WANTED", "1"))
    result = godot_game.runpytest("--rl-long", "--rl-engine-restarts=0")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*GodotCrashed*killed by SIGKILL*"])
