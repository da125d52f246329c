"""Self-play (agents/selfplay.py) on a tiny two-seat game: mix, opponents, matches, verdict, ratings, pool."""

from __future__ import annotations

import json

import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv
from two_seat import Match, Seat

from pytest_rlplaytest.agents.selfplay import (
    OpponentMix,
    SelfPlayError,
    SelfPlayOpponents,
    assert_win_rate,
    match_counts,
    play_match,
    rating_table,
    round_robin,
    seats,
    self_play_view,
)
from pytest_rlplaytest.errors import RLPlaytestError
from pytest_rlplaytest.verdicts import VerdictFailure


def duel(matches: int = 2) -> DummyVecEnv:
    fns = []
    for _ in range(matches):
        m = Match()
        fns += [lambda m=m: Seat(m, "A"), lambda m=m: Seat(m, "B")]
    return DummyVecEnv(fns)


def const(value: int):  # type: ignore[no-untyped-def]
    def act(obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
        return np.full(len(episode_start), value, dtype=np.int64)
    return act


def test_seats_interleave_and_need_pairs() -> None:
    assert seats(4) == ([0, 2], [1, 3])
    with pytest.raises(SelfPlayError, match="even number of agents"):
        seats(3)


@pytest.mark.parametrize("weights, message", [
    ({"lates": 1.0}, "'lates', which is no opponent; use 'latest', 'past' or a scripted opponent's name \\(axis\\)"),
    ({"latest": -1.0}, "weights must be numbers >= 0"),
    ({"latest": 0.0}, "no positive weight"),
])
def test_mix_rejects_bad_weights_naming_the_fix(weights, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SelfPlayError, match=message) as info:
        OpponentMix.parse(weights, {"axis": const(0)})
    assert isinstance(info.value, RLPlaytestError)


def test_opponents_redraw_only_on_episode_start_and_are_seeded() -> None:
    scripted = {"zero": const(0), "two": const(2)}
    mix = OpponentMix.parse({"zero": 1.0, "two": 1.0}, scripted)
    runs = []
    for _ in range(2):
        opp = SelfPlayOpponents(mix, None, scripted, seed=7)
        actions = [opp(np.zeros((8, 2)), np.ones(8, bool))]
        actions.append(opp(np.zeros((8, 2)), np.zeros(8, bool)))  # mid-episode: same opponents
        assert np.array_equal(actions[0], actions[1])
        starts = np.zeros(8, bool)
        starts[3] = True
        actions.append(opp(np.zeros((8, 2)), starts))  # only seat 3 may change
        assert np.array_equal(np.delete(actions[2], 3), np.delete(actions[0], 3))
        assert sum(opp.drawn.values()) == 9
        runs.append(np.concatenate(actions))
    assert np.array_equal(runs[0], runs[1])
    assert set(runs[0].tolist()) == {0, 2}  # both opponents were drawn


def test_match_counts_wins_and_the_win_rate_verdict() -> None:
    venv = duel(4)
    result = play_match(venv, const(2), const(1), 40, seed=3)
    assert result.n_episodes == 40 and match_counts(result) == (40, 0, 0)
    verdict = assert_win_rate(result, at_least=0.8, against="ones")
    assert verdict.passed and "win rate against 'ones'" in verdict.title
    draws = play_match(venv, const(1), const(1), 40, seed=3)
    assert match_counts(draws) == (0, 0, 40)
    with pytest.raises(VerdictFailure, match=r"win rate against 'ones'.*is below"):
        assert_win_rate(draws, at_least=0.5, against="ones")


def test_ratings_order_players_and_stay_finite() -> None:
    results = round_robin(duel(2), {"two": const(2), "one": const(1), "zero": const(0)}, 20, seed=1)
    assert results[("two", "one")] == (20, 0, 0) and results[("one", "zero")] == (20, 0, 0)
    ratings = rating_table(results, anchor="zero")
    assert [r.player for r in ratings] == ["two", "one", "zero"]
    assert ratings[2].elo == pytest.approx(1000.0)
    assert all(np.isfinite(r.elo) for r in ratings) and ratings[0].score == 1.0
    even = rating_table({("a", "b"): (10, 10, 0)})
    assert even[0].elo == pytest.approx(even[1].elo, abs=1e-3)


def test_self_play_training_fills_the_pool(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from stable_baselines3 import PPO

    venv = duel(2)
    view, callback = self_play_view(venv, tmp_path / "pool", snapshot_every=64,
                                    mix={"latest": 1.0, "past": 1.0, "zero": 1.0}, scripted={"zero": const(0)}, seed=5)
    model = PPO("MlpPolicy", view, n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(256, callback=callback)
    record = json.loads((tmp_path / "pool" / "pool.json").read_text())
    assert [s["timestep"] for s in record["snapshots"]] == [64, 128, 192, 256]
    assert all((tmp_path / "pool" / s["file"]).is_file() and "/" not in s["file"] for s in record["snapshots"])
    assert record["mix"] == {"latest": 1.0, "past": 1.0, "zero": 1.0}
    drawn = record["episodes_drawn"]
    assert drawn.get("zero", 0) > 0 and drawn.get("latest", 0) > 0
    assert any(name.startswith("snapshot_") for name in drawn)  # 'past' drew from the pool once it had snapshots
    assert callback.pool.load("snapshot_64").num_timesteps == 64
