"""Verdict mutation suite, form ``rl_replay`` with ``xfail(strict=True)`` and the ``.reproduced``
assertion.

A bundle is recorded in the test by playing ``form_games.Gap`` (a planted gap in the floor) until it
falls out. Against the buggy game, the strict-xfail test that tracks the known bug is an expected
failure and the regression guard fails; against the fixed game (``FORM_GAP_FIXED=1``) the strict
xfail turns into a failure (time to remove it) and the regression guard passes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TEST = """
import pytest


@pytest.mark.xfail(strict=True, reason="known bug: a gap in the floor at x=3")
@pytest.mark.rl_replay("bundles/gap.json", times=2)
def test_known_bug(rl_replay):
    assert not rl_replay.reproduced, rl_replay.describe()


@pytest.mark.rl_replay("bundles/gap.json", times=2)
def test_guard(rl_replay):
    assert not rl_replay.reproduced, rl_replay.describe()
"""


def record_gap_bundle(path: Path, artifacts: Path) -> Path:
    """Play Gap walking right until the bug's signature is hit, and save that episode as a bundle."""
    from pytest_rlplaytest.bughunt.bundle import ReplayBundle
    from pytest_rlplaytest.bughunt.replay import Replayer
    from pytest_rlplaytest.bughunt.signature import BugSignature
    from pytest_rlplaytest.engines.base import EngineContext
    from pytest_rlplaytest.engines.gym import GymEngine

    engine = GymEngine("py:form_games:Gap", EngineContext(artifacts_dir=artifacts, seed=7))
    engine.start()
    try:
        signature = BugSignature.parse("out_of_world")
        outcome = Replayer(engine.make_replay_vec_env(1), signature).run(7, [[1] * 10])[0]
        assert outcome is not None and outcome.reproduced and outcome.hit_step == 3
        bundle = ReplayBundle(signature=signature.describe(), env="py:form_games:Gap", seed=7,
                              actions=[1] * outcome.hit_step, hit_step=outcome.hit_step, events=outcome.events,
                              engine=engine.describe())
    finally:
        engine.close()
    return bundle.save(path)


@pytest.fixture
def project(form_project: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("FORM_GAP_FIXED", raising=False)
    record_gap_bundle(form_project.path / "bundles" / "gap.json", tmp_path)
    form_project.makepyfile(test_form=TEST)
    return form_project


def test_buggy_game_the_known_bug_xfails_and_the_guard_fails(project: pytest.Pytester) -> None:
    result = project.runpytest("-rfxX")
    result.assert_outcomes(xfailed=1, failed=1)
    result.stdout.fnmatch_lines(["*the signature recurred in 2 of 2 replay(s) at step 3*",
                                 "*FAILED test_form.py::test_guard*",
                                 "*XFAIL test_form.py::test_known_bug - known bug: a gap in the floor at x=3*"])


def test_fixed_game_the_strict_xfail_fails_and_the_guard_passes(project: pytest.Pytester,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORM_GAP_FIXED", "1")
    result = project.runpytest("-rfxX")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*known bug: a gap in the floor at x=3*"])
