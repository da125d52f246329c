"""Verdict mutation suite, form ``rl_playtest(at_least=p)``: the call itself decides.

Issue 9, defect 1: this call looked like a verdict and never failed. Now a known-bad agent fails at
the call (no assertion after it), a known-good one passes and gets its result back, and a half-right
one is inconclusive and follows ``--rl-inconclusive``, exactly as ``assert_success_rate`` does. The
evidence of a failed call (``summary.json``) is kept.
"""

from __future__ import annotations

import json

import pytest

TEST = """
import os

import pytest
from form_games import Pick

AGENT = os.environ.get("FORM_AGENT", "good")


@pytest.mark.rl_scenario(env=Pick, model=f"{AGENT}.zip", episodes=20)
def test_rate(rl_playtest):
    result = rl_playtest(at_least=0.5)
    assert result.n_episodes == 20 and result.successes == 20


@pytest.mark.rl_scenario(env=Pick, env_kwargs=dict(horizon=1, alternate=True), model="right.zip", episodes=6)
def test_half(rl_playtest):
    rl_playtest(at_least=0.5)
"""


@pytest.fixture
def project(form_project: pytest.Pytester) -> pytest.Pytester:
    form_project.makepyfile(test_form=TEST)
    return form_project


def test_good_agent_passes(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORM_AGENT", "good")
    project.runpytest("test_form.py::test_rate").assert_outcomes(passed=1)


def test_bad_agent_fails_at_the_call(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORM_AGENT", "bad")
    result = project.runpytest("test_form.py::test_rate", "--rl-artifacts=art")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*rl_playtest(at_least=0.5)*",
                                 "*VerdictFailure: success rate 0.000 (0/20 episodes) is below the threshold 0.5*"])
    summary = json.loads((project.path / "art" / "test_form.py__test_rate" / "summary.json").read_text())
    assert summary["summary"]["successes"] == 0 and summary["summary"]["episodes"] == 20  # evidence kept


def test_inconclusive_call_follows_the_setting(project: pytest.Pytester) -> None:
    failed = project.runpytest("test_form.py::test_half")
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(["*0.500 (3/6 episodes) is inconclusive against the threshold 0.5*",
                                 "*--rl-inconclusive*"])
    project.runpytest("test_form.py::test_half", "--rl-inconclusive=skip").assert_outcomes(skipped=1)
    passed = project.runpytest("test_form.py::test_half", "--rl-inconclusive=pass")
    passed.assert_outcomes(passed=1)
    passed.stdout.fnmatch_lines(["*InconclusiveWarning*"])
