"""``assert_training``: final reward, a stated improvement test, the frame budget during training,
read from TensorBoard event files; and ``rlplaytest check-training`` on an old run's folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from nightly_games import FAST_PPO

from pytest_rlplaytest import VerdictFailure, assert_training
from pytest_rlplaytest.cli import main
from pytest_rlplaytest.reports.training_tags import EP_REW_MEAN, EPISODE_RETURN, FRAME_P99, RESUMED_FROM
from pytest_rlplaytest.verdicts import VerdictUsageError
from pytest_rlplaytest.verdicts.errors import MissingMetricError
from pytest_rlplaytest.verdicts.training import improvement_test, read_training_events


def _write_run(folder: Path, returns: list[float], frame_p99: list[float] | None = None,
               resumed_from: int | None = None) -> Path:
    """A TensorBoard run folder as training writes one (through torch's SummaryWriter, as SB3 does)."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(folder))
    start = resumed_from or 0
    if resumed_from is not None:
        writer.add_scalar(RESUMED_FROM, float(resumed_from), resumed_from)
    for i, value in enumerate(returns):
        writer.add_scalar(EPISODE_RETURN, value, start + 10 * (i + 1))
    writer.add_scalar(EP_REW_MEAN, float(np.mean(returns[-100:])), start + 10 * len(returns))
    for i, p99 in enumerate(frame_p99 or []):
        writer.add_scalar(FRAME_P99, p99, start + 100 * (i + 1))
    writer.close()
    return folder


def test_rising_returns_pass_and_flat_ones_fail(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    _write_run(tmp_path / "rising" / "tensorboard" / "train_1", list(np.linspace(0, 10, 200) + rng.normal(0, 2, 200)))
    verdict = assert_training(tmp_path / "rising", improving=True, min_reward=5.0)
    assert verdict.passed and verdict.details["improvement"]["p"] < 1e-6
    assert "one-sided Mann-Whitney U" in verdict.message

    flat = _write_run(tmp_path / "flat" / "tensorboard" / "train_1", list(rng.normal(5, 2, 200)))
    with pytest.raises(VerdictFailure, match=r"(?s)episode return improves.*FAIL"):
        assert_training(flat, improving=True)
    with pytest.raises(VerdictFailure, match=r"final rollout/ep_rew_mean.*>= 9.*FAIL"):
        assert_training(flat, min_reward=9.0)


def test_the_improvement_test_needs_windows_that_can_decide() -> None:
    with pytest.raises(MissingMetricError, match="at least 4 episodes each"):
        improvement_test(np.arange(12.0), window=0.25, alpha=0.05)  # windows of 3: p >= 1/20 always
    assert improvement_test(np.arange(16.0), window=0.25)["improving"]  # windows of 4: p = 1/70
    assert improvement_test(np.arange(16.0), window=4)["p"] == pytest.approx(1 / 70)  # exact: 1 / C(8, 4)
    with pytest.raises(MissingMetricError, match="at least 5 episodes each"):
        improvement_test(np.arange(16.0), window=4, alpha=0.01)
    assert not improvement_test(np.ones(40))["improving"]  # all tied: no evidence
    with pytest.raises(VerdictUsageError, match="window"):
        improvement_test(np.arange(40.0), window=0.8)


def test_frame_budget_is_judged_per_training_window(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "run", [1.0] * 20, frame_p99=[4.0, 5.0, 16.0, 5.0])
    assert assert_training(run, frame_p99_ms=20.0).passed
    with pytest.raises(VerdictFailure, match=r"worst 16 ms \(window ending at timestep 300\); 1 of 4 windows over"):
        assert_training(run, frame_p99_ms=10.0)
    no_frames = _write_run(tmp_path / "no_frames", [1.0] * 20)
    with pytest.raises(MissingMetricError, match="reported no numeric info\\['frame_ms'\\] during training"):
        assert_training(no_frames, frame_p99_ms=10.0)


def test_a_resumed_run_drops_what_the_interrupted_stretch_logged(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write_run(run, [0.0] * 30)  # the interrupted run: steps 10..300
    import time

    time.sleep(0.05)  # a later event file
    _write_run(run, [1.0] * 30, resumed_from=100)  # resumed from the checkpoint at 100
    returns = read_training_events(run).values(EPISODE_RETURN)
    assert returns.tolist() == [0.0] * 10 + [1.0] * 30


def test_asking_for_nothing_or_for_a_loaded_agent_is_an_error(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "run", [1.0] * 20)
    with pytest.raises(VerdictUsageError, match="needs a criterion"):
        assert_training(run)
    from pytest_rlplaytest.playtest import PlaytestResult

    loaded = PlaytestResult(episodes=[], training={"timesteps": 0, "model": "agents/cart.zip"})
    with pytest.raises(VerdictUsageError, match="was not trained in this test"):
        assert_training(loaded, min_reward=1.0)
    with pytest.raises(VerdictUsageError, match="holds no training run"):
        assert_training(tmp_path, min_reward=1.0)


TRAINING_TESTS = f"""
import pytest
from pytest_rlplaytest import assert_training

@pytest.mark.rl_scenario(env="Coin-v1", timesteps=768, episodes=10, algo_kwargs={FAST_PPO})
def test_coin_training_improves(rl_playtest):
    result = rl_playtest()
    assert_training(result, improving=True, min_reward=2.5, frame_p99_ms=5.0)

@pytest.mark.rl_scenario(env="Fading-v0", timesteps=768, episodes=10, algo_kwargs={FAST_PPO})
def test_fading_training_does_not_improve(rl_playtest):
    assert_training(rl_playtest(), improving=True)
"""


def test_assert_training_in_a_test_and_check_training_on_the_folder(nightly_games: pytest.Pytester,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    nightly_games.makepyfile(test_training=TRAINING_TESTS)
    art = nightly_games.path / "art"
    result = nightly_games.runpytest(f"--rl-artifacts={art}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_fading_training_does_not_improve*", "*VerdictFailure: training does not meet*",
                                 "*episode return improves*FAIL*"])

    good = art / "test_training.py__test_coin_training_improves"
    bad = art / "test_training.py__test_fading_training_does_not_improve"
    assert json.loads((good / "training.json").read_text())["tensorboard_run"] == "tensorboard/train_1"
    capsys.readouterr()
    assert main(["check-training", str(good), "--improving", "--min-reward", "2.5", "--frame-p99-ms", "5"]) == 0
    assert "episode return improves" in capsys.readouterr().out
    assert main(["check-training", str(bad), "--improving"]) == 1
    assert main(["check-training", str(art), "--improving"]) == 1  # every test folder under the run
    out = capsys.readouterr().out
    assert f"FAIL {bad}" in out and f"ok   {good}" in out and "1 of 2 training run(s) meet the criteria" in out
    assert main(["check-training", str(good), "--frame-p99-ms", "1.5"]) == 1  # Coin reports 2 ms frames
    assert main(["check-training", str(good)]) == 2  # no criterion
    assert main(["check-training", str(nightly_games.path / "nothing")]) == 2
