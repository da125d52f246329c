"""Godot example game, locomotion scene: a walker must reach a waypoint without touching anything.

Success (``info["is_success"]``): within 1 m of the waypoint before the 400-step time limit, with
no collision (touching a pillar or wall ends the episode). 16 walkers share one arena.

* ``test_committed_walker_reaches_waypoints`` (CI): the committed agent
  ``godot/models/locomotion_ppo.zip``; 112 episodes and ``at_least=0.75`` from
  ``plan_episodes(0.75, 0.9, alpha=0.05, power=0.99)`` = 98 (rounded up to 7 per agent), so an
  agent at 0.9 passes 99% of the time; compared with its stored baseline too.
* ``test_locomotion_training_pipeline`` (CI smoke): trains for the budget and checks the pipeline.
* ``test_locomotion_from_scratch`` (nightly): PPO from scratch, 300k timesteps, must reach 90%.
"""

from __future__ import annotations

import pytest

from pytest_rlplaytest import assert_success_rate

LOCOMOTION = dict(env="godot:../godot", scene="res://scenes/locomotion.tscn", agents=16, kind="locomotion")
PPO_KWARGS = dict(n_steps=256, batch_size=512, n_epochs=10, learning_rate=3e-4, gamma=0.99, ent_coef=0.0)
NET = dict(net_arch=[64, 64])

pytestmark = pytest.mark.needs_godot


@pytest.mark.rl_scenario(**LOCOMOTION, model="../godot/models/locomotion_ppo.zip", episodes=112)
def test_committed_walker_reaches_waypoints(rl_playtest, rl_baseline):
    result = rl_playtest()
    assert_success_rate(result, at_least=0.75)
    rl_baseline.check(result, tolerances=["return:10%"])


@pytest.mark.rl_scenario(**LOCOMOTION, algo="PPO", timesteps=20_000, episodes=16, policy_kwargs=NET)
def test_locomotion_training_pipeline(rl_playtest):
    result = rl_playtest()
    assert result.timesteps > 0 and result.train_seconds > 0
    assert result.n_episodes == 16
    assert "frame_ms" in result.metric_names
    assert all(len(e.positions) == e.length for e in result.episodes)
    for e in result.episodes:  # a success is exactly a reached waypoint; a collision is never one
        assert bool(e.success) == (e.events.get("waypoint_reached", 0) == 1), e
        assert not (e.success and e.events.get("collided", 0)), e


@pytest.mark.long_training
@pytest.mark.rl_scenario(**LOCOMOTION, algo="PPO", timesteps=300_000, episodes=160, n_envs=16,
                         algo_kwargs=PPO_KWARGS, policy_kwargs=NET)
def test_locomotion_from_scratch(rl_playtest):
    result = rl_playtest()
    assert result.timesteps <= 300_000  # the budget is a cap: whole rollouts that fit it
    assert_success_rate(result, at_least=0.9)
