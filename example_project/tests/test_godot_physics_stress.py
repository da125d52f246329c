"""Godot example game, physics_stress scene: throwers fill a pit with rigid bodies.

Eight throwers (``godot/scripts/physics_thrower.gd``) stand on the rim of a walled pit and throw a
box or a sphere every step (at most 24 live bodies each: the oldest is freed first); every body is
freed when its thrower's episode resets. A seeded random thrower plays 10 episodes of 100 steps per
agent (1000 consecutive physics frames), and the test's verdicts are:

* the frame budget over those 1000 frames (``assert_frame_budget``: generous, as wall-clock frame
  costs are noisy on shared CI machines: only a pathological regression exceeds it);
* ``static_memory_mb`` (the engine's static memory, see ``pytest_rlplaytest.telemetry``) under a
  budget in every step;
* no physics warning or error in the game's log (a log signature, as a bug hunt's ``log:`` bug);
* no growth of the world's object count across episodes: the count in the first step after each
  reset must show no upward trend (``assert_no_growth``: a one-sided slope test, H0: slope <= 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pytest_rlplaytest import assert_frame_budget, assert_no_growth, run_playtest
from pytest_rlplaytest.bughunt.signature import BugSignature

pytestmark = pytest.mark.needs_godot

AGENTS = 8
EPISODE_STEPS = 100    # physics_thrower.gd max_steps
EPISODES_PER_AGENT = 10
PHYSICS = dict(env="godot:../godot", scene="res://scenes/physics_stress.tscn", kind="physics_stress",
               agents=AGENTS)
#: generous budgets (the pit holds at most 8 x 24 bodies; about 13 ms p99 and 12 MB here)
FRAME_P99_BUDGET_MS = 100.0
STATIC_MEMORY_BUDGET_MB = 64.0
#: what the physics server and the engine print when a body or shape goes wrong
PHYSICS_TROUBLE = BugSignature.parse(r"log:(?i)WARNING|ERROR|physics|rigidbody|collision")


class RandomThrower:
    """Uniform random throws in [-1, 1]^3 for every agent, from a seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, None]:
        """One random throw per agent."""
        return self.rng.uniform(-1.0, 1.0, (len(observation), 3)).astype(np.float32), None


@pytest.mark.rl_scenario(**PHYSICS, episodes=AGENTS * EPISODES_PER_AGENT)
def test_physics_stress_random_thrower(rl_env, rl_scenario, rl_property):
    result = run_playtest(RandomThrower(rl_scenario.seed), rl_env, AGENTS * EPISODES_PER_AGENT,
                          seed=rl_scenario.seed)
    first = sorted((e for e in result.episodes if e.env_index == 0), key=lambda e: e.index)
    assert [e.length for e in first] == [EPISODE_STEPS] * EPISODES_PER_AGENT  # 1000 consecutive frames
    assert max(result.step_values("bodies")) == 24  # the pit really filled up
    frames = assert_frame_budget(result, p99_ms=FRAME_P99_BUDGET_MS)
    memory = result.step_values("static_memory_mb")
    rl_property("physics_frame_ms_p99", float(np.percentile(result.step_values("frame_ms"), 99)))
    rl_property("physics_static_memory_mb_max", float(memory.max()))
    assert frames.details["frames"] == AGENTS * EPISODE_STEPS * EPISODES_PER_AGENT
    assert memory.size and memory.max() <= STATIC_MEMORY_BUDGET_MB, f"static memory peaked at {memory.max():.1f} MB"
    log = rl_env.unwrapped.new_log_lines(0)
    assert any(line.startswith("Godot Engine v3") for line in log), log[:5]  # the log was really read
    trouble = [line for line in log if PHYSICS_TROUBLE.hit({}, [line])]
    assert not trouble, f"physics trouble in the game's log: {trouble[:5]}"
    after_reset = [e.metrics["object_count"][0] for e in first]
    rl_property("physics_object_count_after_reset", str(after_reset))
    assert_no_growth(after_reset, what="object_count after reset")
