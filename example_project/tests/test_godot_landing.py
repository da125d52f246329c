"""Godot example game, landing scene: a rigid-body lander must touch down on its pad.

Success (the game's ``info["is_success"]``): touchdown within 2 m of the pad centre at under 2 m/s;
a crash ends the episode. 16 landers fly in one Godot instance (one lane each).

* ``test_committed_lander_lands`` (CI): the committed agent ``godot/models/landing_ppo.zip``
  must land. Threshold and episodes come from ``plan_episodes(0.75, 0.9, alpha=0.05, power=0.99)``
  = 98, rounded up to 112 (7 per agent): an agent whose true rate is 0.9 passes 99% of the time,
  one at 0.75 at most 5%. The committed agent lands in 100% of evaluation episodes, so the test
  passes reliably; it is also compared with its stored baseline (success counts by Fisher's exact
  test, mean return within 10%).
* ``test_landing_training_pipeline`` (CI smoke): trains for the budget (``--rl-timesteps=1000``)
  and checks the pipeline (episodes played, telemetry, positions), not the agent's quality.
* ``test_landing_from_scratch`` (nightly, ``-m long_training``): trains PPO from scratch for
  300k timesteps and must reach a 90% success rate. The committed model is this test's
  ``model.zip`` (see ``godot/models/README.md``).
"""

from __future__ import annotations

import pytest

from pytest_rlplaytest import assert_success_rate

LANDING = dict(env="godot:../godot", scene="res://scenes/landing.tscn", agents=16, kind="landing")
#: PPO for the lander: 16 agents x 256 steps per rollout, small [64, 64] networks
PPO_KWARGS = dict(n_steps=256, batch_size=512, n_epochs=10, learning_rate=3e-4, gamma=0.99, ent_coef=0.0)
NET = dict(net_arch=[64, 64])

pytestmark = pytest.mark.needs_godot


@pytest.mark.rl_scenario(**LANDING, model="../godot/models/landing_ppo.zip", episodes=112)
def test_committed_lander_lands(rl_playtest, rl_baseline):
    result = rl_playtest()
    assert_success_rate(result, at_least=0.75)
    rl_baseline.check(result, tolerances=["return:10%"])


@pytest.mark.rl_scenario(**LANDING, algo="PPO", timesteps=20_000, episodes=16, policy_kwargs=NET)
def test_landing_training_pipeline(rl_playtest):
    result = rl_playtest()
    assert result.timesteps > 0 and result.train_seconds > 0
    assert result.n_episodes == 16
    assert "frame_ms" in result.metric_names and "speed" in result.metric_names
    assert all(len(e.positions) == e.length for e in result.episodes)
    # every episode ends by touchdown (landed / crashed) or by the 600-step time limit
    for e in result.episodes:
        assert e.truncated or e.events.get("landed", 0) + e.events.get("crashed", 0) == 1, e


@pytest.mark.long_training
@pytest.mark.rl_scenario(**LANDING, algo="PPO", timesteps=300_000, episodes=160, n_envs=16,
                         algo_kwargs=PPO_KWARGS, policy_kwargs=NET)
def test_landing_from_scratch(rl_playtest):
    result = rl_playtest()
    assert result.timesteps <= 300_000  # the budget is a cap: whole rollouts that fit it
    assert_success_rate(result, at_least=0.9)
