"""Verdict mutation suite, form ``assert_success_rate(rl_playtest(), at_least=p)``.

Through pytester on ``form_games.Pick``: a known-good agent passes, a known-bad one fails, and a
half-right one is inconclusive and follows ``--rl-inconclusive`` (fail by default, skip, pass with a
warning).
"""

from __future__ import annotations

import pytest

TEST = """
import os

import pytest
from form_games import Pick

from pytest_rlplaytest import assert_success_rate

AGENT = os.environ.get("FORM_AGENT", "good")


@pytest.mark.rl_scenario(env=Pick, model=f"{AGENT}.zip", episodes=20)
def test_rate(rl_playtest):
    assert_success_rate(rl_playtest(), at_least=0.5)


@pytest.mark.rl_scenario(env=Pick, env_kwargs=dict(horizon=1, alternate=True), model="right.zip", episodes=6)
def test_half(rl_playtest):
    assert_success_rate(rl_playtest(), at_least=0.5)
"""


@pytest.fixture
def project(form_project: pytest.Pytester) -> pytest.Pytester:
    form_project.makepyfile(test_form=TEST)
    return form_project


def test_good_agent_passes(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORM_AGENT", "good")
    project.runpytest("test_form.py::test_rate").assert_outcomes(passed=1)


def test_bad_agent_fails(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORM_AGENT", "bad")
    result = project.runpytest("test_form.py::test_rate")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*VerdictFailure: success rate 0.000 (0/20 episodes) is below the threshold 0.5*",
                                 "*success_rate*0.000 (0/20)*95% CI (Clopper-Pearson)*>= 0.5*FAIL*"])


def test_inconclusive_agent_follows_the_setting(project: pytest.Pytester) -> None:
    failed = project.runpytest("test_form.py::test_half")
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(["*0.500 (3/6 episodes) is inconclusive against the threshold 0.5*",
                                 "*more episodes*would decide*", "*--rl-inconclusive*"])
    project.runpytest("test_form.py::test_half", "--rl-inconclusive=skip").assert_outcomes(skipped=1)
    passed = project.runpytest("test_form.py::test_half", "--rl-inconclusive=pass")
    passed.assert_outcomes(passed=1)
    passed.stdout.fnmatch_lines(["*InconclusiveWarning*"])
