"""``normalize=``: VecNormalize while training, statistics saved in model.zip and folded into the ONNX
export; rl-zoo3 style hyperparameter files (``algo_kwargs="hyperparams/ppo.yml:<section>"``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from pytest_rlplaytest.agents.hyperparams import LinearSchedule, parse_python_value
from pytest_rlplaytest.scenario import ScenarioError, build_spec
from pytest_rlplaytest.settings import Settings

NORMALIZED = """
import pytest
from pytest_rlplaytest import load_agent
from pytest_rlplaytest.agents.normalize import NormalizedAgent, read_from_zip

@pytest.mark.rl_scenario(env="Shifted-v0", timesteps=1024, episodes=20, normalize=dict(norm_reward=False),
                         algo_kwargs=dict(n_steps=128, n_epochs=2, batch_size=64, learning_rate=3e-3))
def test_normalized(rl_agent, rl_playtest, rl_artifacts, rl_scenario, rl_env):
    assert isinstance(rl_agent, NormalizedAgent)
    stats = read_from_zip(rl_artifacts / "model.zip")
    assert stats.norm_obs and not stats.norm_reward
    assert abs(stats.obs["mean"][0] - 100.0) < 10.0 and abs(stats.obs["var"][0] - 2500.0) < 400.0
    assert rl_playtest().returns.mean() >= 2.7
    import dataclasses
    loaded = load_agent(dataclasses.replace(rl_scenario, model=rl_artifacts / "model.zip"), rl_env)
    assert isinstance(loaded, NormalizedAgent) and loaded.normalization == stats
"""


def test_normalized_training_saves_statistics_that_travel_with_the_model(nightly_games: pytest.Pytester) -> None:
    nightly_games.makepyfile(test_norm=NORMALIZED)
    art = nightly_games.path / "art"
    nightly_games.runpytest(f"--rl-artifacts={art}").assert_outcomes(passed=1)
    model_zip = art / "test_norm.py__test_normalized" / "model.zip"

    from stable_baselines3 import PPO

    from pytest_rlplaytest.agents import OnnxAgent, check_onnx_matches, export_onnx
    from pytest_rlplaytest.agents.normalize import NormalizedAgent, read_from_zip
    from pytest_rlplaytest.cli import main

    model, stats = PPO.load(model_zip, device="cpu"), read_from_zip(model_zip)
    assert stats is not None
    agent = NormalizedAgent(model, stats)
    folded = export_onnx(agent, nightly_games.path / "folded.onnx")
    assert check_onnx_matches(agent, folded, n=256) == 1.0
    raw_obs = np.array([[50.0], [150.0]] * 8, dtype=np.float32)  # the game's two observations
    onnx_actions, _ = OnnxAgent(folded, model.action_space).predict(raw_obs)
    assert onnx_actions.tolist() == agent.predict(raw_obs)[0].tolist() == [0, 1] * 8
    # without folding, the exported policy sees raw observations and no longer tells the sides apart
    unfolded = export_onnx(model, nightly_games.path / "unfolded.onnx")
    assert len(set(OnnxAgent(unfolded, model.action_space).predict(raw_obs)[0].tolist())) == 1
    # the CLI folds the statistics saved in the .zip
    assert main(["export-onnx", str(model_zip), str(nightly_games.path / "cli.onnx")]) == 0
    assert check_onnx_matches(agent, nightly_games.path / "cli.onnx", n=64) == 1.0


def test_normalize_marker_values_are_checked(nightly_games: pytest.Pytester) -> None:
    nightly_games.makepyfile(test_bad="""
        import pytest

        @pytest.mark.rl_scenario(env="Coin-v1", normalize=dict(norm_observations=True))
        def test_bad(rl_scenario):
            pass
    """)
    result = nightly_games.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*rl_scenario(normalize=*): normalize got the unknown VecNormalize argument "
                                 "'norm_observations'*"])


ZOO = textwrap.dedent("""\
    # rl-zoo3 style (hyperparams/ppo.yml)
    default:
      n_timesteps: !!float 1e6
      policy: 'MlpPolicy'

    LandingScene:
      n_envs: 4
      n_timesteps: !!float 2e4
      policy: 'MlpPolicy'
      n_steps: 32
      batch_size: 64
      gamma: 0.98
      learning_rate: lin_3e-4
      clip_range: lin_0.2
      normalize: "dict(norm_obs=True, norm_reward=False)"
      policy_kwargs: "dict(log_std_init=-2, ortho_init=False, activation_fn=nn.Tanh, net_arch=dict(pi=[64], vf=[64]))"
      env_kwargs:
        horizon: 4

    Evil:
      policy_kwargs: "__import__('os').system('echo pwned')"

    Wrapped:
      env_wrapper: gymnasium.wrappers.TimeLimit
