"""Training fan-out: SB3 trains through a VecEnv of Ray actors exactly as through a local one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


def _train(venv: Any, seed: int = 3) -> Any:
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", venv, seed=seed, n_steps=32, batch_size=32, n_epochs=2, device="cpu")
    model.learn(128)
    return model


def test_ppo_through_the_ray_vec_env_matches_local_training_bit_for_bit(ray_engine: Any) -> None:
    """Same seed, same envs: the same final policy parameters and the same training episodes (SB3
    on the CPU with one torch thread is deterministic; the observations travel losslessly)."""
    import torch

    from pytest_rlplaytest.agents import seed_everything
    from pytest_rlplaytest.distributed.vec_env import RayVecEnv

    engine = ray_engine("gym", "CartPole-v1", seed=3)
    seed_everything(3)
    remote = engine.make_vec_env(2, seed=3)
    assert isinstance(remote, RayVecEnv) and remote.describe()["envs_per_actor"] == [1, 1]
    on_ray = _train(remote)
    seed_everything(3)
    local = _train(engine.inner.make_vec_env(2, seed=3))
    for (name, a), b in zip(on_ray.policy.state_dict().items(), local.policy.state_dict().values()):
        assert torch.equal(a, b), name
    assert [(e["r"], e["l"]) for e in on_ray.ep_info_buffer] == [(e["r"], e["l"]) for e in local.ep_info_buffer]
    assert len(on_ray.ep_info_buffer) > 2


def test_the_ray_vec_env_forwards_attributes_methods_and_seeds(ray_engine: Any) -> None:
    from stable_baselines3.common.monitor import Monitor

    engine = ray_engine("gym", "CartPole-v1", seed=4)
    venv = engine.make_vec_env(2, seed=4)
    venv.seed(100)
    venv.reset()
    assert [info["rl_episode_seed"] for info in venv.reset_infos] == [100, 101]  # SB3's seed(s): s + i
    assert venv.env_is_wrapped(Monitor) == [True, True]
    assert venv.get_attr("spec", indices=[1])[0].id == "CartPole-v1"
    venv.set_attr("marked", 5, indices=1)
    assert venv.get_attr("marked", indices=[1]) == [5]
    assert venv.env_method("get_episode_rewards") == [[], []]
    obs, rewards, _, infos = venv.step(np.array([0, 1]))
    assert obs.shape == (2, 4) and rewards.tolist() == [1.0, 1.0] and len(infos) == 2


def test_training_and_playtest_through_the_plugin_on_ray(pytester: pytest.Pytester, ray_cluster: Any) -> None:
    """``--rl-ray=local`` inside a session that already runs Ray: the fixtures fan out unchanged."""
    pytester.makepyfile(
        test_lean="""
        import pytest

        @pytest.mark.rl_scenario(env="CartPole-v1", timesteps=64, n_envs=2, episodes=4, max_episode_steps=40,
                                 algo_kwargs=dict(n_steps=32, batch_size=32, n_epochs=1))
        def test_plays(rl_engine, rl_env, rl_playtest):
            from pytest_rlplaytest.distributed.engine import RayEngine
            from pytest_rlplaytest.distributed.evaluation import episode_seeds
            assert isinstance(rl_engine, RayEngine) and type(rl_env).__name__ == "RayVecEnv"
            result = rl_playtest()
            assert result.n_episodes == 4 and result.engine["engine"] == "gym"
            assert [e.index for e in result.episodes] == [0, 1, 2, 3]
            assert [e.seed for e in result.episodes] == episode_seeds(result.seed, 4)
        """)
    result = pytester.runpytest_inprocess("--rl-ray=local", "-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)
    from pytest_rlplaytest.distributed.cluster import live_actor_count

    assert live_actor_count() == 0
