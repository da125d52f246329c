"""Smoke oracles and determinism on the real godot3-server, through the plugin as a user runs it:
``@pytest.mark.rl_smoke(env="godot:<project>")`` finds the probe project's scene (it holds a Sync
node), the probe plays cleanly, and a GDScript error the game survives fails ``script_error`` at the
step it was printed, with a replay bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_godot

SMOKE = """
import pytest
from pytest_rlplaytest import assert_deterministic

@pytest.mark.rl_smoke(env="godot:{project}", steps=60, resets=3, seed=4, env_kwargs={{"episode_steps": 1000}},
                      godot_args={godot_args!r})
def test_smoke(rl_smoke):
    report = rl_smoke.check()
    assert report.steps == 60 and report.not_applicable == ["time_limit"], report
    assert len(report.leak_samples["object_count"]) == 3
    assert_deterministic(rl_smoke.engine, steps=20, n_envs=2)
"""


def _run(pytester: pytest.Pytester, project: Path, godot_args: list[str]) -> pytest.RunResult:
    pytester.makepyfile(test_probe=SMOKE.format(project=project, godot_args=godot_args))
    return pytester.runpytest("-v", "-p", "no:cacheprovider", "--rl-artifacts=art", "--rl-require-engines=godot")


def test_every_sync_scene_of_a_project_is_checked_and_a_clean_one_passes(pytester: pytest.Pytester,
                                                                         probe_project: Path) -> None:
    result = _run(pytester, probe_project, [])
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*SCRIPT ERROR*")
    result.stdout.fnmatch_lines(["*test_probe.py::test_smoke[[]probe[]] PASSED*"])  # one test per Sync scene


def test_a_script_error_fails_the_script_error_oracle(pytester: pytest.Pytester, probe_project: Path) -> None:
    result = _run(pytester, probe_project, ["--fault=soft_error", "--fault_at=7"])
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*SmokeFailure: rl_smoke test_probe.py::test_smoke[[]probe[]]: oracle script_error "
                                 "failed at step *: the game logged: SCRIPT ERROR: *this_method_does_not_exist*"])
    (bundle,) = (pytester.path / "art").rglob("smoke-script_error.json")
    data = json.loads(bundle.read_text())
    assert data["signature"] == r"log:^\s*(SCRIPT ERROR|ERROR):" and data["engine_options"]["scene"] == "res://probe.tscn"
    assert data["world_seed"] == 4 and 1 <= data["hit_step"] <= 8
    # the bundle is a bug-hunt bundle: `rlplaytest replay` plays it again and sees the error recur
    from pytest_rlplaytest.cli import main

    assert main(["replay", str(bundle)]) == 0
