"""Every warning the package emits is an RLPlaytestWarning (a pytest.PytestWarning), so
``-W error::pytest_rlplaytest.errors.RLPlaytestWarning`` and ``filterwarnings`` catch them all."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import pytest_rlplaytest
from pytest_rlplaytest.errors import RLPlaytestWarning

PACKAGE = Path(pytest_rlplaytest.__file__).parent


def _is_warn_call(node: ast.Call) -> bool:
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr == "warn") or (isinstance(func, ast.Name)
                                                                         and func.id == "warn")


def _warning_class(node: ast.Call, namespace: dict[str, object]) -> object:
    """The class a ``warn(...)`` call emits: its ``category=``, or the class its first argument
    instantiates (None: a bare message, which would be a UserWarning)."""
    category = next((k.value for k in node.keywords if k.arg == "category"), None)
    if category is None and len(node.args) > 1:
        category = node.args[1]
    target = category if category is not None else (node.args[0].func if node.args and isinstance(
        node.args[0], ast.Call) else None)
    if target is None:
        return None
    return eval(compile(ast.Expression(target), "<warn>", "eval"), namespace)  # names of the module


def _warn_calls() -> list[tuple[str, int, object]]:
    calls = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _is_warn_call(n)]
        if not found:
            continue
        module_name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        namespace = dict(vars(importlib.import_module(module_name)))
        calls += [(f"{path.relative_to(PACKAGE.parent)}:{n.lineno}", n.lineno, _warning_class(n, namespace))
                  for n in found]
    return calls


def test_every_warn_call_uses_an_rlplaytest_warning() -> None:
    calls = _warn_calls()
    assert len(calls) >= 5  # the scan sees the package's warnings (it would pass vacuously otherwise)
    bad = [where for where, _, cls in calls if not (isinstance(cls, type) and issubclass(cls, RLPlaytestWarning))]
    assert bad == [], f"warn() calls not using an RLPlaytestWarning subclass: {bad}"
    assert issubclass(RLPlaytestWarning, pytest.PytestWarning)


def test_the_scan_catches_a_plain_warning(tmp_path: Path) -> None:
    tree = ast.parse("import warnings\nwarnings.warn('x')\nwarnings.warn('y', DeprecationWarning)\n"
                     "warnings.warn(RLPlaytestWarning('z'))\n")
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _is_warn_call(n)]
    namespace = {"DeprecationWarning": DeprecationWarning, "RLPlaytestWarning": RLPlaytestWarning}
    assert [_warning_class(n, namespace) for n in calls] == [None, DeprecationWarning, RLPlaytestWarning]


INCONCLUSIVE = """
import pytest
@pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=2)
def test_undecided(rl_playtest):
    rl_playtest(at_least=0.5)
"""


def test_w_error_turns_a_plugin_warning_into_an_error(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(INCONCLUSIVE)
    result = tiny_game.runpytest("--rl-inconclusive=pass", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*InconclusiveWarning*"])
    result = tiny_game.runpytest("--rl-inconclusive=pass", "-p", "no:cacheprovider",
                                 "-W", "error::pytest_rlplaytest.errors.RLPlaytestWarning")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*InconclusiveWarning*"])
