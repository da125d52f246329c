"""``rlplaytest init``: the scaffold it writes into a Godot project parses, merges, refuses to
overwrite without ``--force``, passes GitHub's workflow schema, and its example test passes against
the real Godot (godot3-server) on a copy of the example project."""

from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pytest_rlplaytest.cli import main
from pytest_rlplaytest.engines.base import EngineUnavailable, skip_or_fail_unavailable
from pytest_rlplaytest.engines.godot.binary import find_godot
from pytest_rlplaytest.plugin import get_settings
from pytest_rlplaytest.scaffold import GODOT4, detect_scenes

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "example_project" / "godot"
WORKFLOWS = Path(".github") / "workflows"
SCENE_TEST = Path("tests") / "test_rlplaytest_landing.py"


@pytest.fixture
def game(tmp_path: Path) -> Path:
    """A copy of the example Godot project (scenes and scripts; models are not needed)."""
    dest = tmp_path / "game"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("models"))
    return dest


def _init(project: Path, *args: str) -> int:
    return main(["init", str(project), *args])


def _schema_check(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           *map(str, files)], capture_output=True, text=True, timeout=120, check=False)


def test_generated_python_and_ini_parse(game: Path) -> None:
    assert _init(game) == 0
    for path in (game / "conftest.py", game / SCENE_TEST):
        ast.parse(path.read_text(), filename=str(path))
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(game / "pytest.ini")
    assert ini.get("pytest", "testpaths") == "tests" and ini.get("pytest", "rl_artifacts") == ".rlplaytest"
    test = (game / SCENE_TEST).read_text()
    assert 'scene="res://scenes/landing.tscn"' in test and 'env="godot:.."' in test  # the main scene
    assert "@pytest.mark.long_training" in test


def test_scenes_with_a_sync_node_are_detected_main_scene_first(game: Path) -> None:
    assert detect_scenes(game) == ["res://scenes/landing.tscn", "res://scenes/bug_repro.tscn", "res://scenes/duel.tscn",
                                   "res://scenes/locomotion.tscn", "res://scenes/physics_stress.tscn",
                                   "res://scenes/ui.tscn", "res://scenes/voxel_stress.tscn"]
    (game / "scenes" / "plain.tscn").write_text('[gd_scene format=2]\n\n[node name="Plain" type="Spatial"]\n')
    assert "res://scenes/plain.tscn" not in detect_scenes(game)
    assert _init(game, "--scene", "res://scenes/plain.tscn") == 1
    assert _init(game, "--scene", "res://scenes/voxel_stress.tscn") == 0
    assert (game / "tests" / "test_rlplaytest_voxel_stress.py").is_file()


def test_a_godot4_plugin_project_gets_the_pinned_official_godot(tmp_path: Path) -> None:
    project = tmp_path / "g4"
    (project / "scenes").mkdir(parents=True)
    (project / "project.godot").write_text('config_version=5\n\n[application]\nrun/main_scene="res://scenes/main.tscn"\n')
    (project / "scenes" / "main.tscn").write_text(
        '[gd_scene load_steps=2 format=3]\n\n'
        '[ext_resource type="Script" path="res://addons/godot_rl_agents/sync.gd" id="1_s"]\n\n'
        '[node name="Main" type="Node3D"]\n\n[node name="Sync" type="Node" parent="."]\nscript = ExtResource("1_s")\n')
    assert _init(project) == 0
    ci = (project / WORKFLOWS / "rlplaytest-ci.yml").read_text()
    assert GODOT4.url in ci and f'echo "{GODOT4.sha512}  {GODOT4.archive}" | sha512sum -c -' in ci
    assert '"$GODOT_BIN" --headless --path . --import' in ci and "godot3-server" not in ci
    assert len(GODOT4.sha512) == 128 and GODOT4.url.startswith("https://github.com/godotengine/godot/releases/")


