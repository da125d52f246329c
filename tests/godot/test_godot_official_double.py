"""The driver against a Python test double of a Godot 4 game running the official plugin.

The double (fake_godot4.py) is given as --godot-bin, so the whole path runs: version detection
(Godot 4 -> --headless), command line, listening, the plugin's quirks (no handshake reply, reset
reply on the next frame, optional info, no auto-reset), plus malformed replies for validation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_rlplaytest.engines.godot.protocol import ProtocolError


def _engine(make_engine, fake_godot4: Path, *args: str, agents: int = 2):
    return make_engine(fake_godot4.parent / "project", godot_bin=str(fake_godot4), agents=agents,
                       engine_timeout=5.0, godot_args=list(args))


def test_official_plugin_quirks(make_engine, fake_godot4: Path) -> None:
    engine = _engine(make_engine, fake_godot4, "--fake_episode=3")
    assert engine.binary is not None and engine.binary.major == 4
    venv = engine.make_vec_env()
    assert venv.num_envs == 2
    assert venv.action_space.n == 3  # one discrete key -> Discrete
    obs = venv.reset()  # reply arrives a frame later, without info
    np.testing.assert_allclose(obs, [[0, 0, 0.5, 1], [0, 1, 0.5, 1]])
    for _ in range(3):
        obs, rewards, dones, infos = venv.step(np.array([2, 1]))
    np.testing.assert_array_equal(rewards, [2.0, 1.0])
    assert dones.all()
    for i, info in enumerate(infos):
        assert info["TimeLimit.truncated"] is False  # the official plugin cannot say: terminated
        # no auto-reset signal: the terminal observation is also what the driver returns
        np.testing.assert_allclose(info["terminal_observation"], [0.3, i, 0.5, 1])
        np.testing.assert_allclose(obs[i], info["terminal_observation"])
    assert venv.env_method("get_done") == ["get_done:0", "get_done:1"]
    assert "--headless" in venv.venv.sessions[0].process.cmd


def test_per_agent_spaces_and_info(make_engine, fake_godot4: Path) -> None:
    engine = _engine(make_engine, fake_godot4, "--fake_spaces=list", "--fake_info=1")
    venv = engine.make_vec_env()
    venv.reset()
    _, _, _, infos = venv.step(np.array([0, 0]))
    assert [i["speed"] for i in infos] == [1.5, 1.5]


def test_single_agent_env_resets_official_game(make_engine, fake_godot4: Path) -> None:
    engine = _engine(make_engine, fake_godot4, "--fake_episode=2", agents=1)
    env = engine.make_env()
    obs, _ = env.reset()
    env.step(1)
    _, reward, terminated, truncated, _ = env.step(1)
    assert terminated and not truncated and reward == 1.0
    obs, _ = env.reset()  # a real reset message: the official plugin does not auto-reset
    np.testing.assert_allclose(obs, [0, 0, 0.5, 1])


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
