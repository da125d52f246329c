"""The throughput benchmark runs (briefly) in CI: both drivers, ours and godot-rl's GodotEnv, on the
same scene. Only its output is checked here; the speed figures are the benchmark's job."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_godot

REPO = Path(__file__).resolve().parents[2]


def test_throughput_benchmark_runs_both_drivers() -> None:
    pytest.importorskip("godot_rl.core.godot_env", reason="pip install --no-deps godot-rl==0.8.2")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "godot_throughput.py"), "--steps", "200",
                          "--rounds", "2", "--agents", "1", "4"], capture_output=True, text=True, env=env,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("agents= 1 ") and lines[1].startswith("agents= 4 "), lines
    last = re.fullmatch(r"ratio_vs_godot_rl=(\S+) agent_steps_per_s_16=(\S+) first_obs_ms=(\S+)", lines[-1])
    assert last is not None, lines[-1]
    assert float(last.group(1)) > 0 and float(last.group(3)) > 0
    for line in lines[:-1]:
        ours, theirs = (float(x) for x in re.findall(r"(?:ours|godot-rl)=\s*(\d+) agent-steps/s", line)[:2])
        assert ours > 0 and theirs > 0, line
