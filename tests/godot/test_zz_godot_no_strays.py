"""Runs last (file order): no Godot process started by the tests may survive them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_rlplaytest.engines.godot.process import live_processes


def _godot_children(marker: str) -> list[str]:
    """Live Godot processes (real or doubles) that this test process started: its children, or any
    process whose command line names this process's temporary folder (the game copies and the
    doubles' wrappers live there), also after being re-parented. Under ``pytest -n`` another
    worker's games are that worker's business: they live under its own folder."""
    me = os.getpid()
    found = []
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            stat = (pid_dir / "stat").read_text()
            cmdline = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if "godot" in cmdline.lower() and (int(fields[1]) == me or marker in cmdline) and fields[0] != "Z":
            found.append(f"{pid_dir.name}: {cmdline}")
    return found


def test_no_godot_process_survives_the_tests(tmp_path_factory: pytest.TempPathFactory) -> None:
    assert live_processes() == []
    assert _godot_children(str(tmp_path_factory.getbasetemp())) == []
