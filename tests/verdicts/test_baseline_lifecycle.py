"""The baseline lifecycle through the plugin: the ``rl_baseline`` fixture, ``--rl-update-baselines``,
``--rl-inconclusive`` and the unused-baselines summary, driven with pytester.

Most inner tests build a PlaytestResult directly (controlled by environment variables) so that the
lifecycle is tested quickly and deterministically; one runs a real CartPole scenario end to end.
"""

from __future__ import annotations

import json

import pytest

INNER = """
import os

import pytest

from pytest_rlplaytest.playtest import Episode, PlaytestResult


def make(successes, n=40, ret=100.0, frame=8.0):
    episodes = [
        Episode(index=i, env_index=0, seed=i, total_return=ret + (i % 3), length=10, outcome="terminated",
                final_info={}, metrics={"frame_ms": [frame, frame + 1.0]}, success=i < successes)
        for i in range(n)
    ]
    return PlaytestResult(episodes=episodes, scenario={"env": "Fake-v0", "episodes": n})


def test_game(rl_baseline):
    rl_baseline.check(make(int(os.environ.get("FAKE_SUCCESSES", "36")),
                           ret=float(os.environ.get("FAKE_RETURN", "100"))))
"""


@pytest.fixture(autouse=True)
def _quiet_inner_runs(pytester: pytest.Pytester) -> None:
    """Inner runs get pytest-asyncio's loop-scope setting, so they do not warn about it."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_game=INNER)
    return pytester


def baseline_file(pytester: pytest.Pytester, name: str = "test_game") -> object:
    return pytester.path / "baselines" / "test_game.py" / f"{name}.json"


def test_missing_baseline_fails_naming_the_path_and_the_flag(project: pytest.Pytester) -> None:
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no baseline for test_game.py::test_game: *baselines/test_game.py/test_game.json "
                                 "does not exist",
                                 "*record it with: pytest test_game.py::test_game --rl-update-baselines*"])
    assert not (project.path / "baselines").exists()  # nothing written without the flag


def test_update_then_pass(project: pytest.Pytester) -> None:
    project.runpytest("--rl-update-baselines").assert_outcomes(passed=1)
    data = json.loads(baseline_file(project).read_text())  # type: ignore[attr-defined]
    assert data["schema_version"] == 1 and data["nodeid"] == "test_game.py::test_game"
    assert data["metrics"]["success"]["successes"] == 36 and data["machines"]
    project.runpytest().assert_outcomes(passed=1)


def test_update_flag_from_the_environment_and_custom_dir(project: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLPLAYTEST_UPDATE_BASELINES", "1")
    project.runpytest("--rl-baselines-dir", "golden").assert_outcomes(passed=1)
    assert (project.path / "golden" / "test_game.py" / "test_game.json").is_file()


def test_regression_fails_with_the_table_and_update_command(project: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    project.runpytest("--rl-update-baselines").assert_outcomes(passed=1)
    monkeypatch.setenv("FAKE_SUCCESSES", "20")
    monkeypatch.setenv("FAKE_RETURN", "80")
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*playtest regressed from its baseline*test_game.json*",
        "*metric*|*baseline*|*observed*|*interval*|*allowed*|*verdict*",
        "*success_rate*0.900 (36/40)*0.500 (20/40)*FAIL*",
        "*return.mean*FAIL*",
        "*pytest test_game.py::test_game --rl-update-baselines*",
    ])


def test_malformed_baseline_is_a_clear_error(project: pytest.Pytester) -> None:
    path = project.path / "baselines" / "test_game.py" / "test_game.json"
    path.parent.mkdir(parents=True)
    path.write_text("{ not json")
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*BaselineError*test_game.json is not valid JSON*--rl-update-baselines*"])
    project.runpytest("--rl-update-baselines").assert_outcomes(passed=1)
    assert json.loads(path.read_text())["schema_version"] == 1


def test_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_game=INNER + """

@pytest.mark.parametrize("level", range(6))
def test_levels(rl_baseline, level):
    rl_baseline.check(make(30 + level))
