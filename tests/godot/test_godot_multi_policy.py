"""Multi-policy scenes: agents with different policy_names (and spaces) train one policy each in
the same game instances, are reported per policy, stored per policy and load back (main-branch
double, fake_godot4.py: ``agent_policy_names`` and per-agent spaces, sync.gd:98-102, 380-383,
428-438 at bf5d6a2)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

SCENE = ('godot_args=["--fake_scene=III", "--fake_policies=red,blue,red", "--fake_actions=discrete,continuous,discrete", '
         '"--fake_episode_frames=100000", "--fake_connect_delay_ms=100"]')


def _props(xml: Path) -> dict[str, dict[str, str]]:
    out = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        out[case.get("name", "")] = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
    return out


def test_two_policies_train_report_store_and_load(pytester: pytest.Pytester, fake_godot4: Path) -> None:
    project = fake_godot4.parent / "project"
    pytester.makepyfile(
        f"""
        import shutil
        from pathlib import Path

        import pytest

        HERE = Path(__file__).parent

        @pytest.mark.rl_scenario(env="godot:{project}", max_episode_steps=4, timesteps=64, episodes=4, seed=3,
                                 algo_kwargs=dict(n_steps=8, batch_size=8, n_epochs=1), {SCENE})
        def test_train(rl_playtest, rl_agent, rl_artifacts):
            assert sorted(rl_agent.policies) == ["blue", "red"]
            assert rl_agent.groups == {{"red": [0, 2], "blue": [1]}}
            assert rl_agent.policies["red"].num_timesteps == 64 and rl_agent.policies["blue"].num_timesteps == 64
            assert rl_agent.policies["blue"].action_space.shape == (3,)  # its own space: continuous
            assert str(rl_agent.policies["red"].action_space) == "Discrete(3)"
            result = rl_playtest()
            assert result.n_episodes == 4
            red, blue = result.policies["red"], result.policies["blue"]
            assert sorted(e.env_index for e in red.episodes) == [0, 0, 2] and [e.env_index for e in blue.episodes] == [1]
            assert red.timesteps == 64 and blue.training["agents"] == 1
            import json
            summary = json.loads((rl_artifacts / "summary.json").read_text())["summary"]
            assert summary["policies"]["red"]["episodes"] == 3 and summary["policies"]["blue"]["episodes"] == 1
            from pytest_rlplaytest.agents import check_onnx_matches, export_onnx

            for name in ("red", "blue"):  # each policy exports to ONNX on its own, agreeing with torch
                onnx_path = export_onnx(rl_agent.policies[name], rl_artifacts / f"{{name}}.onnx")
                assert check_onnx_matches(rl_agent.policies[name], onnx_path, n=32, seed=0) == 1.0
            for name in ("red", "blue"):
                zip_path = rl_artifacts / "policies" / name / "model.zip"
                assert zip_path.is_file()
                shutil.copy(zip_path, HERE / f"{{name}}.zip")

        @pytest.mark.rl_scenario(env="godot:{project}", max_episode_steps=4, episodes=2, seed=3,
                                 model={{"red": "red.zip", "blue": "blue.zip"}}, {SCENE})
        def test_load(rl_playtest, rl_agent):
            from stable_baselines3 import PPO

            assert isinstance(rl_agent.policies["red"], PPO) and rl_agent.policies["blue"].action_space.shape == (3,)
            result = rl_playtest()
            assert sorted(result.policies) == ["blue", "red"]

        @pytest.mark.rl_scenario(env="godot:{project}", max_episode_steps=4, episodes=2, seed=3,
                                 model={{"red": "red.zip", "green": "blue.zip"}}, {SCENE})
        def test_unknown_policy(rl_agent):
            pass
        """
    )
    result = pytester.runpytest(f"--godot-bin={fake_godot4}", "-p", "no:cacheprovider", "--junitxml=out.xml")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*names policy 'green', but the scene's agents train the policies 'red', 'blue'*"])
    props = _props(pytester.path / "out.xml")["test_train"]
    assert props["rl_policy_red_episodes"] == "3" and props["rl_policy_blue_episodes"] == "1"
    assert props["rl_policy_red_timesteps"] == "64" and props["rl_policy_blue_timesteps"] == "64"
    assert props["rl_timesteps"] == "128"
    for name in ("red", "blue"):
        assert props[f"rl_policy_{name}_model"].endswith(f"policies/{name}/model.zip")
        float(props[f"rl_policy_{name}_mean_return"])
    loaded = _props(pytester.path / "out.xml")["test_load"]
    assert loaded["rl_policy_red_episodes"] == "1" and loaded["rl_policy_blue_episodes"] == "1"


@pytest.mark.needs_godot
def test_two_policies_on_the_real_engine_with_our_addon(pytester: pytest.Pytester, counter_project: Path) -> None:
    """counter_project/teams.tscn: two agents on rlplaytest's addon, policy_name "red" and "blue"."""
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.rl_scenario(env="godot:{counter_project}", scene="res://teams.tscn", agents=2, timesteps=32,
                                 episodes=2, max_episode_steps=4, seed=5,
                                 algo_kwargs=dict(n_steps=8, batch_size=8, n_epochs=1))
        def test_teams(rl_playtest, rl_agent, rl_artifacts):
            assert rl_agent.groups == {{"red": [0], "blue": [1]}}
            assert [rl_agent.policies[n].num_timesteps for n in ("red", "blue")] == [32, 32]
            result = rl_playtest()
            assert [len(result.policies[n].episodes) for n in ("red", "blue")] == [1, 1]
            assert result.engine["plugin"].startswith("rlplaytest addon")
            assert all((rl_artifacts / "policies" / n / "model.zip").is_file() for n in ("red", "blue"))
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--junitxml=out.xml")
    result.assert_outcomes(passed=1)
    props = _props(pytester.path / "out.xml")["test_teams"]
    assert props["rl_policy_red_episodes"] == "1" and props["rl_policy_blue_episodes"] == "1"


