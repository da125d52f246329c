"""Agent steps per second against the server double, and the client's share spent decoding (run by hand).

    PYTHONPATH=. python tests/spacetimedb/bench_spacetimedb_env.py [steps] [tick_ms ...]

The double runs in its own process (as a real server would). For each server tick period and 1, 4 and
16 agents (a concurrent VecEnv, random actions, the step clock = one ``entity`` transaction), in the
example module's world (400 wide, 480 food): env-steps per second, and the CPU time the client's loop
thread spent in ``parse_server_message`` + ``TableCache.apply`` (JSON parsing and row decoding: all
that a binary protocol could make cheaper) per env-step and as a share of the wall time. Blackholio ticks every
50 ms, so an agent takes at most ~20 steps/s there whatever the encoding; a decoder can raise that only
if decoding fills the tick. This decided protocol question 7 of issue 11: see the README.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from pytest_rlplaytest.engines.spacetimedb import cache, client
from pytest_rlplaytest.engines.spacetimedb.blackholio import BLACKHOLIO
from pytest_rlplaytest.engines.spacetimedb.env import LoopThread, SpacetimeEnv, concurrent_vec_env
from pytest_rlplaytest.engines.spacetimedb.mapping import StepClock

HERE = Path(__file__).resolve().parent
SPENT = {"decode": 0.0}


def _timed(fn: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()  # CPU time of the loop thread: waiting for the GIL is not counted
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT["decode"] += time.thread_time() - started
    return wrapper


client.codec.parse_server_message = _timed(client.codec.parse_server_message)  # type: ignore[method-assign]
cache.TableCache.apply = _timed(cache.TableCache.apply)  # type: ignore[method-assign]


def bench(tick_ms: float, agents: int, steps: int) -> str:
    mapping = dataclasses.replace(BLACKHOLIO, clock=StepClock("entity", 1, max_wait_ms=3 * tick_ms))
    rng = np.random.default_rng(0)
    server = subprocess.Popen([sys.executable, str(HERE / "fake_spacetimedb_server.py"), str(tick_ms), "400", "480"],
                              stdout=subprocess.PIPE, text=True, cwd=HERE)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        loop = LoopThread()
        venv = concurrent_vec_env([lambda i=i: SpacetimeEnv(url, "blackholio", mapping, name=f"b{i}",
                                                            timeout=10, loop=loop) for i in range(agents)])
        venv.reset()
        rounds = max(1, steps // agents)
        SPENT["decode"] = 0.0
        started = time.perf_counter()
        for _ in range(rounds):
            venv.step(rng.integers(9, size=agents))
        elapsed = time.perf_counter() - started
        decoded = SPENT["decode"]
        venv.close()
        loop.close()
    finally:
        server.kill()
        server.wait()
    n = rounds * agents
    return (f"tick {tick_ms:5.1f} ms, {agents:2d} agents: {n / elapsed:7.1f} env-steps/s "
            f"({n / elapsed / agents:5.1f} per agent); decoding {decoded / n * 1000:6.3f} ms per env-step "
            f"= {decoded / elapsed * 100:5.1f} % of the wall time")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    for tick in [float(t) for t in sys.argv[2:]] or [50.0, 10.0]:
        for count in (1, 4, 16):
            print(bench(tick, count, n), flush=True)
