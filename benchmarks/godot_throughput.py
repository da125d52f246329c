"""Throughput of pytest-rlplaytest's Godot driver vs godot-rl's GodotEnv on the same scene.

Runs the example project's landing scene headless (lockstep, --fixed-fps 60) with 1 and 16 agents
per instance, random actions, and reports agent-steps per second for both drivers plus our time
from launch to the first observation. Last line:
``ratio_vs_godot_rl=<ours/theirs at 16 agents> agent_steps_per_s_16=<ours> first_obs_ms=<ours>``.

Usage: python benchmarks/godot_throughput.py [--steps 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "example_project" / "godot"
SCENE = "res://scenes/landing.tscn"


def ours(agents: int, steps: int) -> tuple[float, float]:
    """(agent-steps/s, ms from launch to first observation) with our driver."""
    from pytest_rlplaytest.engines.base import EngineContext
    from pytest_rlplaytest.engines.godot.engine import GodotEngine
    from pytest_rlplaytest.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(values={"engine_timeout": 30.0, "godot_bin": None}, rootdir=REPO)
        engine = GodotEngine(str(PROJECT), EngineContext(Path(tmp), seed=1, options={"scene": SCENE, "agents": agents},
                                                         settings=settings))
        engine.start()
        try:
            venv = engine.make_vec_env()
            venv.reset()
            first_obs_ms = venv.venv.sessions[0].first_obs_seconds * 1000
            actions = np.random.default_rng(0).uniform(-1, 1, (steps, agents, 2)).astype(np.float32)
            start = time.perf_counter()
            for a in actions:
                venv.step(a)
            rate = steps * agents / (time.perf_counter() - start)
        finally:
            engine.close()
    return rate, first_obs_ms


def theirs(agents: int, steps: int) -> float:
    """agent-steps/s with godot-rl's GodotEnv (we launch Godot; it cannot run a project folder)."""
    from godot_rl.core.godot_env import GodotEnv

    from pytest_rlplaytest.engines.godot.binary import find_godot

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([find_godot(os.environ.get("GODOT_BIN")).path, "--path", str(PROJECT), "--fixed-fps", "60",
                             SCENE, f"--port={port}", "--env_seed=1", f"--agents={agents}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # GodotEnv prints
            env = GodotEnv(port=port, convert_action_space=True)
            env.reset()
            actions = np.random.default_rng(0).uniform(-1, 1, (steps, agents, 2)).astype(np.float32)
            start = time.perf_counter()
            for a in actions:
                env.step(a)
            rate = steps * agents / (time.perf_counter() - start)
            env.close()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="vector steps per measurement")
    args = parser.parse_args()
    results = {}
    for agents in (1, 16):
        rate, first = ours(agents, args.steps)
        their_rate = theirs(agents, args.steps)
        results[agents] = (rate, first, their_rate)
        print(f"agents={agents:2d}  ours={rate:9.0f} agent-steps/s  godot-rl={their_rate:9.0f} agent-steps/s  "
              f"ratio={rate / their_rate:.2f}  first_obs_ms={first:.0f}")
    rate16, _, their16 = results[16]
    print(f"ratio_vs_godot_rl={rate16 / their16:.2f} agent_steps_per_s_16={rate16:.0f} "
          f"first_obs_ms={results[1][1]:.0f}")


if __name__ == "__main__":
    main()
