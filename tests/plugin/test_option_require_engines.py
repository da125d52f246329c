"""An engine whose binary is absent skips its test with a hint, or fails under --rl-require-engines."""

from __future__ import annotations

import pytest

CONFTEST = """
from pytest_rlplaytest.engines import registry
from pytest_rlplaytest.engines.base import Engine, EngineUnavailable

class AbsentEngine(Engine):
    scheme = "absent"
    OPTIONS = {"level": "which level"}
    def start(self):
        raise EngineUnavailable("no 'absent' binary on PATH.", hint="Install it with: apt-get install absent")
    def close(self):
        pass
    def make_env(self, seed=None):
        raise AssertionError("not reached")
    def make_vec_env(self, n_envs=None, seed=None):
        raise AssertionError("not reached")

registry.ENGINES["absent"] = "conftest:AbsentEngine"
"""

TEST = """
import pytest
@pytest.mark.rl_scenario(env="absent:game", level=2)
def test_needs_engine(rl_playtest):
    pass
"""


def test_skips_with_install_hint(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(TEST)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no 'absent' binary on PATH. Install it with: apt-get install absent*"])


@pytest.mark.parametrize("how", [["--rl-require-engines"], ["-o", "rl_require_engines=true"]])
def test_fails_when_required(pytester: pytest.Pytester, how: list[str]) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(TEST)
    result = pytester.runpytest(*how)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no 'absent' binary*(--rl-require-engines requires the absent engine*"])


@pytest.mark.parametrize(("value", "outcome"), [("absent", "errors"), ("godot,absent", "errors"),
                                                ("godot", "skipped"), ("off", "skipped")])
def test_named_engines(pytester: pytest.Pytester, value: str, outcome: str) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(TEST)
    result = pytester.runpytest(f"--rl-require-engines={value}")
    result.assert_outcomes(**{outcome: 1})
    if outcome == "errors":
        result.stdout.fnmatch_lines(["*--rl-require-engines requires the absent engine, so a missing one fails*"])


def test_named_engines_from_environment(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLPLAYTEST_REQUIRE_ENGINES", "absent")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(TEST)
    pytester.runpytest().assert_outcomes(errors=1)