""")


def _spec(tmp_path: Path, **marker: object):
    (tmp_path / "hyperparams").mkdir(exist_ok=True)
    (tmp_path / "hyperparams" / "ppo.yml").write_text(ZOO)
    return build_spec(("Coin-v1",), marker, nodeid="test_x.py::test_x", settings=Settings.defaults(tmp_path),
                      test_file=tmp_path / "test_x.py")


def test_an_rl_zoo3_section_becomes_the_scenarios_hyperparameters(tmp_path: Path) -> None:
    import torch

    spec = _spec(tmp_path, algo_kwargs="hyperparams/ppo.yml:LandingScene")
    assert spec.hyperparams == "hyperparams/ppo.yml:LandingScene"
    assert spec.timesteps == 20_000 and spec.n_envs == 4 and spec.policy == "MlpPolicy"
    assert spec.algo_kwargs["learning_rate"] == LinearSchedule(3e-4)
    assert spec.algo_kwargs["learning_rate"](0.5) == pytest.approx(1.5e-4)  # progress_remaining * x
    assert spec.algo_kwargs["clip_range"](1.0) == pytest.approx(0.2)
    assert {k: spec.algo_kwargs[k] for k in ("n_steps", "batch_size", "gamma")} == {
        "n_steps": 32, "batch_size": 64, "gamma": 0.98}
    assert not {"n_timesteps", "n_envs", "policy", "normalize", "policy_kwargs", "env_kwargs"} & set(spec.algo_kwargs)
    assert dict(spec.normalize or {}) == {"norm_obs": True, "norm_reward": False, "gamma": 0.98}  # rl-zoo3: gamma
    assert spec.policy_kwargs["activation_fn"] is torch.nn.Tanh
    assert spec.policy_kwargs["net_arch"] == {"pi": [64], "vf": [64]} and spec.policy_kwargs["log_std_init"] == -2
    assert dict(spec.env_kwargs) == {"horizon": 4}
    assert _spec(tmp_path, algo_kwargs="hyperparams/ppo.yml").timesteps == 1_000_000  # the default section


def test_the_markers_own_arguments_win_and_the_budget_cap_applies(tmp_path: Path) -> None:
    spec = _spec(tmp_path, algo_kwargs="hyperparams/ppo.yml:LandingScene", timesteps=500, n_envs=2, normalize=False)
    assert (spec.timesteps, spec.n_envs, spec.normalize) == (500, 2, None)
    capped = build_spec(("Coin-v1",), {"algo_kwargs": "hyperparams/ppo.yml:LandingScene"}, nodeid="t::t",
                        settings=Settings.defaults(tmp_path).replace(timesteps=1000), test_file=tmp_path / "test_x.py")
    assert capped.timesteps == 1000 and capped.requested_timesteps == 20_000


@pytest.mark.parametrize(("source", "message"), [
    ("hyperparams/ppo.yml:Landing", "has no section 'Landing' (sections: default, LandingScene, Evil, Wrapped)"),
    ("hyperparams/sac.yml:LandingScene", "names the hyperparameter file 'hyperparams/sac.yml' (resolved against the "
                                         "test file's folder"),
    ("hyperparams/ppo.yml:Evil", "is not allowed (literals, dict(...)"),
    ("hyperparams/ppo.yml:Wrapped", "sets 'env_wrapper', which rlplaytest does not support"),
    ("hyperparams/ppo.json", "names no .yml file"),
])
def test_bad_hyperparameter_files_say_what_is_wrong(tmp_path: Path, source: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=r"test_x\.py::test_x: rl_scenario") as info:
        _spec(tmp_path, algo_kwargs=source)
    assert message in str(info.value)


def test_hyperparameter_strings_are_parsed_without_running_code() -> None:
    assert parse_python_value("dict(net_arch=[dict(pi=[256, 256], vf=[256, 256])], log_std_init=-3.29)") == {
        "net_arch": [{"pi": [256, 256], "vf": [256, 256]}], "log_std_init": -3.29}
    for text in ("open('/etc/passwd')", "dict(x=os.system)", "th.nn.functional.relu", "[].__class__"):
        with pytest.raises(ValueError, match="cannot read"):
            parse_python_value(text)


def test_a_schedule_from_the_file_drives_training(nightly_games: pytest.Pytester) -> None:
    (nightly_games.path / "hyperparams").mkdir()
    (nightly_games.path / "hyperparams" / "ppo.yml").write_text(textwrap.dedent("""\
        Coin:
          n_timesteps: 512
          n_steps: 128
          n_epochs: 1
          learning_rate: lin_0.004
    """))
    nightly_games.makepyfile(test_zoo="""
        import pytest

        @pytest.mark.rl_scenario(env="Coin-v1", algo_kwargs="hyperparams/ppo.yml:Coin", episodes=3)
        def test_zoo(rl_agent):
            assert rl_agent.num_timesteps == 512
            assert rl_agent.lr_schedule(1.0) == pytest.approx(0.004) and rl_agent.lr_schedule(0.25) == pytest.approx(0.001)
            # the optimizer followed the schedule: the last update ran at progress_remaining 0 (lin_: down to 0)
            assert rl_agent.policy.optimizer.param_groups[0]["lr"] == 0.0
    """)
    nightly_games.runpytest().assert_outcomes(passed=1)
