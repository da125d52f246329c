"""The `rlplaytest` command: report rebuilding, addon installation, its settings and the path rule of
replays (export-onnx is in test_onnx.py, baselines in tests/verdicts, replay/shrink in tests/bughunt)."""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_rlplaytest.bughunt.bundle import BUNDLE_SCHEMA_VERSION
from pytest_rlplaytest.cli import main, settings_for_cli
from pytest_rlplaytest.common.paths import PathBase
from pytest_rlplaytest.engines.godot.install import (
    SHIPPED_DIGESTS,
    AddonConflict,
    install_godot_addon,
    packaged_files,
)
from pytest_rlplaytest.settings import SettingError


def test_report_rebuilt_from_artifacts(tiny_game: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=3)
        def test_one(rl_playtest):
            rl_playtest()
        """
    )
    tiny_game.runpytest("--rl-artifacts=art").assert_outcomes(passed=1)
    report = tiny_game.path / "art" / "report.md"
    report.unlink()
    assert main(["report", str(tiny_game.path / "art")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(report)
    text = report.read_text()
    assert "| test_report_rebuilt_from_artifacts.py::test_one | passed | 1.00 [0.29, 1.00] |" in text
    assert "[summary](" in text and "[episodes](" in text


def test_report_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 1
    assert "no */summary.json" in capsys.readouterr().err


def _godot_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "project.godot").write_text("config_version=4\n")
    return folder


def _same_as_packaged(project: Path) -> bool:
    installed = project / "addons" / "rlplaytest"
    return all((installed / name).read_bytes() == src.read_bytes() for name, src in packaged_files().items())


def test_install_godot_addon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["install-godot-addon", str(tmp_path)]) == 1  # not a Godot project
    assert "project.godot" in capsys.readouterr().err
    _godot_project(tmp_path)
    assert main(["install-godot-addon", str(tmp_path)]) == 0
    assert "added agent_controller.gd, args.gd, sync.gd, telemetry.gd" in capsys.readouterr().out
    assert _same_as_packaged(tmp_path)
    assert main(["install-godot-addon", str(tmp_path)]) == 0  # again: nothing to do, not an error
    assert "is up to date" in capsys.readouterr().out


def test_install_updates_an_out_of_date_copy_without_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The fix a drift check prints (`rlplaytest install-godot-addon PROJECT`) updates an older
    release's copy; a file the older release shipped and this one does not is removed, the
    project's own files are kept."""
    project = _godot_project(tmp_path / "game")
    install_godot_addon(project)
    addon = project / "addons" / "rlplaytest"
    old_sync, old_helper = b"# sync.gd of an older release\n", b"# a file an older release shipped\n"
    shipped = dict(SHIPPED_DIGESTS)
    shipped["sync.gd"] = shipped["sync.gd"] | {hashlib.sha256(old_sync).hexdigest()}
    shipped["old_helper.gd"] = frozenset({hashlib.sha256(old_helper).hexdigest()})
    monkeypatch.setattr("pytest_rlplaytest.engines.godot.install.SHIPPED_DIGESTS", shipped)
    (addon / "sync.gd").write_bytes(old_sync)
    (addon / "old_helper.gd").write_bytes(old_helper)
    (addon / "my_notes.txt").write_text("ours")
    assert main(["install-godot-addon", str(project)]) == 0
    out = capsys.readouterr().out
    assert "updated sync.gd" in out and "removed old_helper.gd" in out and "left alone" in out
    assert _same_as_packaged(project)
    assert not (addon / "old_helper.gd").exists() and (addon / "my_notes.txt").read_text() == "ours"


