"""Throughput of pytest-rlplaytest's Godot driver vs godot-rl's GodotEnv on the same scene.

The scene is ``benchmarks/godot_bench/bench.tscn``: trivial game logic (each agent is a point moving on
a plane; 8 observations, one continuous action key of size 2, an episode ends after 200 steps), so
the benchmark measures the drivers and the wire protocol, not the game. The folder is copied to a
temporary directory and the rlplaytest addon installed into it (``install_godot_addon``); both
drivers then talk to the very same game and addon.

How the drivers are configured (identically wherever both have the knob):

* the game: ``godot3-server --path <copy> --fixed-fps 60 res://bench.tscn --port=P --env_seed=1
  --agents=N`` (lockstep physics; no ``--speedup``/``--action_repeat``, so both run at the
  addon's defaults: speedup 1, action_repeat 1, i.e. one physics frame per step). We build this
  command with our ``build_command`` (``GodotEngine``); for godot-rl we launch exactly the same
  command ourselves (its ``GodotEnv`` can only launch exported binaries), then let
  ``GodotEnv(port=P, convert_action_space=True)`` accept the connection. Each driver has its own
  game instance; all instances are alive for the whole measurement (an idle one sleeps on its socket).
* ours (``ours``): the ``GodotVecEnv`` (SB3 ``VecEnv``) of ``GodotEngine(...).make_vec_env()``, stepped
  directly; each ``step`` validates the reply and returns numpy arrays (obs, rewards, dones) and
  per-agent info dicts (telemetry, episode seed; ``terminal_observation`` and
  ``TimeLimit.truncated`` on episode ends). Our handshake offers the addon's binary blocks, so the
  actions go out as one float32 block and the game answers with one (observations, rewards and
  telemetry; JSON only for dones and infos where there are any), and ``--rl-recv-spin-us auto``
  (``--recv-spin-us``) has both sides poll briefly before a blocking read: the driver itself, the
  game through the addon's ``recv_spin`` message (``addon/sync.gd``).
* also reported, not used for the ratio (``ours+VecMonitor``): the same driver stepped through the
  SB3 ``VecMonitor`` that ``make_vec_env()`` wraps it in (episode bookkeeping, as a playtest steps it).
* godot-rl: ``GodotEnv.step(actions)`` with ``convert_action_space=True`` (the flat ``Box(-1, 1, (2,))``
  action SB3 uses); it returns the parsed JSON lists as they are (no numpy conversion, no checks).
  Its handshake offers nothing and it sends no ``recv_spin``, so the addon answers it in plain Godot RL
  Agents JSON and blocks in its reads, as any game of the plain protocol does.
* all: the same pre-drawn random float32 actions ``(N, 2)``, N agents in one instance; timing starts
  after ``reset()`` and 20 warm-up steps.

Measurement: ``--rounds`` alternating chunks of ``--steps / --rounds`` vector steps per driver (the
order flips every round) so that load from other work on the machine hits all drivers alike. A
rate is agent-steps over the driver's summed chunk times; the ratio is ours/godot-rl of those
rates (the per-round ratios' min/median/max are printed too). ``first_obs_ms``: from launching the
game to the first observation (reset reply), ours and godot-rl's.

Output: one line per agent count, then the last line
``ratio_vs_godot_rl=<x> agent_steps_per_s_16=<n> first_obs_ms=<n>`` where ``ratio_vs_godot_rl`` is
the SMALLER of the ratios ours/godot-rl (1 agent and 16 agents), so ``>= 1`` means at least as
fast in both settings; ``agent_steps_per_s_16`` is ours with 16 agents per instance;
``first_obs_ms`` is ours with 1 agent.

Usage: python benchmarks/godot_throughput.py [--steps 6000] [--rounds 12] [--agents 1 16] [--recv-spin-us auto]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BENCH_PROJECT = REPO / "benchmarks" / "godot_bench"
SCENE = "res://bench.tscn"


def prepare_project(tmp: Path) -> Path:
    """Copy the bench project to ``tmp`` and install the addon into it."""
    from pytest_rlplaytest.engines.godot.install import install_godot_addon

    dest = tmp / "godot_bench"
    shutil.copytree(BENCH_PROJECT, dest)
    install_godot_addon(dest)
    return dest


class Ours:
    """Our driver: the ``GodotVecEnv`` of ``GodotEngine(...).make_vec_env()`` on the bench scene
    (``monitored``: stepped through the ``VecMonitor`` that ``make_vec_env`` wraps it in)."""

    #: ``--rl-recv-spin-us`` of every instance (``--recv-spin-us``; -1: auto)
    recv_spin_us = -1

    def __init__(self, project: Path, agents: int, tmp: Path, monitored: bool = False) -> None:
        self.name = "ours+VecMonitor" if monitored else "ours"
        from pytest_rlplaytest.engines.base import EngineContext
        from pytest_rlplaytest.engines.godot.engine import GodotEngine
        from pytest_rlplaytest.settings import Settings

        settings = Settings.defaults(REPO).replace(recv_spin_us=self.recv_spin_us)
        self.engine = GodotEngine(str(project), EngineContext(tmp, seed=1, options={"scene": SCENE, "agents": agents},
                                                              settings=settings))
        self.engine.start()
        monitor = self.engine.make_vec_env()
        self.venv = monitor if monitored else monitor.venv
        self.venv.reset()
        self.first_obs_ms = monitor.venv.sessions[0].first_obs_seconds * 1000

    def step(self, actions: np.ndarray) -> None:
        self.venv.step(actions)

    def close(self) -> None:
        self.engine.close()


class Theirs:
    """godot-rl's ``GodotEnv`` (we launch Godot with the same command line: it cannot run a project folder)."""

    name = "godot-rl"

    def __init__(self, project: Path, agents: int, tmp: Path) -> None:
        from pytest_rlplaytest.engines.godot.binary import GameLocation, build_command, find_godot

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = build_command(find_godot(os.environ.get("GODOT_BIN")), GameLocation(project, exported=False),
                            port=port, seed=1, scene=SCENE, fixed_fps=60, agents=agents)
        started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, cwd=str(project))
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # GodotEnv prints
                self.env = self.connect(port)
        except BaseException:
            self.kill()
            raise
        self.first_obs_ms = (time.monotonic() - started) * 1000

    @staticmethod
    def connect(port: int) -> Any:
        """Accept the game's connection on ``port`` and reset it (the launched game connects to it)."""
        from godot_rl.core.godot_env import GodotEnv

        env = GodotEnv(port=port, convert_action_space=True)
        env.reset()
        return env

    def step(self, actions: np.ndarray) -> None:
        self.env.step(actions)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def close(self) -> None:
        import atexit

        with contextlib.suppress(OSError):
            self.env.connection.close()  # (GodotEnv.close() sleeps 1 s; the game is killed below)
        atexit.unregister(self.env._close)
        self.kill()


