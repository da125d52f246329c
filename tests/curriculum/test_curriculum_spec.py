"""Bad curriculum specs get clear errors naming the stage and the fix; a good one is resolved into
stages whose game arguments, engine options and budgets are merged and capped, the scenario itself
taking the last stage's game."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_rlplaytest.plugin import _engine_options_allowed
from pytest_rlplaytest.scenario import ScenarioError, ScenarioSpec, build_spec
from pytest_rlplaytest.settings import Settings

SMALL = dict(name="small", timesteps=100, promote=dict(at_least=0.8))
LARGE = dict(name="large", timesteps=200)


def _spec(tmp_path: Path, env: str = "Ladder-v0", cap: int | None = None, **marker: Any) -> ScenarioSpec:
    settings = Settings.defaults(tmp_path)
    if cap is not None:
        settings = settings.replace(timesteps=cap)
    return build_spec((env,), marker, nodeid="test_x.py::test_x", settings=settings, test_file=tmp_path / "test_x.py",
                      engine_options_allowed=_engine_options_allowed)


@pytest.mark.parametrize(("curriculum", "message"), [
    ("small", "curriculum must be a list of stages (dicts), e.g. curriculum=[dict(name='small'"),
    ([SMALL], "curriculum needs at least two stages (a single stage is the scenario itself"),
    ([SMALL, "large"], "curriculum stage 2 must be a dict with name=, timesteps= and promote="),
    ([{**SMALL, "name": "a b"}, LARGE], "curriculum stage 1 needs name= made of letters, digits, '_' and '-'"),
    ([{**SMALL, "timesteps": 0}, LARGE], "curriculum stage 1 ('small') needs timesteps= (its training budget)"),
    ([{"name": "small", "timesteps": 100}, LARGE], "curriculum stage 1 ('small') needs promote= (every stage but "
                                                   "the last has a promotion rule)"),
    ([{**SMALL, "promote": dict(at_least=1.0)}, LARGE], "promote needs at_least= strictly between 0 and 1"),
    ([{**SMALL, "promote": dict(atleast=0.8)}, LARGE], "promote got an unknown key 'atleast'; did you mean "
                                                       "'at_least'?"),
    ([{**SMALL, "promote": dict(at_least=0.8, confidence=0.3)}, LARGE], "confidence must be strictly between 0.5"),
    ([{**SMALL, "promote": dict(at_least=0.8, episodes=0)}, LARGE], "promote's episodes must be a whole number"),
    ([{**SMALL, "env_kwargs": [1]}, LARGE], "stage 1 ('small'): env_kwargs must be a dict"),
    ([{**SMALL, "reward": 3}, LARGE], "reward must be a non-empty string (given to the game as reward_mode=...)"),
    ([SMALL, {**LARGE, "name": "small"}], "curriculum has two stages named 'small': stage names must be unique"),
    ([SMALL, {**LARGE, "algo": "A2C"}], "stage 2 ('large'): 'algo' is the same for every stage (one model trains "
                                        "through the curriculum): give it to rl_scenario"),
    ([SMALL, {**LARGE, "envkwargs": {}}], "stage 2 ('large') got an unknown key 'envkwargs'; did you mean "
                                          "'env_kwargs'?"),
])
def test_a_bad_curriculum_names_the_stage_and_the_fix(tmp_path: Path, curriculum: Any, message: str) -> None:
    with pytest.raises(ScenarioError) as error:
        _spec(tmp_path, curriculum=curriculum)
    assert str(error.value).startswith("test_x.py::test_x: rl_scenario(curriculum=")
    assert message in str(error.value)


@pytest.mark.parametrize(("marker", "message"), [
    (dict(timesteps=500), "with timesteps=: give each stage its own timesteps="),
    (dict(model="agent.zip"), "with model=: a curriculum trains its agent"),
    (dict(normalize=True), "with normalize=: VecNormalize statistics are not carried from stage to stage"),
    (dict(self_play=dict(snapshot_every=64, mix={"latest": 1.0})), "with self_play=: self-play trains against"),
])
def test_scenario_arguments_a_curriculum_cannot_take(tmp_path: Path, marker: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match="rl_scenario\\(curriculum=...\\) " + message.split(":")[0]) as error:
        _spec(tmp_path, curriculum=[SMALL, LARGE], **marker)
    assert message in str(error.value)


def test_engine_options_are_checked_against_the_stages_engine(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="stage 2 \\('large'\\) got an unknown key 'scen'; did you mean 'scene'"):
        _spec(tmp_path, env="godot:game", curriculum=[SMALL, {**LARGE, "scen": "res://large.tscn"}])
    with pytest.raises(ScenarioError, match="a SpacetimeDB module has none; give the stage its own mapping="):
        _spec(tmp_path, env="spacetimedb:module", curriculum=[SMALL, {**LARGE, "reward": "sparse"}])


def test_stages_merge_over_the_marker_and_the_scenario_plays_the_last(tmp_path: Path) -> None:
    spec = _spec(tmp_path, env="godot:game", scene="res://small.tscn", speedup=4, env_kwargs=dict(size=4, walls=1),
                 curriculum=[{**SMALL, "env_kwargs": dict(size=6)},
                             {**LARGE, "env_kwargs": dict(size=8), "reward": "sparse", "scene": "res://large.tscn"}])
    small, large = spec.curriculum
    assert dict(small.env_kwargs) == {"size": 6, "walls": 1}
    assert dict(small.engine_options) == {"scene": "res://small.tscn", "speedup": 4}
    assert dict(large.env_kwargs) == {"size": 8, "walls": 1, "reward_mode": "sparse"}  # reward= as a game argument
    assert dict(large.engine_options) == {"scene": "res://large.tscn", "speedup": 4}
    assert dict(spec.env_kwargs) == dict(large.env_kwargs) and dict(spec.engine_options) == dict(large.engine_options)
    assert (small.promote.at_least, small.promote.confidence, small.promote.episodes) == (0.8, 0.95, None)
    assert large.promote is None  # the last stage may have no rule: the test's own verdict judges its game
    assert spec.timesteps == spec.requested_timesteps == 300
    assert spec.describe()["curriculum"][1]["env_kwargs"] == {"size": 8, "walls": 1, "reward_mode": "sparse"}


def test_rl_timesteps_caps_every_stage(tmp_path: Path) -> None:
    spec = _spec(tmp_path, cap=150, curriculum=[SMALL, LARGE])
    assert [(s.timesteps, s.requested_timesteps) for s in spec.curriculum] == [(100, 100), (150, 200)]
    assert (spec.timesteps, spec.requested_timesteps) == (250, 300)


def test_a_bad_curriculum_fails_the_test_naming_it(ladder_game: pytest.Pytester) -> None:
    ladder_game.makepyfile(test_bad="""
        import pytest

        @pytest.mark.rl_scenario(env="Ladder-v0", curriculum=[dict(name="small", timesteps=100), dict(name="large",
                                                                                                  timesteps=100)])
        def test_bad(rl_playtest):
            pass
        """)
    result = ladder_game.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*test_bad.py::test_bad: rl_scenario(curriculum=*): curriculum stage 1 ('small') "
                                 "needs promote=*"])
