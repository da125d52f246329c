"""Fixtures for the verdicts tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from form_games import AGENTS, write_agent
from verdict_helpers import build_result, counts_result

from pytest_rlplaytest.playtest import PlaytestResult


@pytest.fixture
def make_result() -> Callable[..., PlaytestResult]:
    return build_result


@pytest.fixture
def make_counts() -> Callable[..., PlaytestResult]:
    return counts_result


@pytest.fixture(autouse=True)
def _default_verdict_config() -> Iterator[None]:
    """Unit tests see the documented defaults, whatever --rl-* flags the outer run was given."""
    from pytest_rlplaytest.verdicts import config

    token = config.configure()
    yield
    config.restore(token)


FORM_GAMES = Path(__file__).with_name("form_games.py")


@pytest.fixture(scope="session")
def form_agents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """good.zip, bad.zip and right.zip (see form_games.write_agent), made once per session."""
    folder = tmp_path_factory.mktemp("form-agents")
    for kind in AGENTS:
        write_agent(folder / f"{kind}.zip", kind)
    return folder


@pytest.fixture
def form_project(pytester: pytest.Pytester, form_agents: Path) -> pytest.Pytester:
    """A pytester folder holding form_games.py and the three agents, for the verdict mutation suite."""
    shutil.copy(FORM_GAMES, pytester.path / "form_games.py")
    for agent in sorted(form_agents.glob("*.zip")):
        shutil.copy(agent, pytester.path / agent.name)
    pytester.syspathinsert()
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return pytester
