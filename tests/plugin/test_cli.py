"""The `rlplaytest` command: report rebuilding and addon installation (export-onnx is in test_onnx.py,
baselines in tests/verdicts, replay/shrink in tests/bughunt)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_rlplaytest.cli import main


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


def test_install_godot_addon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["install-godot-addon", str(tmp_path)]) == 1  # not a Godot project
    assert "project.godot" in capsys.readouterr().err
    (tmp_path / "project.godot").write_text("config_version=4\n")
    assert main(["install-godot-addon", str(tmp_path)]) == 0
    installed = tmp_path / "addons" / "rlplaytest"
    assert {"sync.gd", "agent_controller.gd", "telemetry.gd"} <= {p.name for p in installed.iterdir()}


def test_console_script_help() -> None:
    out = subprocess.run([sys.executable, "-m", "pytest_rlplaytest.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("report", "export-onnx", "install-godot-addon", "baselines", "replay", "shrink"):
        assert command in out
