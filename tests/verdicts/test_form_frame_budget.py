"""Verdict mutation suite, form ``assert_frame_budget(result, p99_ms=..., fps_at_least=...)``.

Through pytester on ``form_games.Pick``: a fast game meets the budget, a slow one exceeds it (p99 and
FPS rows fail), and a game that reports no ``frame_ms`` is an error saying so, never a pass.
"""

from __future__ import annotations

import pytest

TEST = """
import os

import pytest
from form_games import Pick

from pytest_rlplaytest import assert_frame_budget

FRAME = os.environ.get("FORM_FRAME_MS", "2")


@pytest.mark.rl_scenario(env=Pick, env_kwargs=dict(frame_ms=None if FRAME == "none" else float(FRAME)),
                         model="good.zip", episodes=5)
def test_budget(rl_playtest):
    assert_frame_budget(rl_playtest(), p99_ms=10.0, fps_at_least=100)
"""


@pytest.fixture
def project(form_project: pytest.Pytester) -> pytest.Pytester:
    form_project.makepyfile(test_form=TEST)
    return form_project


def test_fast_game_meets_the_budget(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORM_FRAME_MS", "2")
    project.runpytest().assert_outcomes(passed=1)


def test_slow_game_exceeds_the_budget(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORM_FRAME_MS", "20")
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*VerdictFailure: frame budget exceeded: 15 frames over 5 episodes*",
                                 "*frame_ms.p99*| 26 ms*<= 10 ms*FAIL*",
                                 "*fps (1000/mean frame_ms)*41.67*>= 100*FAIL*"])


def test_game_without_frame_times_is_an_error_not_a_pass(project: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORM_FRAME_MS", "none")
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*MissingMetricError: the game does not report 'frame_ms'*"])
