"""Gymnasium scenarios of the example project: they run with nothing but Python installed.

* ``test_corridor_agent_learns_to_exit`` trains an agent (PPO) and asserts it learned the game;
  Corridor is small enough that even the CI smoke budget (``--rl-timesteps=1000``) suffices.
* ``test_stored_cartpole_agent_*`` load committed agents (SB3 .zip and its ONNX export) and assert
  their success rate with an exact binomial test.
* ``test_stored_corridor_agent_sequential`` lets the call decide: ``rl_playtest(sequential=True,
  at_least=0.8)`` fails the test unless Wald's SPRT accepts the agent.
* ``test_corridor_curriculum`` trains through a curriculum: a short corridor with shaped rewards,
  promoted by an exact binomial test, then a long one with sparse rewards, where the playtest runs.
* ``test_cartpole_from_scratch`` is the nightly job: it trains CartPole from scratch.
"""

from __future__ import annotations

import pytest
from games.corridor import Corridor

from pytest_rlplaytest import assert_success_rate


@pytest.mark.rl_scenario(env=Corridor, algo="PPO", timesteps=5_000, episodes=60)
def test_corridor_agent_learns_to_exit(rl_playtest):
    result = rl_playtest()
    assert_success_rate(result, at_least=0.9)
    assert result.summary()["mean_length"] <= 6  # the exits are 4 steps away: no dawdling


@pytest.mark.rl_scenario(env=Corridor, episodes=40, curriculum=[
    dict(name="short", timesteps=2_000, env_kwargs=dict(length=5, max_steps=12),
         promote=dict(at_least=0.8, confidence=0.95, episodes=20)),
    dict(name="long", timesteps=2_000, env_kwargs=dict(length=13, max_steps=30), reward="sparse"),
])
def test_corridor_curriculum(rl_playtest):
    result = rl_playtest(at_least=0.8)  # on the last stage's game: the long corridor, sparse rewards
    assert result.summary()["mean_length"] <= 8  # its exits are 6 steps away


def balanced(episode):
    """CartPole is won by lasting its 500 steps."""
    return episode.length >= 500


@pytest.mark.rl_scenario(env="CartPole-v1", model="../models/cartpole_ppo.zip", episodes=60, success=balanced)
def test_stored_cartpole_agent_balances(rl_playtest, rl_baseline):
    result = rl_playtest()
    assert_success_rate(result, at_least=0.9)
    rl_baseline.check(result, tolerances=["return:5%", "length.mean:5%"])


@pytest.mark.rl_scenario(env="CartPole-v1", model="../models/cartpole_ppo.onnx", episodes=60, success=balanced)
def test_stored_cartpole_agent_balances_in_onnx(rl_playtest, rl_baseline):
    result = rl_playtest()
    assert_success_rate(result, at_least=0.9)
    rl_baseline.check(result, tolerances=["return:5%"])


@pytest.mark.rl_scenario(env=Corridor, model="../models/corridor_a2c.zip", episodes=40, seed=3)
def test_stored_corridor_agent_sequential(rl_playtest):
    """A clearly good agent passes a sequential test (Wald's SPRT) with few episodes; the call is
    the verdict (it fails the test unless the SPRT accepts a rate of at least 0.8)."""
    result = rl_playtest(sequential=True, at_least=0.8)
    assert result.n_episodes < 40  # the SPRT decided before the cap


@pytest.mark.long_training
@pytest.mark.rl_scenario(env="CartPole-v1", algo="PPO", timesteps=120_000, episodes=60, n_envs=8,
                         success=balanced,
                         algo_kwargs=dict(n_steps=256, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                                          ent_coef=0.0, learning_rate=1e-3))
def test_cartpole_from_scratch(rl_playtest):
    assert_success_rate(rl_playtest(), at_least=0.8)
