"""pytest-rlplaytest: playtest games with reinforcement-learning agents, from pytest.

Write a scenario test::

    @pytest.mark.rl_scenario(env="CartPole-v1", algo="PPO", timesteps=20_000, episodes=30,
                             success=lambda ep: ep.length >= 195)
    def test_cartpole_balances(rl_playtest):
        rl_playtest(at_least=0.8)   # the call is the verdict: fails unless the rate is shown >= 0.8

The public API is importable from here; heavy libraries (torch, SB3) load only when a name is first
used. Type checkers see every public name through the ``TYPE_CHECKING`` imports below, so
``mypy --strict`` checks code that uses them; the fixtures' return types (``Playtest``, ``BugHunt``,
``ReplayReport``, ``BaselineCheck``, ...) are here to annotate tests with, and the exceptions and
warnings (all under :class:`RLPlaytestError` / :class:`RLPlaytestWarning`) to catch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it (imported on first use)
_LAZY = {
    # errors and warnings
    "RLPlaytestError": "pytest_rlplaytest.errors",
    "RLPlaytestWarning": "pytest_rlplaytest.errors",
    "SettingError": "pytest_rlplaytest.settings",
    "ScenarioError": "pytest_rlplaytest.scenario",
    "EngineError": "pytest_rlplaytest.engines.base",
    "EngineUnavailable": "pytest_rlplaytest.engines.base",
    "VerdictFailure": "pytest_rlplaytest.verdicts",
    "AgentError": "pytest_rlplaytest.agents",
    "BundleError": "pytest_rlplaytest.bughunt.bundle",
    "AgentCacheMiss": "pytest_rlplaytest.agents.cache",
    "StaleAgentWarning": "pytest_rlplaytest.agents.cache",
    # what the fixtures give
    "Settings": "pytest_rlplaytest.settings",
    "ScenarioSpec": "pytest_rlplaytest.scenario",
    "Playtest": "pytest_rlplaytest.plugin",
    "BugHunt": "pytest_rlplaytest.plugin",
    "PlaytestResult": "pytest_rlplaytest.playtest",
    "Episode": "pytest_rlplaytest.playtest",
    "HuntResult": "pytest_rlplaytest.bughunt.session",
    "ReplayReport": "pytest_rlplaytest.bughunt.session",
    "BaselineCheck": "pytest_rlplaytest.verdicts",
    "Engine": "pytest_rlplaytest.engines.base",
    "GodotGame": "pytest_rlplaytest.engines.godot",
    # functions
    "run_playtest": "pytest_rlplaytest.playtest",
    "OnnxAgent": "pytest_rlplaytest.agents",
    "export_onnx": "pytest_rlplaytest.agents",
    "load_agent": "pytest_rlplaytest.agents",
    "train_agent": "pytest_rlplaytest.agents",
    "assert_success_rate": "pytest_rlplaytest.verdicts",
    "assert_matches_baseline": "pytest_rlplaytest.verdicts",
    "assert_frame_budget": "pytest_rlplaytest.verdicts",
    "assert_no_growth": "pytest_rlplaytest.verdicts",
    "assert_training": "pytest_rlplaytest.verdicts",
    "sequential_stopper": "pytest_rlplaytest.verdicts",
    "assert_deterministic": "pytest_rlplaytest.verdicts",
    "DeterminismFailure": "pytest_rlplaytest.verdicts",
    "SmokeCheck": "pytest_rlplaytest.smoke",
    "SmokeReport": "pytest_rlplaytest.smoke",
    "SmokeFailure": "pytest_rlplaytest.smoke",
}

if TYPE_CHECKING:  # the same names, for type checkers (tests/plugin/test_public_api.py keeps them in step)
    from pytest_rlplaytest.agents import AgentError as AgentError
    from pytest_rlplaytest.agents import OnnxAgent as OnnxAgent
    from pytest_rlplaytest.agents import export_onnx as export_onnx
    from pytest_rlplaytest.agents import load_agent as load_agent
    from pytest_rlplaytest.agents import train_agent as train_agent
    from pytest_rlplaytest.agents.cache import AgentCacheMiss as AgentCacheMiss
    from pytest_rlplaytest.agents.cache import StaleAgentWarning as StaleAgentWarning
    from pytest_rlplaytest.bughunt.bundle import BundleError as BundleError
    from pytest_rlplaytest.bughunt.session import HuntResult as HuntResult
    from pytest_rlplaytest.bughunt.session import ReplayReport as ReplayReport
    from pytest_rlplaytest.engines.base import Engine as Engine
    from pytest_rlplaytest.engines.base import EngineError as EngineError
    from pytest_rlplaytest.engines.base import EngineUnavailable as EngineUnavailable
    from pytest_rlplaytest.engines.godot import GodotGame as GodotGame
    from pytest_rlplaytest.errors import RLPlaytestError as RLPlaytestError
    from pytest_rlplaytest.errors import RLPlaytestWarning as RLPlaytestWarning
    from pytest_rlplaytest.playtest import Episode as Episode
    from pytest_rlplaytest.playtest import PlaytestResult as PlaytestResult
    from pytest_rlplaytest.playtest import run_playtest as run_playtest
    from pytest_rlplaytest.plugin import BugHunt as BugHunt
    from pytest_rlplaytest.plugin import Playtest as Playtest
    from pytest_rlplaytest.scenario import ScenarioError as ScenarioError
    from pytest_rlplaytest.scenario import ScenarioSpec as ScenarioSpec
    from pytest_rlplaytest.settings import SettingError as SettingError
    from pytest_rlplaytest.settings import Settings as Settings
    from pytest_rlplaytest.smoke import SmokeCheck as SmokeCheck
    from pytest_rlplaytest.smoke import SmokeFailure as SmokeFailure
    from pytest_rlplaytest.smoke import SmokeReport as SmokeReport
    from pytest_rlplaytest.verdicts import BaselineCheck as BaselineCheck
    from pytest_rlplaytest.verdicts import DeterminismFailure as DeterminismFailure
    from pytest_rlplaytest.verdicts import VerdictFailure as VerdictFailure
    from pytest_rlplaytest.verdicts import assert_deterministic as assert_deterministic
    from pytest_rlplaytest.verdicts import assert_frame_budget as assert_frame_budget
    from pytest_rlplaytest.verdicts import assert_matches_baseline as assert_matches_baseline
    from pytest_rlplaytest.verdicts import assert_no_growth as assert_no_growth
    from pytest_rlplaytest.verdicts import assert_success_rate as assert_success_rate
    from pytest_rlplaytest.verdicts import assert_training as assert_training
    from pytest_rlplaytest.verdicts import sequential_stopper as sequential_stopper


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_rlplaytest' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "AgentCacheMiss",
    "AgentError",
    "BaselineCheck",
    "BugHunt",
    "BundleError",
    "DeterminismFailure",
    "Engine",
    "EngineError",
    "EngineUnavailable",
    "Episode",
    "GodotGame",
    "HuntResult",
    "OnnxAgent",
    "Playtest",
    "PlaytestResult",
    "RLPlaytestError",
    "RLPlaytestWarning",
    "ReplayReport",
    "ScenarioError",
    "ScenarioSpec",
    "SettingError",
    "Settings",
    "SmokeCheck",
    "SmokeFailure",
    "SmokeReport",
    "StaleAgentWarning",
    "VerdictFailure",
    "__version__",
    "assert_deterministic",
    "assert_frame_budget",
    "assert_matches_baseline",
    "assert_no_growth",
    "assert_success_rate",
    "assert_training",
    "export_onnx",
    "load_agent",
    "run_playtest",
    "sequential_stopper",
    "train_agent",
]