def measure(project: Path, agents: int, steps: int, rounds: int, tmp: Path) -> dict[str, Any]:
    """Both drivers on their own game instance, alive together; ``rounds`` alternating chunks of
    ``steps // rounds`` vector steps each. Returns agent-steps/s per driver and first_obs_ms."""
    drivers: list[Any] = []
    try:
        drivers.append(Ours(project, agents, tmp / f"ours{agents}"))
        drivers.append(Theirs(project, agents, tmp))
        drivers.append(Ours(project, agents, tmp / f"monitored{agents}", monitored=True))
        chunk = max(1, steps // rounds)
        actions = np.random.default_rng(0).uniform(-1, 1, (chunk, agents, 2)).astype(np.float32)
        for d in drivers:  # warm-up
            for a in actions[:20]:
                d.step(a)
        elapsed = {d.name: 0.0 for d in drivers}
        per_round: dict[str, list[float]] = {d.name: [] for d in drivers}
        for r in range(rounds):
            for d in (drivers if r % 2 == 0 else drivers[::-1]):  # alternate who goes first
                start = time.perf_counter()
                for a in actions:
                    d.step(a)
                took = time.perf_counter() - start
                elapsed[d.name] += took
                per_round[d.name].append(chunk * agents / took)
        return {
            **{d.name: chunk * rounds * agents / elapsed[d.name] for d in drivers},
            "first_obs_ms": drivers[0].first_obs_ms,
            "their_first_obs_ms": drivers[1].first_obs_ms,
            "per_round": per_round,
        }
    finally:
        for d in drivers:
            d.close()


def add_spin_argument(parser: argparse.ArgumentParser) -> None:
    """``--recv-spin-us auto|off|N``: our driver's ``--rl-recv-spin-us`` (sets :attr:`Ours.recv_spin_us`)."""
    from pytest_rlplaytest.settings import spin_microseconds

    def apply(text: str) -> int:
        Ours.recv_spin_us = spin_microseconds(text)
        return Ours.recv_spin_us

    parser.add_argument("--recv-spin-us", type=apply, default="auto", help="our driver's --rl-recv-spin-us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000, help="vector steps per driver and agent count")
    parser.add_argument("--rounds", type=int, default=12, help="alternating chunks per driver")
    parser.add_argument("--agents", type=int, nargs="+", default=[1, 16], help="agents per instance")
    add_spin_argument(parser)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        project = prepare_project(Path(tmp))
        Ours(project, 1, Path(tmp) / "warmup").close()  # the first launch pays for cold caches: not measured
        for agents in args.agents:
            m = measure(project, agents, args.steps, args.rounds, Path(tmp))
            results[agents] = m
            ratios = [a / b for a, b in zip(m["per_round"]["ours"], m["per_round"]["godot-rl"])]
            print(f"agents={agents:2d}  ours={m['ours']:7.0f} agent-steps/s  godot-rl={m['godot-rl']:7.0f} "
                  f"agent-steps/s  ratio={m['ours'] / m['godot-rl']:.2f} (per round: min {min(ratios):.2f}, "
                  f"median {statistics.median(ratios):.2f}, max {max(ratios):.2f})  "
                  f"ours+VecMonitor={m['ours+VecMonitor']:7.0f} agent-steps/s "
                  f"(ratio {m['ours+VecMonitor'] / m['godot-rl']:.2f})  first_obs_ms={m['first_obs_ms']:.0f} "
                  f"(godot-rl {m['their_first_obs_ms']:.0f})", flush=True)
    ratio = min(m["ours"] / m["godot-rl"] for m in results.values())
    rate16 = results[16]["ours"] if 16 in results else float("nan")
    first = results[min(results)]["first_obs_ms"]
    print(f"ratio_vs_godot_rl={ratio:.2f} agent_steps_per_s_16={rate16:.0f} first_obs_ms={first:.0f}")


if __name__ == "__main__":
    main()