def test_install_refuses_local_changes_and_its_printed_fix_works(tmp_path: Path) -> None:
    """Run as a user would (the console script's module in a subprocess): a file changed in the
    project is not overwritten; the command the error prints replaces it."""
    project = _godot_project(tmp_path / "game")
    install_godot_addon(project)
    changed = project / "addons" / "rlplaytest" / "telemetry.gd"
    changed.write_text(changed.read_text() + "# a local change\n")
    command = [sys.executable, "-m", "pytest_rlplaytest.cli", "install-godot-addon", str(project)]
    refused = subprocess.run(command, capture_output=True, text=True)
    assert refused.returncode == 1, refused.stderr
    assert "telemetry.gd" in refused.stderr and "nothing was written" in refused.stderr
    assert changed.read_text().endswith("# a local change\n")
    fix = refused.stderr.strip().rsplit(": ", 1)[1]
    assert fix == f"rlplaytest install-godot-addon {project} --force"
    fixed = subprocess.run([*command, "--force"], capture_output=True, text=True)
    assert fixed.returncode == 0, fixed.stderr
    assert "replaced local changes to telemetry.gd" in fixed.stdout
    assert _same_as_packaged(project)


def test_the_library_follows_the_same_rule(tmp_path: Path) -> None:
    project = _godot_project(tmp_path)
    install_godot_addon(project)
    (project / "addons" / "rlplaytest" / "sync.gd").write_text("changed")
    with pytest.raises(AddonConflict, match=r"sync\.gd") as info:
        install_godot_addon(project)
    assert info.value.files == ("sync.gd",) and isinstance(info.value, FileExistsError)
    assert install_godot_addon(project, force=True) == project / "addons" / "rlplaytest"
    assert _same_as_packaged(project)


def test_every_packaged_addon_file_is_a_shipped_version() -> None:
    """Without this, the next release could not tell this release's copy from a local change."""
    missing = [f'"{name}": add "{hashlib.sha256(src.read_bytes()).hexdigest()}"'
               for name, src in packaged_files().items() if hashlib.sha256(src.read_bytes()).hexdigest()
               not in SHIPPED_DIGESTS.get(name, frozenset())]
    assert not missing, "add to SHIPPED_DIGESTS in pytest_rlplaytest/engines/godot/install.py: " + "; ".join(missing)


def test_settings_for_cli_reads_flags_environment_and_ini(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nrl_baselines_dir = from_ini\nrl_seed = 7\n")
    args = argparse.Namespace(rootdir=str(tmp_path), baselines_dir=None, times=3)
    settings = settings_for_cli(args, environ={})
    assert settings.baselines_dir == tmp_path / "from_ini" and settings.seed == 7
    assert settings.sources["baselines_dir"] == "ini rl_baselines_dir"
    settings = settings_for_cli(args, environ={"RLPLAYTEST_BASELINES_DIR": "from_env"})
    assert settings.baselines_dir == tmp_path / "from_env" and settings.sources["baselines_dir"] == "RLPLAYTEST_BASELINES_DIR"
    args.baselines_dir = "from_flag"
    assert settings_for_cli(args, environ={"RLPLAYTEST_BASELINES_DIR": "from_env"}).baselines_dir == tmp_path / "from_flag"
    with pytest.raises(SettingError, match="RLPLAYTEST_SEED='x' is invalid"):
        settings_for_cli(args, environ={"RLPLAYTEST_SEED": "x"})


def test_settings_for_cli_reads_pyproject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\nrl_artifacts = "out"\nrl_seed = 3\n')
    monkeypatch.chdir(tmp_path)  # --rootdir defaults to the current folder
    settings = settings_for_cli(argparse.Namespace(), environ={})
    assert settings.artifacts == tmp_path / "out" and settings.seed == 3 and settings.rootdir == tmp_path


def test_replay_resolves_the_bundles_game_against_the_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "bundles" / "seam.json"
    bundle.parent.mkdir()
    bundle.write_text(json.dumps({"schema_version": BUNDLE_SCHEMA_VERSION, "signature": "event:out_of_world",
                                  "env": "godot:../nogame", "seed": 1, "actions": [[0.0]], "hit_step": 1}))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["replay", str(bundle)]) == 2
    err = capsys.readouterr().err
    assert PathBase.content(bundle).describe("../nogame") in err, err
    assert "the folder of seam.json" in err and "rootdir" not in err


def test_console_script_help() -> None:
    out = subprocess.run([sys.executable, "-m", "pytest_rlplaytest.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("report", "export-onnx", "install-godot-addon", "baselines", "replay", "shrink"):
        assert command in out
