"""The driver against the doubles of official-plugin games, for what only they show (the shared
behaviour is in test_godot_conformance.py): main-branch control modes and policies, the agent-count
messages, the Sync node's values read from the scene file, game key order, the import of a fresh
Godot 4 checkout, the Godot 3 class-list error on the real engine, malformed replies."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fake_plugin_game import node_path

from pytest_rlplaytest.engines.base import EngineError
from pytest_rlplaytest.engines.godot.binary import GodotBinary
from pytest_rlplaytest.engines.godot.importer import import_command
from pytest_rlplaytest.engines.godot.protocol import ProtocolError
from pytest_rlplaytest.engines.godot.session import GodotMultiPolicyError
from pytest_rlplaytest.engines.godot.startup import GodotProjectError

HERE = Path(__file__).resolve().parent
QUICK = "--fake_connect_delay_ms=100"  # the plugin waits 1000 ms before connecting; not needed here


def _engine(make_engine, binary: Path, *args: str, project: Path | None = None, **options):
    return make_engine(project or binary.parent / "project", godot_bin=str(binary), engine_timeout=10.0,
                       godot_args=[QUICK, *args], **options)


def test_main_branch_on_the_wire(make_engine, fake_godot4: Path) -> None:
    engine = _engine(make_engine, fake_godot4, "--fake_scene=III", "--fake_actions=multi")
    venv = engine.make_vec_env().venv
    session = venv.sessions[0]
    assert venv.num_envs == 3  # the scene's own agents: no --agents on the command line
    assert "--headless" in session.process.cmd and not any(a.startswith("--agents") for a in session.process.cmd)
    assert isinstance(session.env_info["observation_space"], list) and session.policy_names == ["shared_policy"] * 3
    assert list(venv.action_space.nvec) == [3, 2]  # turn, jump: the game's order, not sorted
    _, infos = session.reset()
    assert [i["t"] for i in infos] == [7, 7, 7]  # info comes with the reset reply, 8 frames after the reset
    _, rewards, _, infos = venv.step(np.array([[2, 1], [1, 0], [0, 1]]))
    assert [i["t"] for i in infos] == [23, 23, 23]  # the first action ran from frame 16 to 23 (sync.gd:207-225)
    np.testing.assert_array_equal(rewards, [16, 8, 0])
    sent = session.action_codec.encode_batch(np.array([[2, 1]]), 1)
    assert list(sent[0]) == ["turn", "jump"]


def test_agents_option_on_an_official_game_names_the_plugin(make_engine, fake_godot4: Path) -> None:
    with pytest.raises(EngineError, match=r"agents=3 was requested .* scene has 2 agents\. This game runs the "
                                          r"Godot RL Agents plugin \(main branch, Godot 4\), which never reads --agents"):
        _engine(make_engine, fake_godot4, agents=3).make_vec_env()


def test_make_env_on_a_multi_agent_official_scene(make_engine, fake_godot4: Path) -> None:
    with pytest.raises(EngineError, match=r"make_env\(\) needs a scene with one Training agent, and this one has 2 "
                                          r"\(official Godot RL Agents scenes cannot be told"):
        _engine(make_engine, fake_godot4).make_env()


def test_several_policies_are_grouped_with_their_spaces(make_engine, fake_godot4: Path) -> None:
    engine = _engine(make_engine, fake_godot4, "--fake_scene=III", "--fake_policies=red,blue,red",
                     "--fake_actions=discrete,continuous,discrete")
    venv = engine.make_vec_env(n_envs=6).venv  # two instances: groups over both
    assert venv.policy_groups == {"red": [0, 2, 3, 5], "blue": [1, 4]}
    assert venv.mixed_spaces
    assert str(venv.policy_spaces["red"][1]) == "Discrete(3)" and venv.policy_spaces["blue"][1].shape == (3,)
    obs = venv.reset()
    assert isinstance(obs, list) and len(obs) == 6 and obs[1].shape == (4,)
    actions = [np.int64(2), np.array([1.0, 0.0, 0.0]), np.int64(1)] * 2
    obs, rewards, _, _ = venv.step(actions)
    np.testing.assert_array_equal(rewards, [16, 8, 8] * 2)  # each agent got its own policy's action dict


def test_agents_of_one_policy_with_different_spaces_fail_naming_it(make_engine, fake_godot4: Path) -> None:
    with pytest.raises(GodotMultiPolicyError) as err:
        _engine(make_engine, fake_godot4, "--fake_scene=II", "--fake_policies=red,red",
                "--fake_actions=discrete,continuous").make_vec_env()
    assert "agents 0 and 1 both train policy 'red' but declare different spaces" in str(err.value)
    assert "own policy_name" in str(err.value)


def test_call_with_human_agents_in_the_scene(make_engine, fake_godot4: Path) -> None:
    venv = _engine(make_engine, fake_godot4, "--fake_scene=IHI").make_vec_env().venv
    assert venv.num_envs == 2  # the Human agent does not train
    (paths,) = venv.call_scene_agents("get_path")
    assert paths == [node_path(f"Player{i}", "AIController3D") for i in range(3)]
    with pytest.raises(EngineError, match=r"returned 3 values for a scene with 2 Training agents.*call_scene_agents"):
        venv.env_method("get_path")


def test_sync_node_values_are_read_from_the_scene_file(make_engine, fake_godot4: Path, tmp_path: Path) -> None:
    project = tmp_path / "game"
    shutil.copytree(fake_godot4.parent / "project", project)
    (project / "project.godot").write_text('config_version=5\n\n[application]\nrun/main_scene="res://main.tscn"\n')
    (project / "main.tscn").write_text(
        '[gd_scene load_steps=2 format=3 uid="uid://b1"]\n\n'
        '[ext_resource type="Script" uid="uid://c2" path="res://addons/godot_rl_agents/sync.gd" id="1_s"]\n\n'
        '[node name="Game" type="Node3D"]\n\n[node name="Sync" type="Node" parent="."]\n'
        'script = ExtResource("1_s")\naction_repeat = 4\n')
    engine = _engine(make_engine, fake_godot4, "--fake_sync_action_repeat=4", "--fake_episode_frames=1000",
                     project=project)
    venv = engine.make_vec_env().venv
    venv.reset()
    rewards = [venv.step(np.array([2, 2]))[1] for _ in range(3)]
    assert engine.describe()["action_repeat"] == 4
    assert engine.describe()["runs_with"]["action_repeat"] == "the Sync node's action_repeat in the scene file"
    np.testing.assert_array_equal(rewards[1:], 8.0)  # 4 frames x 2


def test_fresh_godot4_checkout_is_imported_once(make_engine, fake_godot4: Path, tmp_path: Path) -> None:
    project = tmp_path / "fresh"
    project.mkdir()
    (project / "project.godot").write_text("config_version=5\n")  # no .godot/: a fresh clone
    engine = _engine(make_engine, fake_godot4, project=project)
    runs = (project / ".godot" / "import-runs.log").read_text().splitlines()
    assert len(runs) == 1 and runs[0].endswith("--import") and "--headless" in runs[0]
    assert (engine.context.artifacts_dir / "godot-import.log").read_text().startswith("$ ")
    engine.make_vec_env().reset()
    shutil.rmtree(project / ".godot")  # imported already in this session: not again
    _engine(make_engine, fake_godot4, project=project)
    assert not (project / ".godot").exists()


def test_parallel_workers_import_a_fresh_checkout_once(fake_godot4: Path, tmp_path: Path) -> None:
    project = tmp_path / "fresh"
    project.mkdir()
    (project / "project.godot").write_text("config_version=5\n")
    code = ("import sys; from pathlib import Path; from pytest_rlplaytest.engines.godot.binary import find_godot; "
            "from pytest_rlplaytest.engines.godot.importer import ensure_imported; "
            f"print(ensure_imported(find_godot({str(fake_godot4)!r}), Path({str(project)!r}), Path(sys.argv[1])))")
    env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / f"import{i}.log")], env=env,
                              stdout=subprocess.PIPE, text=True) for i in range(3)]
    outputs = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert outputs == ["False", "False", "True"]  # (a pytest -n worker each: one imports, the others wait)
    assert len((project / ".godot" / "import-runs.log").read_text().splitlines()) == 1


def test_import_command_by_version(tmp_path: Path) -> None:
    def binary(version: str) -> GodotBinary:
        return GodotBinary("/g", version, 4, False)

    assert import_command(binary("4.2.2.stable"), tmp_path)[-1] == "--import"
    assert import_command(binary("4.3.stable.official"), tmp_path)[-1] == "--import"
    assert import_command(binary("4.2.1.stable"), tmp_path)[-3:] == ["--editor", "--quit-after", "1000"]


def test_unresolved_godot4_class_names_fail_fast(make_engine, fake_godot4: Path, tmp_path: Path) -> None:
    project = tmp_path / "stale"
    project.mkdir()
    (project / "project.godot").write_text("config_version=5\n")
    (project / ".godot").mkdir()
    (project / ".godot" / ".rlplaytest-imported").write_text("")  # imported once, but its class cache is gone
    engine = _engine(make_engine, fake_godot4, project=project, script_errors="ignore")
    start = time.monotonic()
    with pytest.raises(GodotProjectError) as err:
        engine.make_vec_env()
    assert time.monotonic() - start < engine.timeout / 2, "read from the game's output, not a timeout"
    text = str(err.value)
    assert "cannot resolve the class name 'AIController3D'" in text and "--import" in text


@pytest.mark.needs_godot
def test_godot3_project_without_its_class_list(make_engine, counter_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "no_class_list"
    shutil.copytree(counter_project, project)
    text = (project / "project.godot").read_text()
    (project / "project.godot").write_text(re.sub(r"_global_script_classes=\[.*?\]\n_global_script_class_icons=\{.*?\}\n",
                                                  "", text, flags=re.S))
    engine = make_engine(project, scene="res://plugin3.tscn", engine_timeout=20.0, script_errors="ignore",
                         godot_args=["--wire_connect_delay_ms=100"])
    with pytest.raises(GodotProjectError) as err:
        engine.make_vec_env()
    message = str(err.value)
    assert "Godot 3 cannot resolve the class name 'AIController3D'" in message
    assert "open" in message and "Godot 3 editor" in message and "_global_script_classes" in message


def test_godot3_branch_status_race_is_detected_after_connecting(make_engine, fake_godot3: Path) -> None:
    """godot3 gives up when the status it reads once is not 2, even though the TCP connection then
    completes (sync.gd:97-101): the driver accepts, but no env_info will come."""
    with pytest.raises(EngineError, match=r"socket status 1 \(2 = connected\)"):
        _engine(make_engine, fake_godot3, "--fake_status=1").make_vec_env()


def test_nan_observation_is_located(make_engine, fake_godot4: Path) -> None:
    venv = _engine(make_engine, fake_godot4, "--fake_fault=nan", "--fake_fault_at=2").make_vec_env()
    venv.reset()
    venv.step(np.array([0, 0]))
    with pytest.raises(ProtocolError) as err:
        venv.step(np.array([0, 0]))
    assert "message['obs'][1]['obs'][2] = nan" in str(err.value)
    assert "finite" in str(err.value)


def test_wrong_observation_shape(make_engine, fake_godot4: Path) -> None:
    venv = _engine(make_engine, fake_godot4, "--fake_fault=bad_shape", "--fake_fault_at=1").make_vec_env()
    venv.reset()
    with pytest.raises(ProtocolError, match=r"step 1 reply, agent 1, key 'obs': observation has 3 values, "
                                            r"env_info declared size \[4\]"):
        venv.step(np.array([0, 0]))


def test_reward_list_of_wrong_length(make_engine, fake_godot4: Path) -> None:
    venv = _engine(make_engine, fake_godot4, "--fake_fault=bad_reward", "--fake_fault_at=1").make_vec_env()
    venv.reset()
    with pytest.raises(ProtocolError, match=r"'reward' must be a list with one number per agent \(2\), got 1"):
        venv.step(np.array([0, 0]))


def test_wrong_reply_type(make_engine, fake_godot4: Path) -> None:
    venv = _engine(make_engine, fake_godot4, "--fake_fault=bad_type", "--fake_fault_at=1").make_vec_env()
    venv.reset()
    with pytest.raises(ProtocolError, match="expected a message of type 'step', the game sent type 'reset'"):
        venv.step(np.array([0, 0]))


def test_godot_args_may_not_set_the_port(make_engine, fake_godot4: Path) -> None:
    with pytest.raises(EngineError, match=r"'--port=11008': the driver sets --port"):
        _engine(make_engine, fake_godot4, "--port=11008")