def test_policy_view_over_a_scene_whose_policies_differ(make_engine, fake_godot4: Path) -> None:
    """PolicyView on the real GodotVecEnv with mixed spaces: list observations stacked per view,
    list actions composed (blue continuous from the learner, red discrete from an actor)."""
    import numpy as np

    from pytest_rlplaytest.agents.multiagent import PolicyView

    engine = make_engine(fake_godot4.parent / "project", godot_bin=str(fake_godot4), engine_timeout=10.0,
                         godot_args=["--fake_scene=III", "--fake_policies=red,blue,red",
                                     "--fake_actions=discrete,continuous,discrete", "--fake_connect_delay_ms=100"])
    venv = engine.make_vec_env()
    obs_space, act_space = venv.policy_spaces["blue"]
    view = PolicyView(venv, mine=[1], others=[([0, 2], lambda obs, start: np.full(len(obs), 2))],
                      observation_space=obs_space, action_space=act_space)
    obs = view.reset()
    assert obs.shape == (1, 4) and obs[0, 1] == 1.0  # agent 1's row: [t, index, start, last action]
    obs, rewards, _, _ = view.step(np.array([[0.5, 0.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(rewards, [4.0])  # 0.5 per frame, 8 frames
    _, full_rewards, _, _ = venv.step([np.int64(1), np.zeros(3), np.int64(0)])
    np.testing.assert_array_equal(full_rewards, [8, 0, 0])  # each agent its own action: 1 x 8 frames, 0, 0


def test_self_play_on_a_multi_policy_scene_names_the_policies(pytester: pytest.Pytester, fake_godot4: Path) -> None:
    project = fake_godot4.parent / "project"
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.rl_scenario(env="godot:{project}", max_episode_steps=4, timesteps=64, seed=3,
                                 self_play=dict(snapshot_every=32, mix={{"latest": 1.0}}), {SCENE})
        def test_duel(rl_agent):
            pass
        """
    )
    result = pytester.runpytest(f"--godot-bin={fake_godot4}", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*self_play= seats one shared policy, but the scene's agents train the policies "
                                 "'red', 'blue'*"])
