"""The path rule (issue 9): marker paths resolve against the test file's folder, option paths
against the rootdir; errors name the base they used.

Every test here runs pytest from a folder other than the test file's, so a path resolved against
the current folder or the rootdir instead would be caught.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_rlplaytest.common.paths import PathBase

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def _project(pytester: pytest.Pytester, test_source: str) -> Path:
    """A rootdir with ``tests/sub/test_paths.py`` (holding ``test_source``); returns the test file."""
    pytester.makeini(INI)
    test_file = pytester.path / "tests" / "sub" / "test_paths.py"
    test_file.parent.mkdir(parents=True)
    test_file.write_text(test_source)
    return test_file


def test_godot_game_resolves_against_the_test_file(pytester: pytest.Pytester) -> None:
    if shutil.which("godot3-server") is None and shutil.which("godot") is None:
        pytest.skip("needs a Godot binary (apt-get install godot3-server)")
    game = pytester.path / "tests" / "game"
    game.mkdir(parents=True)
    (game / "project.godot").write_text("config_version=4\n")
    test_file = _project(pytester, """
import pytest

@pytest.mark.rl_scenario(env="godot:../game", model="../agents/a.zip")
def test_where(rl_scenario, rl_engine):
    assert rl_scenario.paths.folder == rl_scenario.paths.folder.resolve()
    print("SPEC", rl_scenario.paths.folder, rl_scenario.model)
    print("GAME", rl_engine.game.path)
""")
    result = pytester.runpytest("-s", str(test_file))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*SPEC {test_file.parent} {pytester.path / 'tests' / 'agents' / 'a.zip'}",
                                 f"GAME {game}"])


@pytest.mark.parametrize(("env", "what"), [("godot:../nogame", "the Godot game"),
                                           ("spacetimedb:../nomodule", "SpacetimeDB module folder")])
def test_a_missing_game_names_the_test_files_folder(pytester: pytest.Pytester, env: str, what: str) -> None:
    test_file = _project(pytester, f"""
import pytest

@pytest.mark.rl_scenario(env={env!r})
def test_missing(rl_engine):
    pass
""")
    pytester.mkdir("elsewhere")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(pytester.path / "elsewhere")
        result = pytester.runpytest_inprocess(str(test_file), "--rl-require-engines")
    result.assert_outcomes(errors=1)
    target = env.partition(":")[2]
    expected = PathBase.marker(test_file).describe(target)
    assert f"{what} {expected}" in result.stdout.str(), result.stdout.str()
    assert "the test file's folder" in expected and str(test_file.parent) in expected


def test_a_missing_replay_bundle_names_the_test_files_folder(pytester: pytest.Pytester) -> None:
    test_file = _project(pytester, """
import pytest

@pytest.mark.rl_replay("bundles/none.json")
def test_replay(rl_replay):
    pass
""")
    result = pytester.runpytest(str(test_file))
    result.assert_outcomes(errors=1)
    expected = PathBase.marker(test_file).describe("bundles/none.json")
    result.stdout.fnmatch_lines([f"*the replay bundle {expected} does not exist*"])


def test_option_paths_resolve_against_the_rootdir(pytester: pytest.Pytester) -> None:
    test_file = _project(pytester, """
def test_settings(rl_settings):
    print("ART", rl_settings.artifacts)
    print("BASE", rl_settings.baselines_dir)
""")
    pytester.makeini(INI + "rl_baselines_dir = stored/baselines\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(test_file.parent)
        result = pytester.runpytest_inprocess("-s", "--rootdir", str(pytester.path), str(test_file),
                                              "--rl-artifacts=out")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*ART {pytester.path / 'out'}", f"BASE {pytester.path / 'stored' / 'baselines'}"])
