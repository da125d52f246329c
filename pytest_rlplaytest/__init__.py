"""pytest-rlplaytest: playtest games with reinforcement-learning agents, from pytest.

Write a scenario test::

    @pytest.mark.rl_scenario(env="CartPole-v1", algo="PPO", timesteps=20_000, episodes=30,
                             success=lambda ep: ep.length >= 195)
    def test_cartpole_balances(rl_playtest):
        result = rl_playtest()
        assert result.success_rate >= 0.8

The public API is importable from here; heavy libraries (torch, SB3) load only when needed.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "PlaytestResult": "pytest_rlplaytest.playtest",
    "Episode": "pytest_rlplaytest.playtest",
    "run_playtest": "pytest_rlplaytest.playtest",
    "ScenarioSpec": "pytest_rlplaytest.scenario",
    "ScenarioError": "pytest_rlplaytest.scenario",
    "OnnxAgent": "pytest_rlplaytest.agents",
    "export_onnx": "pytest_rlplaytest.agents",
    "load_agent": "pytest_rlplaytest.agents",
    "train_agent": "pytest_rlplaytest.agents",
    "assert_success_rate": "pytest_rlplaytest.verdicts",
    "assert_matches_baseline": "pytest_rlplaytest.verdicts",
    "assert_frame_budget": "pytest_rlplaytest.verdicts",
    "sequential_stopper": "pytest_rlplaytest.verdicts",
    "GodotGame": "pytest_rlplaytest.engines.godot",
    "Engine": "pytest_rlplaytest.engines.base",
    "EngineError": "pytest_rlplaytest.engines.base",
    "EngineUnavailable": "pytest_rlplaytest.engines.base",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_rlplaytest' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = ["__version__", *_LAZY]