def test_workflows_pass_githubs_schema_and_say_what_they_run(game: Path) -> None:
    assert _init(game, "--rl-agent-cache", ".agents") == 0
    ci_path, nightly_path = game / WORKFLOWS / "rlplaytest-ci.yml", game / WORKFLOWS / "rlplaytest-nightly.yml"
    checked = _schema_check(ci_path, nightly_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ci, nightly = yaml.safe_load(ci_path.read_text()), yaml.safe_load(nightly_path.read_text())
    ci_steps, nightly_steps = ci["jobs"]["playtest"]["steps"], nightly["jobs"]["playtest"]["steps"]
    runs = [s.get("run", "") for s in ci_steps]
    assert any(r.startswith("pytest --rl-timesteps=1000") and "--junitxml=" in r for r in runs)
    assert any("apt-get install -y godot3-server" in r for r in runs)
    assert any("--editor --quit" in r for r in runs)  # Godot 3 project: editor import
    assert next(s for s in ci_steps if s.get("uses") == "actions/upload-artifact@v4")["if"] == "always()"
    assert "schedule" in nightly[True]  # PyYAML reads the key `on` as True
    assert any("-m long_training --rl-agent-cache=.agents" in s.get("run", "") for s in nightly_steps)
    cache = [s for s in nightly_steps if s.get("name", "").startswith("Cache trained agents")]
    assert cache and cache[0]["uses"] == "actions/cache@v4" and cache[0]["with"]["path"] == ".agents"
    broken = game / "broken.yml"
    broken.write_text(ci_path.read_text().replace("    runs-on: ubuntu-latest\n", ""))
    assert _schema_check(broken).returncode != 0  # the schema check can fail


def test_existing_files_are_not_overwritten_without_force(game: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _init(game) == 0
    edited = game / SCENE_TEST
    edited.write_text("# my own test\n")
    capsys.readouterr()
    assert _init(game) == 1
    err = capsys.readouterr().err
    assert str(edited) in err and "--force" in err
    assert edited.read_text() == "# my own test\n"
    assert _init(game, "--force") == 0
    assert "rl_scenario" in edited.read_text()


def test_an_existing_pytest_ini_is_merged_not_lost(game: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ini = game / "pytest.ini"
    ini.write_text("# my settings\n[pytest]\naddopts = -ra\nmarkers =\n    slow: slow tests\n    ui: ui tests\n"
                   "\n[other]\nkey = 1\n")
    assert _init(game) == 0
    merged = ini.read_text()
    assert merged.startswith("# my settings\n[pytest]\ntestpaths = tests\nrl_artifacts = .rlplaytest\n")
    assert "    ui: ui tests\n" in merged and "[other]\nkey = 1" in merged
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.read_string(merged)
    assert dict(parsed.items("pytest")) == {"addopts": "-ra", "markers": "\nslow: slow tests\nui: ui tests",
                                            "testpaths": "tests", "rl_artifacts": ".rlplaytest"}
    ini.write_text(merged.replace("testpaths = tests", "testpaths =\n    other\n    more"))
    capsys.readouterr()
    assert _init(game) == 1 and "pytest.ini" in capsys.readouterr().err  # a differing entry needs --force
    assert _init(game, "--force") == 0
    forced = configparser.ConfigParser(interpolation=None)
    forced.read(ini)
    assert forced.get("pytest", "testpaths") == "tests" and forced.get("pytest", "addopts") == "-ra"
    assert "more" not in ini.read_text()


def test_settings_in_another_ini_file_are_not_hidden_by_a_new_pytest_ini(game: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (game / "tox.ini").write_text("[pytest]\nmarkers =\n    slow: slow tests\n")
    assert _init(game) == 1
    assert "tox.ini" in capsys.readouterr().err and not (game / "pytest.ini").exists()
    (game / "tox.ini").write_text("[tox]\nenvlist = py311\n")  # no pytest settings there: fine
    assert _init(game) == 0 and (game / "pytest.ini").is_file()


@pytest.mark.needs_godot
def test_the_generated_test_passes_with_godot3_server(game: Path, request: pytest.FixtureRequest) -> None:
    try:
        binary = find_godot(get_settings(request.config).godot_bin)
    except EngineUnavailable as exc:
        skip_or_fail_unavailable(get_settings(request.config), "godot", exc)
    assert _init(game, "--godot", "3") == 0
    env = {**os.environ, "GODOT_BIN": binary.path, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "--rl-timesteps=64", "--rl-require-engines",
                           "-p", "no:cacheprovider", "--junitxml=junit.xml", "-q"], cwd=game, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "1 passed, 1 skipped" in out  # the CI smoke test ran; the long_training one waits for the nightly
    assert (game / ".rlplaytest").is_dir() and (game / "junit.xml").is_file()