""")
    result = pytester.runpytest_subprocess("-n", "2", "--rl-update-baselines")
    result.assert_outcomes(passed=7)
    files = sorted((pytester.path / "baselines" / "test_game.py").iterdir())
    assert len(files) == 7 and all(json.loads(f.read_text())["schema_version"] == 1 for f in files)
    assert not [f for f in files if f.name.startswith(".")]  # no temp files left behind
    pytester.runpytest_subprocess("-n", "2").assert_outcomes(passed=7)


# -- the verdict hooks (VerdictPlugin), as wired by the main plugin ------------------------------------
#: registers VerdictPlugin from a conftest when the main plugin does not (yet) do so itself
REGISTER_HOOKS = """
import pytest

from pytest_rlplaytest.plugin import get_settings
from pytest_rlplaytest.verdicts.hooks import VerdictPlugin

@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    if not config.pluginmanager.has_plugin(VerdictPlugin.NAME):
        config.pluginmanager.register(VerdictPlugin(config, get_settings(config)), VerdictPlugin.NAME)
"""


@pytest.fixture(params=["plugin", "conftest"])
def wiring(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> str:
    """'plugin': rely on the main plugin registering VerdictPlugin; 'conftest': register it here."""
    if request.param == "conftest":
        pytester.makeconftest(REGISTER_HOOKS)
    return str(request.param)


def test_inconclusive_setting_reaches_the_assertions(pytester: pytest.Pytester, wiring: str) -> None:
    pytester.makepyfile(test_rate="""
from pytest_rlplaytest.playtest import Episode, PlaytestResult
from pytest_rlplaytest.verdicts import assert_success_rate

def test_rate():
    episodes = [Episode(index=i, env_index=0, seed=i, total_return=1.0, length=1, outcome="terminated",
                        final_info={}, success=i < 17) for i in range(20)]
    assert_success_rate(PlaytestResult(episodes=episodes), at_least=0.8)
""")
    pytester.runpytest().assert_outcomes(failed=1)
    pytester.runpytest("--rl-inconclusive=skip").assert_outcomes(skipped=1)
    result = pytester.runpytest("--rl-inconclusive=pass")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*InconclusiveWarning*"])


def test_unused_baselines_are_listed_in_the_summary(project: pytest.Pytester, wiring: str) -> None:
    project.runpytest("--rl-update-baselines").assert_outcomes(passed=1)
    stale = project.path / "baselines" / "test_game.py" / "test_renamed.json"
    stale.write_text(baseline_file(project).read_text())  # type: ignore[attr-defined]
    result = project.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*1 stored baseline(s) not used by any selected test*",
                                 "*baselines/test_game.py/test_renamed.json*"])
    assert stale.exists()
    # a subset run (-k) does not report the baselines of files it did not select
    project.makepyfile(test_other="def test_x():\n    pass\n")
    result = project.runpytest("test_other.py")
    assert "not used by any selected test" not in result.stdout.str()


def test_unused_baselines_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makeconftest(REGISTER_HOOKS)
    pytester.makepyfile(test_game=INNER)
    pytester.runpytest_subprocess("-n", "2", "--rl-update-baselines").assert_outcomes(passed=1)
    stale = pytester.path / "baselines" / "test_game.py" / "test_gone.json"
    stale.write_text((pytester.path / "baselines" / "test_game.py" / "test_game.json").read_text())
    result = pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*1 stored baseline(s) not used by any selected test*", "*test_gone.json*"])


# -- end to end with a real scenario ----------------------------------------------------------------
def test_real_scenario_round_trip(pytester: pytest.Pytester) -> None:
    pytest.importorskip("stable_baselines3")
    pytester.makepyfile(test_cartpole="""
import pytest

@pytest.mark.rl_scenario(env="CartPole-v1", algo="PPO", timesteps=64, episodes=6,
                         algo_kwargs=dict(n_steps=32, batch_size=32, n_epochs=1),
                         success=lambda ep: ep.length >= 15)
def test_balances(rl_playtest, rl_baseline):
    rl_baseline.check(rl_playtest())
""")
    pytester.runpytest("--rl-update-baselines", "-p", "no:cacheprovider").assert_outcomes(passed=1)
    data = json.loads((pytester.path / "baselines" / "test_cartpole.py" / "test_balances.json").read_text())
    assert data["scenario"]["env"] == "CartPole-v1" and data["scenario"]["episodes"] == 6
    assert data["metrics"]["success"]["judged"] == 6
    # same seeds, same agent, same episodes: the comparison passes
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
