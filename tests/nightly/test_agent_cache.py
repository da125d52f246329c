"""The agent cache: the nightly stores its trained agents (``--rl-agent-cache``); a CI test with
``model="cache:"`` uses the newest compatible one and says when it is stale (which identity key
changed) or when there is none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nightly_games import FAST_PPO

NIGHTLY = f"""
import pytest

@pytest.mark.long_training
@pytest.mark.rl_scenario(env="Coin-v1", timesteps=512, episodes=5, algo_kwargs={FAST_PPO})
def test_nightly_trains(rl_playtest):
    rl_playtest()
"""

CI = """
import pytest

@pytest.mark.rl_scenario(env="Coin-v1", model="cache:", episodes=20)
def test_todays_build_with_last_nights_agent(rl_playtest):
    rl_playtest(at_least=0.8)
"""


def _property(junit: Path, name: str) -> str:
    import xml.etree.ElementTree as ET

    (value,) = [p.get("value", "") for p in ET.parse(junit).getroot().iter("property") if p.get("name") == name]
    return value


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*/*/entry.json"))


def test_ci_uses_the_nightly_agent_and_says_when_it_is_stale(nightly_games: pytest.Pytester) -> None:
    nightly_games.makepyfile(test_nightly=NIGHTLY)
    cache = nightly_games.path / "cache"
    nightly_games.runpytest("--rl-long", "--rl-agent-cache=cache").assert_outcomes(passed=1)
    (entry_file,) = _entries(cache)
    entry = json.loads(entry_file.read_text())
    assert entry["identity"]["env"] == "Coin-v1" and entry["timesteps"] == 512
    assert (entry_file.parent / "agent.zip").is_file()
    assert entry["scenario"]["game"] == "Coin-v1" and str(nightly_games.path) not in entry_file.read_text()

    nightly_games.makepyfile(test_nightly="", test_ci=CI)
    fresh = nightly_games.runpytest("--rl-agent-cache=cache", "--junitxml=fresh.xml", "-W", "error::pytest_rlplaytest.errors.RLPlaytestWarning")
    fresh.assert_outcomes(passed=1)  # the cached agent plays (and passes the success-rate verdict)
    assert _property(nightly_games.path / "fresh.xml", "rl_agent_cache") == "fresh"
    assert not _entries(cache)[1:], "a test that loads an agent stores nothing"

    entry["identity"]["gymnasium"] = "0.29.1"  # last night's build had another Gymnasium
    entry_file.write_text(json.dumps(entry))
    stale = nightly_games.runpytest("--rl-agent-cache=cache", "--junitxml=stale.xml")
    stale.assert_outcomes(passed=1)
    stale.stdout.fnmatch_lines(["*StaleAgentWarning*model='cache:' uses the cached agent*stale, trained on another "
                                "build of the game: gymnasium: recorded '0.29.1', now *"])
    assert _property(nightly_games.path / "stale.xml", "rl_agent_cache").startswith(
        "stale: gymnasium: recorded '0.29.1', now ")


def test_no_cache_no_agent_and_another_scenario_say_so(nightly_games: pytest.Pytester) -> None:
    nightly_games.makepyfile(test_ci=CI)
    missing = nightly_games.runpytest()
    missing.assert_outcomes(errors=1)
    missing.stdout.fnmatch_lines(["*rl_scenario(model='cache:') needs --rl-agent-cache DIR*"])

    (nightly_games.path / "cache").mkdir()
    empty = nightly_games.runpytest("--rl-agent-cache=cache")
    empty.assert_outcomes(errors=1)
    empty.stdout.fnmatch_lines(["*there is no cached agent for this scenario*it holds agents for no game at all*"])

    nightly_games.makepyfile(test_nightly=NIGHTLY, test_ci="")
    nightly_games.runpytest("--rl-long", "--rl-agent-cache=cache").assert_outcomes(passed=1)
    nightly_games.makepyfile(test_nightly="", test_ci=CI.replace('model="cache:"', 'model="cache:", '
                                                                 'env_kwargs=dict(horizon=4)'))
    other = nightly_games.runpytest("--rl-agent-cache=cache")
    other.assert_outcomes(errors=1)
    other.stdout.fnmatch_lines(["*it holds agents for this game in another scenario (env_kwargs: cached {}, this "
                                "test {'horizon': 4})*"])


def test_an_agent_of_another_plugin_version_is_not_used(nightly_games: pytest.Pytester) -> None:
    nightly_games.makepyfile(test_nightly=NIGHTLY)
    nightly_games.runpytest("--rl-long", "--rl-agent-cache=cache").assert_outcomes(passed=1)
    (entry_file,) = _entries(nightly_games.path / "cache")
    entry_file.write_text(json.dumps({**json.loads(entry_file.read_text()), "plugin_version": "0.0.1"}))
    nightly_games.makepyfile(test_nightly="", test_ci=CI)
    result = nightly_games.runpytest("--rl-agent-cache=cache")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*none of the 1 cached agent(s)*is compatible: the newest was stored by "
                                 "pytest-rlplaytest 0.0.1, this is *"])


GODOT_NIGHTLY = """
import pytest

@pytest.mark.long_training
@pytest.mark.rl_scenario(env="godot:game", agents=2, timesteps=256, episodes=2, max_episode_steps=30,
                         algo_kwargs=dict(n_steps=64, n_epochs=1, batch_size=64))
def test_nightly_godot(rl_playtest):
    rl_playtest()
"""

GODOT_CI = """
import pytest

@pytest.mark.rl_scenario(env="godot:game", agents=2, model="cache:", episodes=2, max_episode_steps=30)
def test_ci_godot(rl_playtest):
    rl_playtest()
"""


@pytest.mark.needs_godot
def test_a_changed_godot_build_makes_the_cached_agent_stale(godot_game: pytest.Pytester) -> None:
    godot_game.makepyfile(test_nightly=GODOT_NIGHTLY)
    godot_game.runpytest("--rl-long", "--rl-agent-cache=cache").assert_outcomes(passed=1)
    godot_game.makepyfile(test_nightly="", test_ci=GODOT_CI)
    godot_game.runpytest("--rl-agent-cache=cache", "-W", "error::pytest_rlplaytest.errors.RLPlaytestWarning").assert_outcomes(passed=1)

    probe = godot_game.path / "game" / "probe_agent.gd"
    probe.write_text(probe.read_text() + "\n# today's build: a changed script\n")
    stale = godot_game.runpytest("--rl-agent-cache=cache")
    stale.assert_outcomes(passed=1)
    stale.stdout.fnmatch_lines(["*StaleAgentWarning*stale, trained on another build of the game: game_hash: "
                                "recorded '*', now '*'*"])
