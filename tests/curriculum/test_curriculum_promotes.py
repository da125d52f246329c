"""A curriculum of two stages promotes on its rule and the scenario's playtest runs on the last
stage's game: one model trains on a one-pick Ladder, is judged there by the exact binomial test,
moves on to a three-pick Ladder with a sparse reward (the stage's ``reward=``, given to the game as
``reward_mode``), and the test's own verdict plays that game."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from curriculum_games import FAST_PPO

TWO_STAGES = f"""
import pytest

@pytest.mark.rl_scenario(env="Ladder-v0", episodes=20, algo_kwargs={FAST_PPO}, curriculum=[
    dict(name="short", timesteps=1536, env_kwargs=dict(horizon=1),
         promote=dict(at_least=0.7, confidence=0.95, episodes=20)),
    dict(name="long", timesteps=768, env_kwargs=dict(horizon=3), reward="sparse",
         promote=dict(at_least=0.7, episodes=20)),
])
def test_climbs(rl_playtest, rl_agent, rl_scenario):
    result = rl_playtest(at_least=0.7)
    final = result.episodes[0].final_info
    assert (final["horizon"], final["reward_mode"]) == (3, "sparse")  # the last stage's game
    assert rl_scenario.env_kwargs == dict(horizon=3, reward_mode="sparse")
    assert rl_agent.num_timesteps == rl_scenario.timesteps == 1536 + 768
    print("CLIMBED", result.successes, result.n_episodes)
"""


def _properties(junit: str) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in ET.fromstring(junit).iter("property")}


def test_two_stages_promote_and_the_playtest_runs_on_the_last_stage(ladder_game: pytest.Pytester) -> None:
    ladder_game.makepyfile(test_ladder=TWO_STAGES)
    art = ladder_game.path / "art"
    result = ladder_game.runpytest("-s", f"--rl-artifacts={art}", "--junitxml=junit.xml")
    result.assert_outcomes(passed=1)
    record = json.loads((art / "test_ladder.py__test_climbs" / "curriculum.json").read_text())
    assert record["summary"] == "2 of 2 stages passed"
    short, long_ = record["stages"]
    assert [short["name"], long_["name"]] == ["short", "long"]
    assert [short["verdict"], long_["verdict"]] == ["pass", "pass"] and short["promoted"] and long_["promoted"]
    # each stage trains its own budget (whole 128-step rollouts), counted per stage, one after the other
    assert (short["timesteps_used"], long_["timesteps_used"]) == (1536, 768)
    assert (short["first_timestep"], long_["first_timestep"]) == (0, 1536)
    assert long_["env_kwargs"] == {"horizon": 3, "reward_mode": "sparse"} and long_["reward"] == "sparse"
    for stage in (short, long_):  # judged on 20 episodes with the project's interval
        assert stage["episodes"] == 20 and stage["successes"] >= 18
        assert stage["ci_low"] <= stage["successes"] / 20 <= stage["ci_high"]
        assert stage["ci_method"] == "clopper-pearson-95"
    props = _properties((ladder_game.path / "junit.xml").read_text())
    assert props["rl_curriculum"] == "2 of 2 stages passed"
    assert props["rl_curriculum_short_verdict"] == props["rl_curriculum_long_verdict"] == "pass"
    assert props["rl_curriculum_short_timesteps"] == "1536" and props["rl_curriculum_long_timesteps"] == "768"
    assert props["rl_timesteps"] == "2304"
    report = (art / "report.md").read_text()
    assert "## Curriculum" in report and "2 of 2 stages passed" in report
    assert "| 1. short | 1536 | 1536 |" in report and "| 2. long | 768 | 768 |" in report
    (art / "report.md").unlink()  # `rlplaytest report` rebuilds the table from the artifacts alone
    from pytest_rlplaytest.cli import main

    assert main(["report", str(art)]) == 0
    assert "| 1. short | 1536 | 1536 |" in (art / "report.md").read_text()

