"""A stage that fails its rule stops the curriculum with a clear verdict: the test fails naming the
stage, its successes/episodes, the interval and the rule; later stages are reported as not run and
the test's body (its own playtest) does not run. An inconclusive stage follows --rl-inconclusive."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from curriculum_games import FAST_PPO

BLIND_MIDDLE = f"""
import pytest

@pytest.mark.rl_scenario(env="Ladder-v0", episodes=20, algo_kwargs={FAST_PPO}, curriculum=[
    dict(name="warmup", timesteps=1536, env_kwargs=dict(horizon=1), promote=dict(at_least=0.7)),
    dict(name="blind", timesteps=256, env_kwargs=dict(horizon=3, blind=True),
         promote=dict(at_least=0.8, confidence=0.95, episodes=20)),
    dict(name="final", timesteps=256, env_kwargs=dict(horizon=3)),
])
def test_climbs(rl_playtest):
    print("BODY RAN")
    rl_playtest()
"""

#: a blind stage judged on 3 episodes at 0.5: no outcome of 3 episodes decides, whatever the agent
UNDECIDABLE = f"""
import pytest

@pytest.mark.rl_scenario(env="Ladder-v0", episodes=3, algo_kwargs={FAST_PPO}, curriculum=[
    dict(name="guess", timesteps=128, env_kwargs=dict(blind=True), promote=dict(at_least=0.5, episodes=3)),
    dict(name="see", timesteps=128),
])
def test_guesses(rl_agent):
    print("BODY RAN", rl_agent.num_timesteps)
"""


def _properties(junit: str) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in ET.fromstring(junit).iter("property")}


def test_a_failing_stage_stops_the_curriculum_with_its_verdict(ladder_game: pytest.Pytester) -> None:
    ladder_game.makepyfile(test_ladder=BLIND_MIDDLE)
    art = ladder_game.path / "art"
    result = ladder_game.runpytest("-s", f"--rl-artifacts={art}", "--junitxml=junit.xml", "--rl-job-summary=on")
    result.assert_outcomes(failed=1)
    result.stdout.no_fnmatch_line("*BODY RAN*")  # the scenario's own playtest never ran
    record = json.loads((art / "test_ladder.py__test_climbs" / "curriculum.json").read_text())
    warmup, blind, final = record["stages"]
    assert record["summary"] == "stopped at stage 'blind' (2 of 3)"
    assert (warmup["verdict"], blind["verdict"], final["verdict"]) == ("pass", "fail", "not run")
    assert (warmup["timesteps_used"], blind["timesteps_used"], final["timesteps_used"]) == (1536, 256, 0)
    k = blind["successes"]
    assert blind["episodes"] == 20 and k <= 12  # blind: 1/8 by chance; 12 of 20 is the most a fail allows
    result.stdout.fnmatch_lines([
        f"*curriculum stopped at stage 'blind' (2 of 3): its success rate {k / 20:.3f} ({k}/20 episodes) is below "
        "the threshold 0.8 (alpha=0.05)*",
        f"*success_rate*({k}/20)*95% CI (Clopper-Pearson)*>= 0.8*FAIL*",
        "*promotion rule of stage 'blind': success rate >= 0.8 by a one-sided exact binomial test at 0.95 confidence"
        " (alpha=0.05) over 20 episodes*",
        "*budget used: warmup: 1536/1536 timesteps (pass); blind: 256/256 timesteps (fail)*",
        "*stages not run: 'final'*",
    ])
    props = _properties((ladder_game.path / "junit.xml").read_text())
    assert props["rl_curriculum"] == "stopped at stage 'blind' (2 of 3)"
    assert (props["rl_curriculum_warmup_verdict"], props["rl_curriculum_blind_verdict"],
            props["rl_curriculum_final_verdict"]) == ("pass", "fail", "not run")
    assert props["rl_curriculum_blind_success"] == f"{k}/20" and props["rl_curriculum_final_timesteps"] == "0"
    assert (art / "test_ladder.py__test_climbs" / "model.zip").is_file()  # the evidence is kept
    report = (art / "report.md").read_text()
    assert "stopped at stage 'blind' (2 of 3)" in report and "| 3. final | 256 | 0 | - | - | not run |" in report
    summary = (art / "job_summary.md").read_text()
    assert "### Curriculum" in summary and "| 2. blind | 256 | 256 |" in summary
    assert "curriculum stopped at stage 'blind' (2 of 3)" in summary  # the failed verdict, in full


@pytest.mark.parametrize(("policy", "outcome"), [("fail", "failed"), ("skip", "skipped"), ("pass", "passed")])
def test_an_inconclusive_stage_follows_rl_inconclusive(ladder_game: pytest.Pytester, policy: str,
                                                       outcome: str) -> None:
    ladder_game.makepyfile(test_guess=UNDECIDABLE)
    art = ladder_game.path / "art"
    result = ladder_game.runpytest("-s", "-rs", f"--rl-artifacts={art}", f"--rl-inconclusive={policy}")
    result.assert_outcomes(**{outcome: 1})
    record = json.loads((art / "test_guess.py__test_guesses" / "curriculum.json").read_text())
    guess, see = record["stages"]
    assert guess["verdict"] == "inconclusive" and guess["episodes"] == 3
    if policy == "pass":  # promoted with a warning; the last stage trained and the body ran
        assert guess["promoted"] and see["verdict"] == "trained" and see["timesteps_used"] == 128
        result.stdout.fnmatch_lines(["*BODY RAN 256*", "*InconclusiveWarning: curriculum stage 'guess' promoted on "
                                     "an inconclusive verdict (--rl-inconclusive=pass)*"])
    else:
        assert not guess["promoted"] and see["verdict"] == "not run"
        result.stdout.no_fnmatch_line("*BODY RAN*")
        result.stdout.fnmatch_lines(["*curriculum stopped at stage 'guess' (1 of 2): its success rate * is "
                                     "inconclusive against the threshold 0.5*",
                                     f"*an inconclusive verdict {policy}s under inconclusive={policy!r}*"])
