"""JUnit properties for every scenario test, with and without xdist; the terminal summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

SCENARIOS = """
import pytest

@pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=3)
def test_one(rl_playtest):
    rl_playtest()

@pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=4)
def test_two(rl_playtest):
    rl_playtest()

def test_plain():
    pass
"""

EXPECTED = {"rl_success_rate", "rl_success_ci_low", "rl_success_ci_high", "rl_success_ci_method", "rl_mean_return",
            "rl_episodes", "rl_timesteps", "rl_seed", "rl_train_seconds", "rl_eval_seconds", "rl_artifacts"}


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_properties_in_junit_xml(tiny_game: pytest.Pytester, xdist: list[str]) -> None:
    tiny_game.makepyfile(SCENARIOS)
    result = tiny_game.runpytest_subprocess("--junitxml=r.xml", *xdist)
    result.assert_outcomes(passed=3)
    cases = {c.get("name"): c for c in ET.parse(tiny_game.path / "r.xml").getroot().iter("testcase")}
    for name, episodes in (("test_one", "3"), ("test_two", "4")):
        props = {p.get("name"): p.get("value") for p in cases[name].iter("property")}
        assert EXPECTED <= set(props), EXPECTED - set(props)
        assert props["rl_episodes"] == episodes
        assert float(props["rl_success_ci_low"]) <= float(props["rl_success_rate"]) <= float(props["rl_success_ci_high"])
        assert int(props["rl_timesteps"]) == 64
        assert props["rl_success_ci_method"] == "clopper-pearson-95"
    assert not list(cases["test_plain"].iter("property"))


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_terminal_summary_once_with_every_scenario(tiny_game: pytest.Pytester, xdist: list[str]) -> None:
    tiny_game.makepyfile(SCENARIOS)
    result = tiny_game.runpytest_subprocess(*xdist)
    result.assert_outcomes(passed=3)
    out = result.stdout.str()
    assert out.count("rlplaytest summary") == 1
    # fnmatch treats [...] as a character class: match these lines with regular expressions
    result.stdout.re_match_lines([
        r"scenario +outcome +success \[95% CI \(Clopper-Pearson\)\] +mean return +episodes +timesteps",
        r".*::test_one +passed +1\.00 \[0\.29, 1\.00\] +3\.00 +3 +64 ",
        r".*::test_two +passed +1\.00 \[0\.40, 1\.00\] +3\.00 +4 +64 ",
        r"run report: .*report\.md",
    ])
    assert "test_plain" not in out.split("rlplaytest summary")[1]


def test_failed_scenario_listed_and_artifacts_kept(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=3)
        def test_fails(rl_playtest):
            assert rl_playtest().success_rate > 2
        """
    )
    result = tiny_game.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_fails*failed*"])
    folder = tiny_game.path / ".rlplaytest" / "test_failed_scenario_listed_and_artifacts_kept.py__test_fails"
    assert (folder / "episodes.csv").exists() and (folder / "model.zip").exists()


def test_rl_property_records_without_warnings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_custom(rl_property):
            rl_property("worst_frame_ms", 12.5)
            rl_property("worst_frame_ms", 14.0)  # recording again replaces the value
        """
    )
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_subprocess("--junitxml=r.xml", "-n", "2", "-W", "error::pytest.PytestWarning")
    result.assert_outcomes(passed=1)
    props = [(p.get("name"), p.get("value")) for p in ET.parse(pytester.path / "r.xml").getroot().iter("property")]
    assert props == [("worst_frame_ms", "14.0")]
