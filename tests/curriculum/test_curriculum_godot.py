"""A curriculum on a real Godot game (godot3-server and the probe project): each stage's game is
launched with the stage's game arguments, its reward mode as ``--reward_mode=...``, and closed
before the next stage's; the scenario's playtest runs on the last stage's game."""

from __future__ import annotations

import json

import pytest

GODOT_STAGES = """
import pytest

@pytest.mark.rl_scenario(env="godot:game", agents=2, episodes=4, max_episode_steps=30,
                         success=lambda episode: episode.length >= 1,
                         algo_kwargs=dict(n_steps=64, n_epochs=1, batch_size=64), curriculum=[
    dict(name="short", timesteps=128, env_kwargs=dict(episode_steps=10), reward="dense",
         promote=dict(at_least=0.5, episodes=6)),
    dict(name="long", timesteps=128, env_kwargs=dict(episode_steps=30), reward="sparse"),
])
def test_stages(rl_playtest):
    from pytest_rlplaytest.engines.godot.process import live_processes

    print("LIVE", len(live_processes()))  # only the last stage's game: the first closed with its stage
    result = rl_playtest()
    print("LENGTHS", sorted({episode.length for episode in result.episodes}))
"""


@pytest.mark.needs_godot
def test_each_stage_plays_its_own_godot_game(godot_probe: pytest.Pytester) -> None:
    godot_probe.makepyfile(test_godot_stages=GODOT_STAGES)
    art = godot_probe.path / "art"
    result = godot_probe.runpytest("-s", f"--rl-artifacts={art}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*LIVE 1*"])
    assert "LENGTHS [30]" in result.stdout.str()  # the playtest: the last stage's 30-step episodes
    folder = art / "test_godot_stages.py__test_stages"
    first = (folder / "stage-short" / "godot.log").read_text().splitlines()[0]
    last = (folder / "godot.log").read_text().splitlines()[0]
    assert "--episode_steps=10 --reward_mode=dense" in first and "--episode_steps=30 --reward_mode=sparse" in last
    record = json.loads((folder / "curriculum.json").read_text())
    short, long_ = record["stages"]
    assert (short["verdict"], short["successes"], short["episodes"], short["timesteps_used"]) == ("pass", 6, 6, 128)
    assert (long_["verdict"], long_["timesteps_used"]) == ("trained", 128)
