"""Verdict mutation suite, forms ``rl_baseline.check(result, tolerances)`` and
``assert_matches_baseline(result, path, tolerances)``.

Through pytester on ``form_games.Pick``: a baseline is recorded from a known-good agent with
``--rl-update-baselines``; the same agent then passes, a known-bad agent fails (success rate and
return rows), and a slower game fails its frame-time tolerance. Issue 9, defect 2: a tolerance on a
metric the game does not report fails once, saying so, in the update run too (which writes nothing),
so no run asks for an update that cannot help.
"""

from __future__ import annotations

import json

import pytest

TEST = """
import os
from pathlib import Path

import pytest
from form_games import Pick

from pytest_rlplaytest import assert_matches_baseline

AGENT = os.environ.get("FORM_AGENT", "good")
FRAME = os.environ.get("FORM_FRAME_MS", "2")
GAME = dict(env=Pick, env_kwargs=dict(frame_ms=None if FRAME == "none" else float(FRAME)), model=f"{AGENT}.zip",
            episodes=20)


@pytest.mark.rl_scenario(**GAME)
def test_check(rl_playtest, rl_baseline):
    rl_baseline.check(rl_playtest(), tolerances=["return:10%", "frame_ms.p99:10%"])


@pytest.mark.rl_scenario(**GAME)
def test_assert(rl_playtest):
    assert_matches_baseline(rl_playtest(), Path(__file__).parent / "golden" / "assert.json", ["return:10%"])


@pytest.mark.rl_scenario(**GAME)
def test_defaults(rl_playtest, rl_baseline):
    rl_baseline.check(rl_playtest())
"""


@pytest.fixture
def project(form_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    form_project.makepyfile(test_form=TEST)
    monkeypatch.setenv("FORM_AGENT", "good")
    monkeypatch.setenv("FORM_FRAME_MS", "2")
    form_project.runpytest("--rl-update-baselines").assert_outcomes(passed=3)
    return form_project


def test_the_recorded_agent_passes(project: pytest.Pytester) -> None:
    project.runpytest().assert_outcomes(passed=3)


def test_a_worse_agent_fails(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORM_AGENT", "bad")
    result = project.runpytest()
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*playtest regressed from its baseline*test_check.json*",
                                 "*success_rate*1.000 (20/20)*0.000 (0/20)*95% CI (Clopper-Pearson)*FAIL*",
                                 "*return.mean*FAIL*",
                                 "*update the baseline: pytest test_form.py::test_check --rl-update-baselines*"])
    result.stdout.fnmatch_lines(["*playtest regressed from its baseline*assert.json*"])


def test_a_slower_game_fails_its_frame_tolerance(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORM_FRAME_MS", "20")
    result = project.runpytest()
    result.assert_outcomes(passed=1, failed=2)  # test_assert judges no frame time
    result.stdout.fnmatch_lines(["*frame_ms.p99*| 2.6 ms*| 26 ms*<= 2.86 (+10%)*FAIL*"])


def test_unreported_metric_fails_once_and_is_never_written(form_project: pytest.Pytester,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    form_project.makepyfile(test_form=TEST)
    monkeypatch.setenv("FORM_FRAME_MS", "none")
    baseline = form_project.path / "baselines" / "test_form.py" / "test_check.json"
    update = form_project.runpytest("test_form.py::test_check", "--rl-update-baselines")
    update.assert_outcomes(failed=1)
    update.stdout.fnmatch_lines(["*MissingMetricError: tolerance 'frame_ms.p99:10%' cannot be judged: the game "
                                 "does not report 'frame_ms'*so --rl-update-baselines wrote no baseline*"])
    assert not baseline.exists()
    again = form_project.runpytest("test_form.py::test_check")
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["*MissingMetricError: tolerance 'frame_ms.p99:10%' cannot be judged: the game "
                                "does not report 'frame_ms'*updating the baseline cannot fix this*"])
    assert "no baseline for" not in again.stdout.str()  # not the "record it with --rl-update-baselines" loop
    # the default tolerances skip what the game does not report: recorded once, then passing
    form_project.runpytest("test_form.py::test_defaults", "--rl-update-baselines").assert_outcomes(passed=1)
    form_project.runpytest("test_form.py::test_defaults").assert_outcomes(passed=1)
    stored = json.loads((baseline.parent / "test_defaults.json").read_text())
    assert stored["machines"] == {}  # no frame times recorded for a game that reports none
