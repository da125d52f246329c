"""Playtests of the Blackholio example module on a real SpacetimeDB server.

These need the ``spacetime`` CLI: the plugin starts a local server with an isolated root, publishes
``example_project/spacetimedb/blackholio`` and connects one WebSocket per agent. Without the CLI they
skip with an install hint (or fail under ``--rl-require-engines``).

Run: ``pytest example_project/spacetimedb/tests`` (with ``spacetime`` on PATH or ``--spacetime-bin``).
"""

from __future__ import annotations

import pytest

MODULE = "spacetimedb:../blackholio"  # relative to this file's folder (the path rule)

pytestmark = pytest.mark.needs_spacetime


def grew(episode) -> bool:  # type: ignore[no-untyped-def]
    """An episode succeeds when the agent ends it heavier than it started (15)."""
    return float(episode.final_info.get("mass", 0.0)) > 15.0


@pytest.mark.rl_scenario(env=MODULE, agents=4, max_episode_steps=200, timesteps=40_000, episodes=12,
                         success=grew, policy_kwargs={"net_arch": [64, 64]})
def test_agents_learn_to_gain_mass(rl_playtest) -> None:  # type: ignore[no-untyped-def]
    """Four agents share one database and learn to steer towards food."""
    result = rl_playtest()
    # reward = mass gained / 10 per step, -1 when eaten: > 1.0 means > 10 mass per 200-step episode
    assert result.returns.mean() > 1.0, result.summary()
    assert result.success_rate >= 0.75, result.summary()


@pytest.mark.rl_scenario(env=MODULE, agents=2, model="../models/blackholio_ppo.zip", max_episode_steps=200,
                         episodes=8, success=grew)
def test_committed_model_still_gains_mass(rl_playtest) -> None:  # type: ignore[no-untyped-def]
    """Regression: the committed agent must keep growing on the current module.

    The model was trained against the Python twin of this module's rules (the test double in
    tests/spacetimedb, see train_committed_model.py) because no SpacetimeDB server runs on the
    machines that produced it; its observation/action spaces are the Blackholio mapping's.
    """
    result = rl_playtest()
    assert result.success_rate >= 0.75, result.summary()


@pytest.mark.long_training
@pytest.mark.rl_scenario(env=MODULE, roles={"grower": 2, "cautious": {"agents": 2, "mapping": "blackholio_cautious"}},
                         max_episode_steps=200, timesteps=40_000, episodes=12, success=grew,
                         policy_kwargs={"net_arch": [64, 64]})
def test_competing_roles_each_learn(rl_playtest) -> None:  # type: ignore[no-untyped-def]
    """Several competing agents: two growers and two cautious agents (five times the penalty for being
    eaten) in one database, one policy per role, each judged on its own."""
    result = rl_playtest()
    for name in ("grower", "cautious"):
        assert result.policies[name].success_rate >= 0.5, result.policies[name].summary()
