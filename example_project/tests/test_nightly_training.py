"""The nightly's view of training itself (``pytest -m long_training``): hyperparameters from an
rl-zoo3 style file, normalised observations, and a verdict on the training curve.

Run nightly with ``--rl-agent-cache DIR`` to keep the trained agent for CI (``model="cache:"``), and
``--rl-resume`` to continue a run that was stopped; ``rlplaytest check-training .rlplaytest
--improving`` judges the run's folder again later.
"""

from __future__ import annotations

import pytest
from games.corridor import Corridor

from pytest_rlplaytest import assert_success_rate, assert_training


@pytest.mark.long_training
@pytest.mark.rl_scenario(env=Corridor, algo_kwargs="hyperparams/ppo.yml:Corridor", episodes=60)
def test_corridor_training_improves_and_exits(rl_playtest):
    result = rl_playtest()
    assert_training(result, improving=True, min_reward=1.0, min_success=0.9)
    assert_success_rate(result, at_least=0.9)
