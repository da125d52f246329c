"""Verdict mutation suite, form ``rl_playtest(sequential=True, at_least=p)``: Wald's SPRT decides.

Issue 9, defect 1: the sequential call is documented as one that decides, and an agent that never
succeeds passed it. Now a known-bad agent fails at the call, a known-good one passes after far fewer
episodes than the cap, and a run the cap cuts off before a decision is inconclusive and follows
``--rl-inconclusive``. Asserting on the result afterwards gives the same verdict.
"""

from __future__ import annotations

import pytest

TEST = """
import os

import pytest
from form_games import Pick

from pytest_rlplaytest import assert_success_rate

AGENT = os.environ.get("FORM_AGENT", "good")


@pytest.mark.rl_scenario(env=Pick, model=f"{AGENT}.zip", episodes=200)
def test_sequential(rl_playtest):
    result = rl_playtest(sequential=True, at_least=0.8)
    print("EPISODES", result.n_episodes, result.stopped_early)


@pytest.mark.rl_scenario(env=Pick, model=f"{AGENT}.zip", episodes=200)
def test_sequential_then_assert(rl_playtest):
    result = rl_playtest(sequential=True, at_least=0.5)
    assert_success_rate(result, at_least=0.5)


@pytest.mark.rl_scenario(env=Pick, env_kwargs=dict(horizon=1, alternate=True), model="right.zip", episodes=8)
def test_undecided(rl_playtest):
    rl_playtest(sequential=True, at_least=0.4)
"""


@pytest.fixture
def project(form_project: pytest.Pytester) -> pytest.Pytester:
    form_project.makepyfile(test_form=TEST)
    return form_project


def test_good_agent_passes_early(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORM_AGENT", "good")
    result = project.runpytest("-s", "test_form.py::test_sequential", "test_form.py::test_sequential_then_assert")
    result.assert_outcomes(passed=2)
    line = next(ln for ln in result.outlines if "EPISODES " in ln).split("EPISODES ", 1)[1]
    used = int(line.split()[0])
    assert used < 30 and "sequential test decided" in line  # 0.8 vs 0.9: 24 straight successes decide


def test_agent_that_never_succeeds_fails(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORM_AGENT", "bad")
    result = project.runpytest("test_form.py::test_sequential")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*success rate is below the threshold 0.8 by a sequential test after 3 episodes*",
                                 "*H0: rate = 0.8 vs H1: rate = 0.9*accepted H0*"])
    project.runpytest("test_form.py::test_sequential_then_assert").assert_outcomes(failed=1)


def test_cut_off_before_a_decision_follows_the_setting(project: pytest.Pytester) -> None:
    failed = project.runpytest("test_form.py::test_undecided")
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(["*is undecided against the threshold 0.4 by a sequential test after 8 episodes*",
                                 "*ran out before a decision*", "*--rl-inconclusive*"])
    project.runpytest("test_form.py::test_undecided", "--rl-inconclusive=skip").assert_outcomes(skipped=1)
