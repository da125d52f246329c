"""Runs last (file order): no Godot process started by the tests may survive them."""

from __future__ import annotations

import os
from pathlib import Path

from pytest_rlplaytest.engines.godot.process import live_processes


def _godot_children() -> list[str]:
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
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if "godot" in cmdline.lower() and (ppid == me or "probe_project" in cmdline or "counter_project" in cmdline
                                                    or "fake_godot" in cmdline):
            if " Z " not in stat.rsplit(")", 1)[1][:3]:
                found.append(f"{pid_dir.name}: {cmdline}")
    return found


def test_no_godot_process_survives_the_tests() -> None:
    assert live_processes() == []
    assert _godot_children() == []
