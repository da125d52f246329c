"""Checkpoints and ``--rl-resume``: a training killed mid-way resumes to the same timestep count.

The stated tolerance: the resumed run's evaluation (30 greedy episodes of ``Coin-v1``, seeded as
any evaluation) has a mean return within 0.3 (10% of the game's maximum return, 3) of the
uninterrupted run's. Two runs resumed from one checkpoint train identically (the seed stream
continues from the checkpoint).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nightly_games import FAST_PPO

from pytest_rlplaytest.agents.checkpoints import (
    AUTO_COST_FACTOR,
    AUTO_MIN_SECONDS,
    CheckpointSchedule,
    restore_rng,
    rng_state,
)
from pytest_rlplaytest.settings import CHECKPOINT_AUTO

REPO = Path(__file__).resolve().parents[2]
TEST_DIR = "test_coin.py__test_coin_learns"
BUDGET = 1024
TOLERANCE = 0.3

COIN_TEST = f"""
import pytest

@pytest.mark.long_training
@pytest.mark.rl_scenario(env="Coin-v1", timesteps={BUDGET}, episodes=30, algo_kwargs={FAST_PPO})
def test_coin_learns(rl_playtest):
    rl_playtest()
"""


def _summary(artifacts: Path) -> dict:
    return json.loads((artifacts / TEST_DIR / "summary.json").read_text())["summary"]


def _training(artifacts: Path) -> dict:
    return json.loads((artifacts / TEST_DIR / "training.json").read_text())


def _run_killed_after_first_checkpoint(pytester: pytest.Pytester, artifacts: Path) -> int:
    """Run the scenario in a subprocess and SIGKILL it once its first checkpoint exists; returns the
    killed checkpoint's timesteps."""
    latest = artifacts / TEST_DIR / "checkpoints" / "latest.json"
    env = {**os.environ, "RLPT_SLOW_FILE": str(latest),
           "PYTHONPATH": os.pathsep.join([str(REPO), str(pytester.path), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rl-long", "--rl-checkpoint-every=256",
           f"--rl-artifacts={artifacts}"]
    proc = subprocess.Popen(cmd, cwd=pytester.path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not latest.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert latest.exists(), "the run ended (or hung) before its first checkpoint"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    pointer = json.loads(latest.read_text())
    assert pointer["complete"] is False
    return int(pointer["timesteps"])


def _model_parameters(path: Path) -> dict:
    from stable_baselines3 import PPO

    return {k: v.detach().clone() for k, v in PPO.load(path, device="cpu").policy.state_dict().items()}


def test_killed_training_resumes_to_the_same_timesteps_and_evaluation(nightly_games: pytest.Pytester) -> None:
    nightly_games.makepyfile(test_coin=COIN_TEST)
    whole, killed, copy = (nightly_games.path / name for name in ("whole", "killed", "copy"))
    nightly_games.runpytest("--rl-long", "--rl-checkpoint-every=256", f"--rl-artifacts={whole}").assert_outcomes(
        passed=1)

    at = _run_killed_after_first_checkpoint(nightly_games, killed)
    assert 0 < at < BUDGET
    shutil.copytree(killed, copy)
    for folder in (killed, copy):
        result = nightly_games.runpytest("--rl-long", "--rl-resume", "--rl-checkpoint-every=256",
                                         f"--rl-artifacts={folder}")
        result.assert_outcomes(passed=1)

    uninterrupted, resumed = _summary(whole), _summary(killed)
    assert resumed["timesteps"] == uninterrupted["timesteps"] == BUDGET
    assert abs(resumed["mean_return"] - uninterrupted["mean_return"]) <= TOLERANCE, (resumed, uninterrupted)
    record = _training(killed)
    assert record["resumed_from"]["timesteps"] == at and record["resumed_from"]["complete"] is False
    assert record["timesteps"] == BUDGET
    assert _training(whole)["resumed_from"] is None
    report = (killed / "report.md").read_text()
    assert f"resumed from checkpoint ckpt-{at:012d} at {at} timesteps" in report
    # the episodes before the kill are kept: the learning curve starts at the first timesteps
    first_episode = (killed / TEST_DIR / "training_episodes.csv").read_text().splitlines()[1]
    assert int(first_episode.split(",")[0]) <= 3

    # the seed stream continues from the checkpoint: two resumes of one checkpoint train identically
    ours, theirs = _model_parameters(killed / TEST_DIR / "model.zip"), _model_parameters(copy / TEST_DIR / "model.zip")
    assert ours.keys() == theirs.keys() and all((ours[k] == theirs[k]).all() for k in ours)
    assert _summary(copy)["mean_return"] == resumed["mean_return"]


def test_resume_checks_the_configuration_and_a_complete_run_trains_nothing(nightly_games: pytest.Pytester) -> None:
    nightly_games.makepyfile(test_coin=COIN_TEST.replace(f"timesteps={BUDGET}", "timesteps=512"))
    art = nightly_games.path / "art"
    nightly_games.runpytest("--rl-long", "--rl-checkpoint-every=256", f"--rl-artifacts={art}").assert_outcomes(passed=1)
    assert json.loads((art / TEST_DIR / "checkpoints" / "latest.json").read_text())["complete"] is True

    again = nightly_games.runpytest("--rl-long", "--rl-resume", f"--rl-artifacts={art}")
    again.assert_outcomes(passed=1)
    record = _training(art)
    assert record["resumed_from"] == {"checkpoint": "ckpt-000000000512", "timesteps": 512, "complete": True}
    assert record["timesteps"] == 512

    other = nightly_games.runpytest("--rl-long", "--rl-resume", "--rl-timesteps=256", f"--rl-artifacts={art}")
    other.assert_outcomes(errors=1)
    other.stdout.fnmatch_lines(["*--rl-resume: the checkpoint*was made for another configuration*"
                                "timesteps: checkpoint 512, now 256*"])


def test_a_fresh_run_keeps_an_interrupted_runs_checkpoints_aside(nightly_games: pytest.Pytester) -> None:
    nightly_games.makepyfile(test_coin=COIN_TEST.replace(f"timesteps={BUDGET}", "timesteps=512"))
    art = nightly_games.path / "art"
    nightly_games.runpytest("--rl-long", "--rl-checkpoint-every=256", f"--rl-artifacts={art}").assert_outcomes(passed=1)
    checkpoints = art / TEST_DIR / "checkpoints"
    latest = json.loads((checkpoints / "latest.json").read_text())
    (checkpoints / "latest.json").write_text(json.dumps({**latest, "checkpoint": "ckpt-000000000256",
                                                         "timesteps": 256, "complete": False}))
    (checkpoints / "ckpt-000000000256" / "state.json").write_text(json.dumps({
        **json.loads((checkpoints / "ckpt-000000000256" / "state.json").read_text()), "complete": False}))
    fresh = nightly_games.runpytest("--rl-long", "--rl-checkpoint-every=256", f"--rl-artifacts={art}")
    fresh.assert_outcomes(passed=1)
    fresh.stdout.fnmatch_lines(["*DiscardedCheckpointWarning*interrupted training left a checkpoint at 256 "
                                "timesteps*pass --rl-resume*"])
    assert (art / TEST_DIR / "checkpoints.previous" / "ckpt-000000000256" / "model.zip").is_file()


def test_off_policy_checkpoints_carry_the_replay_buffer(nightly_games: pytest.Pytester) -> None:
    nightly_games.makepyfile(test_coin="""
        import json, pytest
        from pathlib import Path

        @pytest.mark.long_training
        @pytest.mark.rl_scenario(env="Coin-v1", algo="DQN", timesteps=600, episodes=3,
                                 algo_kwargs=dict(learning_starts=50, buffer_size=5000, train_freq=4))
        def test_coin_learns(rl_agent, rl_artifacts):
            print("BUFFER", rl_agent.replay_buffer.size())
    """)
    art = nightly_games.path / "art"
    nightly_games.runpytest("--rl-long", "--rl-checkpoint-every=300", f"--rl-artifacts={art}", "-s").assert_outcomes(
        passed=1)
    checkpoints = art / TEST_DIR / "checkpoints"
    middle = sorted(p.name for p in checkpoints.glob("ckpt-*"))[0]
    assert (checkpoints / middle / "replay_buffer.pkl").is_file()
    at = int(middle.split("-")[1])
    (checkpoints / "latest.json").write_text(json.dumps({"schema_version": 1, "checkpoint": middle, "timesteps": at,
                                                         "complete": False}))
    resumed = nightly_games.runpytest("--rl-long", "--rl-resume", f"--rl-artifacts={art}", "-s")
    resumed.assert_outcomes(passed=1)
    # every transition is in the buffer: the ones before the checkpoint came back with it
    resumed.stdout.fnmatch_lines(["*BUFFER 600*"])


def test_auto_checkpoints_cost_at_most_two_percent_of_training_time() -> None:
    now, trained, spent = 0.0, 0.0, 0.0
    schedule = CheckpointSchedule(CHECKPOINT_AUTO, 0, now)
    costs = [0.5, 3.0, 0.2, 10.0, 1.0] * 20
    timesteps = 0
    while costs:
        now += 1.0  # one rollout: a second of training
        trained += 1.0
        timesteps += 1000
        if schedule.due(timesteps, now):
            cost = costs.pop(0)
            now += cost
            spent += cost
            schedule.saved(timesteps, cost, now)
    assert spent / (trained + spent) <= 1 / AUTO_COST_FACTOR
    assert schedule.wait_seconds() == max(AUTO_MIN_SECONDS, AUTO_COST_FACTOR * 1.0)


def test_fixed_interval_checkpoints_at_the_first_boundary_after_each_multiple() -> None:
    schedule = CheckpointSchedule(1000, 0, 0.0)
    due = []
    for timesteps in range(384, 5000, 384):
        if schedule.due(timesteps, 0.0):
            due.append(timesteps)
            schedule.saved(timesteps, 0.1, 0.0)
    assert due == [1152, 2304, 3072, 4224]
    resumed = CheckpointSchedule(1000, 2304, 0.0)
    assert not resumed.due(2688, 0.0) and resumed.due(3072, 0.0)


def test_the_seed_stream_round_trips_through_json() -> None:
    import random

    import numpy as np
    import torch

    state = json.loads(json.dumps(rng_state()))
    first = (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist())
    restore_rng(state)
    assert (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()) == first
