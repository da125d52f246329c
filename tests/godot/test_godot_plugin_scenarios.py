"""Official-plugin games through the pytest plugin and through godot-rl itself.

* a scenario on the main-branch double (fake_godot4.py), run by pytester as a user runs it: it
  trains and evaluates with ``n_envs`` above the scene's agent count and ``max_episode_steps``
  enforced, and its results say the game seeds only at launch;
* godot-rl 0.8.2's own ``GodotEnv`` on the same doubles (CI installs it with ``--no-deps``): the
  doubles speak what godot-rl expects, and godot-rl keeps the game's action-key order with our
  gymnasium (``OrderedDict`` in ``spaces.Dict``: gymnasium 1.0.0 alone sorts it).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest


def test_official_game_scenario_trains_and_evaluates(pytester: pytest.Pytester, fake_godot4: Path) -> None:
    project = fake_godot4.parent / "project"
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.rl_scenario(env="godot:{project}", n_envs=3, max_episode_steps=4, timesteps=64, episodes=4,
                                 algo_kwargs=dict(n_steps=8, batch_size=16, n_epochs=1),
                                 godot_args=["--fake_episode_frames=100000", "--fake_connect_delay_ms=100"])
        def test_play(rl_playtest, rl_agent):
            result = rl_playtest()
            assert rl_agent.num_timesteps == 64
            assert [ep.length for ep in result.episodes] == [4, 4, 4, 4]
            assert {{ep.outcome for ep in result.episodes}} == {{"truncated"}}
            engine = result.engine
            assert engine["seeding"] == "launch_only" and engine["plugin"].startswith("Godot RL Agents plugin (main")
            assert engine["instances"]["started"] == 2 and engine["instances"]["agents"] == 4
            assert engine["action_repeat"] == 8
        """
    )
    result = pytester.runpytest(f"--godot-bin={fake_godot4}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("double", ["fake_godot4", "fake_godot3"])
def test_godot_rl_drives_the_doubles(double: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    import gymnasium

    godot_env = pytest.importorskip("godot_rl.core.godot_env", reason="pip install --no-deps godot-rl==0.8.2")
    binary = request.getfixturevalue(double)
    port = _free_port()
    log = open(tmp_path / "game.log", "wb")
    cmd = [str(binary), "--headless", "--path", str(binary.parent / "project"), f"--port={port}", "--env_seed=3",
           "--fake_actions=multi", "--fake_connect_delay_ms=100"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # godot-rl prints
            env = godot_env.GodotEnv(port=port, convert_action_space=True)
            keys = list(env.action_spaces[0].keys())
            game_order = ["turn", "jump"]  # fake_plugin_game.ACTION_SPACES["multi"]
            assert keys == (sorted(game_order) if gymnasium.__version__ == "1.0.0" else game_order)
            assert env.num_envs == 2
            obs, _ = env.reset()
            assert len(obs) == 2 and len(obs[0]["obs"]) == 4
            for _ in range(3):
                obs, reward, _, _, _ = env.step(np.array([[2, 1], [1, 0]]), order_ij=True)
            assert reward == [16.0, 8.0]  # turn (the first key) is what the counter adds, 8 frames a step
            env.close()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()
