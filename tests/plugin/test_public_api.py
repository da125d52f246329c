"""The public API of ``pytest_rlplaytest``: lazy at runtime, fully typed for checkers.

``__init__.py`` lists every public name three times (the lazy table, the ``TYPE_CHECKING`` imports,
``__all__``); these tests keep them in step, and run ``mypy --strict`` on a user's test file.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pytest_rlplaytest
from pytest_rlplaytest.errors import RLPlaytestError, RLPlaytestWarning

INIT = Path(pytest_rlplaytest.__file__)
PUBLIC = sorted(set(pytest_rlplaytest.__all__) - {"__version__"})


def _type_checking_imports() -> dict[str, str]:
    """name -> module of the imports under ``if TYPE_CHECKING:`` in ``__init__.py``."""
    tree = ast.parse(INIT.read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    found: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.module is not None
        for alias in node.names:
            assert alias.asname == alias.name, f"{alias.name}: re-export as `import X as X` (mypy --strict)"
            found[alias.name] = node.module
    return found


def test_lazy_table_type_checking_imports_and_all_agree() -> None:
    lazy = dict(pytest_rlplaytest._LAZY)
    assert _type_checking_imports() == lazy
    assert sorted(lazy) == PUBLIC
    assert pytest_rlplaytest.__all__ == sorted(pytest_rlplaytest.__all__), "keep __all__ sorted"


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(pytest_rlplaytest, name)
    assert getattr(value, "__name__", name) == name


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'assert_succes_rate'"):
        _ = pytest_rlplaytest.assert_succes_rate  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", [n for n in PUBLIC if n.endswith(("Error", "Failure", "Unavailable"))])
def test_exported_errors_share_the_root(name: str, request: pytest.FixtureRequest) -> None:
    assert issubclass(getattr(pytest_rlplaytest, name), RLPlaytestError)


def test_warning_root_is_a_pytest_warning() -> None:
    assert issubclass(pytest_rlplaytest.RLPlaytestWarning, pytest.PytestWarning)
    assert pytest_rlplaytest.RLPlaytestWarning is RLPlaytestWarning


USER_TEST = '''
from __future__ import annotations

import pytest

from pytest_rlplaytest import (
    BaselineCheck, BugHunt, Episode, HuntResult, Playtest, PlaytestResult, ReplayReport, RLPlaytestError,
    ScenarioSpec, Settings, VerdictFailure, assert_frame_budget, assert_success_rate,
)


@pytest.mark.rl_scenario(env="CartPole-v1", episodes=10)
def test_balances(rl_playtest: Playtest, rl_baseline: BaselineCheck, rl_scenario: ScenarioSpec,
                  rl_settings: Settings) -> None:
    result: PlaytestResult = rl_playtest(at_least=0.5)
    first: Episode = result.episodes[0]
    assert first.length > 0 and rl_scenario.episodes == 10 and rl_settings.seed >= 0
    try:
        assert_success_rate(result, at_least=0.9)
        assert_frame_budget(result, p99_ms=16.6)
    except VerdictFailure as exc:
        print(exc)
    except RLPlaytestError:
        raise


def test_hunt(rl_bughunt: BugHunt) -> None:
    hunt: HuntResult = rl_bughunt()
    assert hunt.found


def test_replay(rl_replay: ReplayReport) -> None:
    assert not rl_replay.reproduced
'''

#: a typing mistake mypy must find: only a typed API can report it (an ``Any`` would hide it)
USER_MISTAKE = '''
from pytest_rlplaytest import PlaytestResult


def rate_text(result: PlaytestResult) -> str:
    return result.success_rate.upper()
'''

#: heavy libraries mypy need not read to check the user's file (their values become Any)
SKIP_FOLLOWING = ("torch", "stable_baselines3", "sb3_contrib", "gymnasium", "pandas", "scipy", "matplotlib",
                  "tensorboard", "onnx", "onnxruntime", "numpy", "websockets", "rich", "tqdm")


def test_mypy_strict_on_a_user_test_file(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is in the dev extra: pip install -e '.[dev]'")
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TEST))
    (tmp_path / "mistake.py").write_text(textwrap.dedent(USER_MISTAKE))
    sections = ",".join(f"{name}.*" for name in SKIP_FOLLOWING)
    (tmp_path / "mypy.ini").write_text(f"[mypy]\n[mypy-{sections}]\nfollow_imports = skip\n")
    env = {**os.environ, "MYPYPATH": str(INIT.parents[1])}  # this checkout's package, not an installed one
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--config-file", "mypy.ini",
         "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", "test_user.py", "mistake.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    lines = run.stdout.strip().splitlines()
    assert not [line for line in lines if line.startswith("test_user.py")], run.stdout + run.stderr
    assert any(line.startswith("mistake.py:6: error") and '"float" has no attribute "upper"' in line
               for line in lines), run.stdout + run.stderr
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)
