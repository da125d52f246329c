"""rl_scenario(self_play=...) and the rl_selfplay fixture, through pytester, on a tiny two-seat game."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

TWO_SEAT = Path(__file__).resolve().parents[1] / "two_seat.py"

GAME = '''
import numpy as np
from two_seat import Match, Seat

CREATED = [0]


MATCHES = []


def two_seat():
    """Envs in creation order: 2k seat A, 2k+1 seat B of the same match."""
    k = CREATED[0]
    CREATED[0] += 1
    if k % 2 == 0:
        MATCHES.append(Match())
    return Seat(MATCHES[-1], "A" if k % 2 == 0 else "B", seat_in_obs=False, report_success=False)


def const(value):
    def act(obs, episode_start):
        return np.full(len(episode_start), value, dtype=np.int64)
    return act
'''

TEST = '''
import json
import pytest
from duelgame import two_seat, const

SP = dict(snapshot_every=64, mix={"latest": 1.0, "past": 1.0, "zero": 1.0},
          opponents={"zero": const(0), "two": const(2)})


@pytest.mark.rl_scenario(env=two_seat, n_envs=4, timesteps=256, episodes=40, self_play=SP,
                         algo_kwargs=dict(n_steps=32, batch_size=32, n_epochs=1))
def test_trained_by_self_play(rl_selfplay, rl_artifacts):
    pool = json.loads((rl_artifacts / "pool" / "pool.json").read_text())
    print("SNAPSHOTS", [s["timestep"] for s in pool["snapshots"]], sorted(pool["episodes_drawn"])[:2])
    print("OPPONENT", rl_selfplay.opponent("pool").__class__.__name__)
    ratings = rl_selfplay.ratings(games=8, snapshots=["snapshot_64"])
    print("PLAYERS", sorted(r.player for r in ratings))
    rl_selfplay.win_rate("two", at_least=0.5, games=40)  # nobody beats 2: at best a draw
'''

BAD = '''
import pytest
from duelgame import two_seat


@pytest.mark.rl_scenario(env=two_seat, n_envs=4, self_play=dict(snapshot_every=64, mix={"lates": 1.0}))
def test_bad(rl_selfplay):
    pass
'''


@pytest.fixture
def duel_project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(TWO_SEAT, pytester.path / "two_seat.py")
    pytester.makepyfile(duelgame=GAME)
    pytester.syspathinsert()
    return pytester


def test_self_play_marker_trains_fills_the_pool_and_judges_win_rates(duel_project: pytest.Pytester) -> None:
    duel_project.makepyfile(test_sp=TEST)
    result = duel_project.runpytest("-s", "--rl-artifacts=art", "--junitxml=r.xml")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "SNAPSHOTS [64, 128, 192, 256] ['latest', 'snapshot_" in out  # 'past' drew from the pool
    assert "OPPONENT SelfPlayOpponents" in out
    assert "PLAYERS ['agent', 'snapshot_64', 'two', 'zero']" in out
    assert "win rate against 'two' 0.000 (0/40 episodes) is below the threshold 0.5" in out
    ratings = json.loads((duel_project.path / "art" / "test_sp.py__test_trained_by_self_play" / "ratings.json")
                         .read_text())
    assert ratings["method"] == "bradley-terry-mle" and ratings["ratings"][0]["player"] == "two"
    assert "rl_win_rate_two" in (duel_project.path / "r.xml").read_text()


def test_self_play_marker_names_a_bad_mix(duel_project: pytest.Pytester) -> None:
    duel_project.makepyfile(test_bad=BAD)
    result = duel_project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*rl_scenario(self_play=*mix names 'lates', which is no opponent; use 'latest', "
                                 "'past' or a name in opponents (none given)*"])
