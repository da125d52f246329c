"""Smoke oracles and determinism over every scene of the example game, without training.

``@pytest.mark.rl_smoke(env="godot:../godot")`` finds every scene of the project that holds a Sync
node and makes one test per scene (``test_every_scene_smoke[landing]``, ...). A seeded random agent
plays 300 steps in 5 segments: observations finite and in their space, rewards finite, no SCRIPT
ERROR / ERROR line in the log, object count and static memory not growing at every reset, the agent
not stuck, and each reset with the start seed giving the first observation again. The determinism
test plays the same seeds twice and in two instances at once, and must see identical trajectories.

Known finding (asserted, so the test fails once it is fixed and the entry must go): in bug_repro the
first reset of a fresh game instance happens before its physics space has stepped, so the ray
sensors see no wall (1.0) where every later reset with the same seed, and the first step, see one
(0.54 for this test's seed); ``reset_restores`` names it. Scenes whose start is far from walls
(locomotion with this seed) do not show it.
"""

from __future__ import annotations

import pytest

from pytest_rlplaytest import SmokeFailure, assert_deterministic

pytestmark = pytest.mark.needs_godot

#: scene -> the oracle its known finding fails
KNOWN_FINDINGS = {"res://scenes/bug_repro.tscn": "reset_restores"}
#: scene -> what determinism leaves out: the voxel flyer's reward is the chunk-building time it measures
NOT_DETERMINISTIC_BY_DESIGN = {"res://scenes/voxel_stress.tscn": ["reward", "chunk_build_ms"]}


@pytest.mark.rl_smoke(env="godot:../godot", steps=300, resets=5)
def test_every_scene_smoke(rl_smoke):
    known = KNOWN_FINDINGS.get(rl_smoke.scene)
    if known is not None:
        with pytest.raises(SmokeFailure, match=f"oracle {known} failed") as failure:
            rl_smoke.check()
        assert failure.value.bundle is not None and failure.value.bundle.is_file()
        return
    report = rl_smoke.check()
    assert report.steps == 300
    assert "script_error" not in report.not_applicable and "leak" not in report.not_applicable


@pytest.mark.rl_smoke(env="godot:../godot")
def test_every_scene_deterministic(rl_smoke):
    assert_deterministic(rl_smoke.engine, steps=60, n_envs=2,
                         ignore=NOT_DETERMINISTIC_BY_DESIGN.get(rl_smoke.scene, []))
