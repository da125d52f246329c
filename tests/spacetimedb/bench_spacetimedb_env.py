"""Steps per second of the SpacetimeDB env against the fake server test double (run by hand).

    /work/venv/bin/python tests/spacetimedb/bench_spacetimedb_env.py [steps] [tick_ms ...]

For each server tick period: one SpacetimeEnv (one agent) and a 4-agent concurrent VecEnv, random
actions, step clock = one ``entity`` transaction (max wait 3 ticks). A real Blackholio server ticks
every 50 ms, so expect at most ~20 steps/s per agent there; the figures at short ticks show the
client/env overhead.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from fake_spacetimedb_server import FakeServerThread

from pytest_rlplaytest.engines.spacetimedb.blackholio import BLACKHOLIO
from pytest_rlplaytest.engines.spacetimedb.env import LoopThread, SpacetimeEnv, concurrent_vec_env
from pytest_rlplaytest.engines.spacetimedb.mapping import StepClock


def bench(tick_ms: float, steps: int) -> None:
    mapping = dataclasses.replace(BLACKHOLIO, clock=StepClock("entity", 1, max_wait_ms=3 * tick_ms))
    rng = np.random.default_rng(0)
    with FakeServerThread(tick_ms=tick_ms, food_ms=100) as srv:
        env = SpacetimeEnv(srv.url, "blackholio", mapping, timeout=10)
        env.reset()
        started = time.perf_counter()
        for _ in range(steps):
            _, _, terminated, _, _ = env.step(int(rng.integers(9)))
            if terminated:
                env.reset()
        single = steps / (time.perf_counter() - started)
        env.close()
        loop = LoopThread()
        venv = concurrent_vec_env([lambda i=i: SpacetimeEnv(srv.url, "blackholio", mapping, name=f"b{i}",
                                                            timeout=10, loop=loop) for i in range(4)])
        venv.reset()
        started = time.perf_counter()
        for _ in range(steps // 4):
            venv.step(rng.integers(9, size=4))
        multi = (steps // 4) * 4 / (time.perf_counter() - started)
        venv.close()
        loop.close()
    print(f"tick {tick_ms:5.1f} ms: 1 agent {single:7.1f} steps/s; 4 agents (VecEnv) {multi:7.1f} env-steps/s")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    for tick in [float(t) for t in sys.argv[2:]] or [1.0, 10.0, 50.0]:
        bench(tick, n)
