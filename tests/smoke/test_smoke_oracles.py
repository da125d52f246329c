"""The smoke oracles through the plugin: ``@pytest.mark.rl_smoke`` and the ``rl_smoke`` fixture on
small Gymnasium games, each with one planted fault; a failure names its oracle and the step and
writes a replay bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_rlplaytest.smoke import leak_test

GAMES = Path(__file__).with_name("smoke_games.py")

SMOKE_TEST = """
import pytest
from smoke_games import Walker

@pytest.mark.rl_smoke(env=Walker, env_kwargs={kwargs}, steps=100, resets=5, stuck_steps=10, seed=3{extra})
def test_smoke(rl_smoke):
    report = rl_smoke.check()
    print("REPORT", report.steps, sorted(report.leak_samples), report.not_applicable)
"""


@pytest.fixture
def games(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(GAMES, pytester.path / "smoke_games.py")
    pytester.syspathinsert()
    return pytester


def _smoke(pytester: pytest.Pytester, extra: str = "", **kwargs: object) -> pytest.RunResult:
    pytester.makepyfile(test_game=SMOKE_TEST.format(kwargs=repr(kwargs), extra=extra))
    return pytester.runpytest("-s", "--rl-artifacts=art")


def _failed_with(result: pytest.RunResult, oracle: str, step: int) -> dict[str, object]:
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*SmokeFailure: rl_smoke test_game.py::test_smoke: oracle {oracle} failed at "
                                 f"step {step} *"])
    (bundle,) = Path(result.stdout.str().split("replay bundle: ")[1].split()[0]).parent.glob(f"smoke-{oracle}.json")
    data: dict[str, object] = json.loads(bundle.read_text())
    assert data["signature"] == f"smoke:{oracle}" and data["env"] == "py:smoke_games:Walker"
    return data


def test_a_healthy_game_passes_every_oracle(games: pytest.Pytester) -> None:
    result = _smoke(games)
    result.assert_outcomes(passed=1)
    # 100 steps; object counts sampled at each reset; no Godot log and no time limit to judge
    assert "REPORT 100 ['object_count'] ['script_error', 'time_limit']" in result.stdout.str()


def test_a_nan_observation_fails_finite_observation(games: pytest.Pytester) -> None:
    result = _smoke(games, fault="nan", fault_at=4)
    data = _failed_with(result, "finite_observation", 4)
    assert "holds nan at index [1]" in result.stdout.str()
    assert len(data["actions"]) == 4 and data["hit_step"] == 4  # type: ignore[arg-type]


def test_an_out_of_space_observation_fails_observation_space(games: pytest.Pytester) -> None:
    result = _smoke(games, fault="out_of_space", fault_at=6)
    _failed_with(result, "observation_space", 6)
    out = result.stdout.str()
    assert "index [0] holds 42.0, outside [-10.0, 10.0]" in out and "observation: [42." in out


def test_an_object_count_growing_at_every_reset_fails_leak(games: pytest.Pytester) -> None:
    result = _smoke(games, fault="leak")
    _failed_with(result, "leak", 100)
    assert ("info['object_count'] grew at every one of 5 resets: [107.0, 114.0, 121.0, 128.0, 135.0] (the chance "
            "of that without growth is at most 1/5! = 0.0083)") in result.stdout.str()


def test_a_frozen_position_fails_stuck(games: pytest.Pytester) -> None:
    result = _smoke(games, fault="stuck", fault_at=3)
    _failed_with(result, "stuck", 12)  # frozen from step 3 on: unchanged for 10 steps at step 12
    assert "unchanged for 10 steps of random actions" in result.stdout.str()


def test_an_unseeded_start_fails_reset_restores(games: pytest.Pytester) -> None:
    result = _smoke(games, fault="unseeded")
    _failed_with(result, "reset_restores", 20)  # the second reset, after the first 20 steps


def test_a_nan_reward_fails_finite_reward(games: pytest.Pytester) -> None:
    result = _smoke(games, fault="nan_reward", fault_at=7)
    _failed_with(result, "finite_reward", 7)
    assert "reward is nan; the game must send finite numbers" in result.stdout.str()


def test_an_episode_past_its_time_limit_fails_time_limit(games: pytest.Pytester) -> None:
    # the walker needs 40 steps at least to reach an edge: a time limit of 8 steps is overrun
    result = _smoke(games, extra=", time_limit=8")
    _failed_with(result, "time_limit", 8)
    assert "the episode did not end within its time limit of 8 steps" in result.stdout.str()


def test_sync_scenes_are_found_outside_the_addons(tmp_path: Path) -> None:
    from pytest_rlplaytest.engines.godot.scenefile import sync_scenes

    sync = '[ext_resource path="res://addons/rlplaytest/sync.gd" type="Script" id=2]\n\n' \
           '[node name="Sync" type="Node" parent="."]\nscript = ExtResource( 2 )\n'
    (tmp_path / "project.godot").write_text("")
    for rel, text in {"scenes/a.tscn": sync, "b.tscn": sync.replace("rlplaytest/sync.gd", "godot_rl_agents/sync.gd"),
                      "scenes/menu.tscn": '[node name="Menu" type="Control"]\n',
                      "addons/rlplaytest/demo.tscn": sync}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text('[gd_scene load_steps=2 format=2]\n\n' + text)
    assert sync_scenes(tmp_path) == ["res://b.tscn", "res://scenes/a.tscn"]


def test_the_leak_test_is_strict_growth_at_every_reset() -> None:
    assert leak_test([1, 2, 3, 4, 5])
    assert not leak_test([1, 2, 2, 3, 4])  # one reset without growth: no leak claimed
    assert not leak_test([5, 4, 6, 7, 8])
    assert not leak_test([1, 2])  # too few resets to say


def test_rl_smoke_without_its_marker_fails_naming_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_game="def test_smoke(rl_smoke):\n    rl_smoke.check()\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the rl_smoke fixture needs @pytest.mark.rl_smoke(env=...)*"])


DETERMINISM_TEST = """
import pytest
from smoke_games import Walker
from pytest_rlplaytest import DeterminismFailure, assert_deterministic

