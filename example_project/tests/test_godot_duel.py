"""Godot example game, duel scene: a two-player race to the coin, trained by self-play.

``duel.tscn`` holds matches of two seats (agent 2k = seat A, 2k+1 = seat B); both seats share one
policy and see the game ego-centrically (coin and opponent relative to themselves), so one policy
plays either seat. The winner is reported at each episode's end (``info["winner"]``, ``info["seat"]``,
``info["is_success"]``); a draw (both on the coin in the same frame, or the 90-step limit) is no win.

Scripted opponents (callables ``(obs, episode_start) -> actions``, obs as the agent sees it):

* ``axis``: runs along x until it is level with the coin, then along y (the baseline);
* ``straight``: runs straight at the coin (the best single-player line: an agent can only tie it).

* ``test_committed_duelist_beats_axis`` (CI): the committed agent ``godot/models/duel_ppo.zip``
  plays seat A against ``axis`` for 384 games and must win more than half of them (one-sided exact
  binomial test, alpha 0.05; the 95% Clopper-Pearson interval is shown).
* ``test_scripted_straight_beats_axis`` (CI): the baseline is beatable: ``straight`` against ``axis``
  wins more than half of 384 games, and the two-player rating fit ranks it above.
* ``test_duel_self_play_from_scratch`` (nightly, ``-m long_training``): trains PPO by self-play
  (snapshots every 16,384 steps into the pool; opponents drawn per episode: latest 0.4, past 0.4,
  axis 0.2), then must beat ``axis`` likewise and win more than half its games against the pool
  (each game's opponent a uniformly drawn snapshot), and writes the pool (``pool/pool.json``) and an
  Elo-style rating table over the pool, the learner and the scripted opponents (``ratings.json``).
  The committed model is this test's ``model.zip``.
"""

from __future__ import annotations

import numpy as np
import pytest

from pytest_rlplaytest.agents.selfplay import (
    assert_win_rate,
    match_counts,
    play_match,
    rating_table,
    write_ratings,
)

DUEL = dict(env="godot:../godot", scene="res://scenes/duel.tscn", agents=32, kind="custom")
PPO_KWARGS = dict(n_steps=128, batch_size=512, n_epochs=10, learning_rate=3e-4, gamma=0.99, ent_coef=0.0)
NET = dict(net_arch=[64, 64])

pytestmark = pytest.mark.needs_godot


def axis(obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
    """Along x until level with the coin (within 0.3 m), then along y: the scripted baseline."""
    dx, dy = obs[:, 0], obs[:, 1]
    level = np.abs(dx) * 8.0 < 0.3
    return np.stack([np.where(level, 0.0, np.sign(dx)), np.where(level, np.sign(dy), 0.0)], axis=1).astype(np.float32)


def straight(obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
    """Straight at the coin at full speed."""
    d = obs[:, :2]
    return (d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6)).astype(np.float32)


SCRIPTED = {"axis": axis, "straight": straight}
#: self-play: the learner in seat A; a snapshot into the pool every 16,384 steps; each episode's opponent
#: drawn from the latest weights, a uniform past snapshot or the axis baseline
SELF_PLAY = dict(snapshot_every=16_384, mix={"latest": 0.4, "past": 0.4, "axis": 0.2}, opponents=SCRIPTED)


@pytest.mark.rl_scenario(**DUEL, model="../godot/models/duel_ppo.zip", self_play=SELF_PLAY)
def test_committed_duelist_beats_axis(rl_selfplay):
    result = rl_selfplay.match("axis", games=384)
    assert result.n_episodes == 384 and all(e.final_info["seat"] == "A" for e in result.episodes)
    print(rl_selfplay.win_rate("axis", at_least=0.5, games=384).message)


@pytest.mark.rl_scenario(**DUEL)
def test_scripted_straight_beats_axis(rl_env, rl_scenario, rl_artifacts, rl_property):
    """The baseline is beatable: running straight at the coin beats it, and the rating fit says so."""
    result = play_match(rl_env, straight, axis, 384, seed=rl_scenario.seed)
    wins, losses, draws = match_counts(result)
    assert wins + losses + draws == 384
    print(assert_win_rate(result, at_least=0.5, against="axis").message)
    ratings = rating_table({("straight", "axis"): (wins, losses, draws)}, anchor="axis")
    rl_property("rl_ratings_json", str(write_ratings(ratings, rl_artifacts)))
    assert [r.player for r in ratings] == ["straight", "axis"] and ratings[0].elo > 1000


@pytest.mark.long_training
@pytest.mark.rl_scenario(**DUEL, algo="PPO", timesteps=400_000, algo_kwargs=PPO_KWARGS, policy_kwargs=NET,
                         self_play=SELF_PLAY)
def test_duel_self_play_from_scratch(rl_selfplay, rl_artifacts):
    pool = rl_selfplay.pool
    assert (rl_artifacts / "pool" / "pool.json").is_file() and len(pool.names()) >= 3
    print(rl_selfplay.win_rate("axis", at_least=0.5, games=384).message)
    print(rl_selfplay.win_rate("pool", at_least=0.5, games=384).message)
    ratings = rl_selfplay.ratings(games=32, snapshots=pool.names()[::2])
    elo = {r.player: r.elo for r in ratings}
    assert elo["agent"] > elo["axis"] and elo["agent"] > elo[pool.names()[0]]  # above the baseline and its start
