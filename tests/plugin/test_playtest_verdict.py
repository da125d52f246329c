"""``rl_playtest(at_least=...)`` is a verdict: the call decides the test (defect 1 of issue 9).

A known-bad agent (no episode succeeds) fails, a known-good one passes, an undecided one follows
``--rl-inconclusive``, for fixed-size and sequential calls alike; arguments that would look like a
verdict without being one are errors.
"""

from __future__ import annotations

import json

import pytest

CALLS = """
import pytest

ALWAYS = dict(success=lambda ep: True)
NEVER = dict(success=lambda ep: False)
REACHED = []

@pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=30)
def test_fixed_good(rl_playtest):
    result = rl_playtest(at_least=0.5, **ALWAYS)
    assert result.successes == 30

@pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=30)
def test_fixed_bad(rl_playtest):
    rl_playtest(at_least=0.5, **NEVER)
    REACHED.append("fixed")
    raise AssertionError("the call returned for a failing verdict")

@pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=200)
def test_sequential_good(rl_playtest):
    result = rl_playtest(sequential=True, at_least=0.5, **ALWAYS)
    assert result.sequential_test.decision == "accept_h1" and result.n_episodes < 60

@pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=200)
def test_sequential_bad(rl_playtest):
    rl_playtest(sequential=True, at_least=0.5, **NEVER)
    raise AssertionError("the call returned for a failing verdict")
"""


def test_the_call_decides_good_and_bad_agents(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(CALLS)
    result = tiny_game.runpytest("--rl-artifacts=art")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    assert "the call returned" not in out
    assert "VerdictFailure" in out
    # a failed verdict keeps its evidence: the episodes it judged are written before it fails
    summary = json.loads((tiny_game.path / "art" / "test_the_call_decides_good_and_bad_agents.py__test_fixed_bad"
                          / "summary.json").read_text())
    assert summary["summary"]["successes"] == 0 and summary["summary"]["judged_episodes"] == 30


UNDECIDED = """
import pytest

@pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=10)
def test_undecided(rl_playtest):
    rl_playtest(at_least=0.5, success=lambda ep: ep.index % 2 == 0)  # 5/10: neither shown above nor below

@pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=12)
def test_undecided_sequential(rl_playtest):
    rl_playtest(sequential=True, at_least=0.5, success=lambda ep: ep.index % 2 == 0)  # the cap comes first
"""


@pytest.mark.parametrize(("policy", "outcome"), [("fail", "failed"), ("skip", "skipped"), ("pass", "passed")])
def test_an_undecided_call_follows_rl_inconclusive(tiny_game: pytest.Pytester, policy: str, outcome: str) -> None:
    tiny_game.makepyfile(UNDECIDED)
    result = tiny_game.runpytest(f"--rl-inconclusive={policy}", "-W", "ignore::UserWarning")
    result.assert_outcomes(**{outcome: 2})
    if policy != "pass":
        result.stdout.fnmatch_lines(["*inconclusive*"])


def test_alpha_passes_through(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        EIGHT = dict(success=lambda ep: ep.index < 8)  # 8/10: P(X >= 8 | 0.5) = 0.055

        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=10)
        def test_default_alpha(rl_playtest):
            rl_playtest(at_least=0.5, **EIGHT)

        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=10)
        def test_loose_alpha(rl_playtest):
            rl_playtest(at_least=0.5, alpha=0.1, **EIGHT)

        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=200)
        def test_sequential_alpha_and_beta(rl_playtest):
            result = rl_playtest(sequential=True, at_least=0.5, alpha=0.01, beta=0.1, success=lambda ep: True)
            assert (result.sequential_test.alpha, result.sequential_test.beta) == (0.01, 0.1)
        """
    )
    result = tiny_game.runpytest("-W", "ignore::UserWarning")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_default_alpha*"])
    assert "FAILED test_alpha_passes_through.py::test_default_alpha" in result.stdout.str()


def test_verdict_arguments_without_a_threshold_are_errors(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest

        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=3)
        @pytest.mark.parametrize("kwargs", [dict(sequential=True), dict(alpha=0.01), dict(beta=0.1)])
        def test_no_threshold(rl_playtest, kwargs):
            with pytest.raises(TypeError, match="needs at_least=.*no verdict is made"):
                rl_playtest(**kwargs)

        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=3)
        def test_sequential_and_stop(rl_playtest):
            with pytest.raises(TypeError, match="either sequential=True or stop="):
                rl_playtest(sequential=True, at_least=0.5, stop=lambda episodes: False)

        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=3)
        def test_plain_call_returns_the_result(rl_playtest):
            assert rl_playtest().n_episodes == 3
        """
    )
    tiny_game.runpytest().assert_outcomes(passed=5)