@pytest.mark.rl_smoke(env=Walker, env_kwargs={kwargs}, seed=5)
def test_deterministic(rl_smoke):
    assert_deterministic(rl_smoke.engine, steps=30, n_envs=3)
"""


def test_a_seeded_game_is_deterministic(games: pytest.Pytester) -> None:
    games.makepyfile(test_game=DETERMINISM_TEST.format(kwargs="{}"))
    games.runpytest().assert_outcomes(passed=1)


def test_an_unseeded_random_number_fails_determinism_naming_step_and_key(games: pytest.Pytester) -> None:
    games.makepyfile(test_game=DETERMINISM_TEST.format(kwargs={"fault": "unseeded"}))
    result = games.runpytest()
    result.assert_outcomes(failed=1)
    # the unseeded start shows in the reset's observation: its first entry (the position)
    result.stdout.fnmatch_lines(["*DeterminismFailure: *not deterministic: with seed *, play 'again' diverged from the "
                                 "first play at the reset, observation[[]0[]]: * (first play) vs * (again)*"])


def test_an_unseeded_info_value_fails_determinism_at_its_step(games: pytest.Pytester) -> None:
    games.makepyfile(test_game=DETERMINISM_TEST.format(kwargs={"fault": "gust", "fault_at": 9}))
    result = games.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*play 'again' diverged from the first play at step 9, info[[]'gust'[]]: *"])


def test_copies_that_interfere_fail_determinism_together(games: pytest.Pytester) -> None:
    games.makepyfile(test_game=DETERMINISM_TEST.format(kwargs={"fault": "shared"}))
    result = games.runpytest()
    result.assert_outcomes(failed=1)
    # alone, copy 0 counts 1, 2, ...; beside two others it sees 1, 4, ...: step 2 differs
    result.stdout.fnmatch_lines(["*play 'together' diverged from the first play at step 2, info[[]'ticks'[]]: 2 "
                                 "(first play) vs 4 (together)*"])


def test_assert_deterministic_takes_a_scenario_engine(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cartpole="""
import pytest
from pytest_rlplaytest import VerdictFailure, assert_deterministic
from pytest_rlplaytest.verdicts import VerdictUsageError

@pytest.mark.rl_scenario(env="CartPole-v1")
def test_cartpole(rl_engine):
    assert_deterministic(rl_engine, steps=40, n_envs=3)
    with pytest.raises(VerdictUsageError, match="one seed per env"):
        assert_deterministic(rl_engine, n_envs=2, seeds=[1])
""")
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_bad_smoke_argument_fails_naming_it(games: pytest.Pytester) -> None:
    games.makepyfile(test_game="""
import pytest
from smoke_games import Walker

@pytest.mark.rl_smoke(env=Walker, steps=0)
def test_steps(rl_smoke):
    pass

@pytest.mark.rl_smoke(env=Walker, stepz=10)
def test_typo(rl_smoke):
    pass
""")
    result = games.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*test_game.py::test_steps: rl_smoke(steps=0): steps must be*",
                                 "*rl_smoke got an unknown argument 'stepz'; did you mean 'steps'?*"])
