"""PolicyView: one learner's agents of a full SB3 VecEnv, the others acted for by actors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.vec_env import DummyVecEnv

from pytest_rlplaytest.agents.multiagent import PolicyView, PolicyViewError, policy_actor, take_rows
from pytest_rlplaytest.errors import RLPlaytestError


class Echo(gym.Env):  # type: ignore[type-arg]
    """Observation [index, step]; reward = the action taken; the episode ends after ``length`` steps."""

    def __init__(self, index: int, length: int = 3) -> None:
        self.index, self.length, self.t = index, length, 0
        self.observation_space = spaces.Box(-100, 100, (2,), np.float32)
        self.action_space = spaces.Discrete(5)
        self.actions: list[int] = []

    def reset(self, *, seed=None, options=None):  # type: ignore[no-untyped-def]
        super().reset(seed=seed)
        self.t = 0
        return np.array([self.index, 0], np.float32), {"seed": seed}

    def step(self, action):  # type: ignore[no-untyped-def]
        self.actions.append(int(action))
        self.t += 1
        obs = np.array([self.index, self.t], np.float32)
        return obs, float(action), self.t >= self.length, False, {}


def _venv(n: int = 4) -> DummyVecEnv:
    return DummyVecEnv([lambda i=i: Echo(i) for i in range(n)])


class Recorder:
    def __init__(self, action: int) -> None:
        self.action = action
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
        self.calls.append((obs.copy(), episode_start.copy()))
        return np.full(len(obs), self.action)


def test_step_composes_actions_and_returns_mine() -> None:
    venv = _venv()
    red = Recorder(action=4)
    view = PolicyView(venv, mine=[3, 1], others=[([0, 2], red)])
    assert view.num_envs == 2
    obs = view.reset()
    np.testing.assert_array_equal(obs[:, 0], [3, 1])  # mine's order, not the venv's
    obs, rew, done, infos = view.step(np.array([1, 2]))
    envs = [e for e in venv.envs]
    assert [e.actions for e in envs] == [[4], [2], [4], [1]]  # type: ignore[attr-defined]
    np.testing.assert_array_equal(rew, [1.0, 2.0])
    np.testing.assert_array_equal(obs, [[3, 1], [1, 1]])
    assert len(infos) == 2 and not done.any()
    # the actor saw its own agents' latest observations, first step flagged as episode start
    first_obs, first_start = red.calls[0]
    np.testing.assert_array_equal(first_obs[:, 0], [0, 2])
    assert first_start.all()


def test_episode_start_flags_follow_dones() -> None:
    red = Recorder(action=0)
    view = PolicyView(_venv(2), mine=[0], others=[([1], red)])
    view.reset()
    dones = []
    for _ in range(4):
        _, _, done, _ = view.step(np.array([1]))
        dones.append(bool(done[0]))
    assert dones == [False, False, True, False]
    assert [bool(s[0]) for _, s in red.calls] == [True, False, False, True]


def test_terminal_observation_is_the_view_agents_own() -> None:
    view = PolicyView(_venv(3), mine=[2], others=[([0, 1], Recorder(0))])
    view.reset()
    for _ in range(2):
        view.step(np.array([0]))
    _, _, done, infos = view.step(np.array([0]))
    assert done[0]
    np.testing.assert_array_equal(infos[0]["terminal_observation"], [2, 3])


@pytest.mark.parametrize(("mine", "others", "message"), [
    ([0, 1], [[1, 2, 3]], r"agent 1 is in both mine and others\[0\]"),
    ([0], [[1, 2]], r"agents \[3\] of the VecEnv's 4 are in neither"),
    ([0, 1, 2, 7], [[3]], "holds agent 7, but the VecEnv has 4 agents"),
    ([], [[0, 1, 2, 3]], "mine is empty"),
])
def test_indices_must_partition(mine: list[int], others: list[list[int]], message: str) -> None:
    with pytest.raises(PolicyViewError, match=message) as info:
        PolicyView(_venv(), mine=mine, others=[(idx, Recorder(0)) for idx in others])
    assert isinstance(info.value, RLPlaytestError)


def test_actor_returning_wrong_count_is_named() -> None:
    view = PolicyView(_venv(3), mine=[0], others=[([1, 2], lambda obs, start: np.zeros(1))])
    view.reset()
    with pytest.raises(RLPlaytestError, match=r"others\[0\]'s actor returned actions of shape \(1,\) for 2 agents"):
        view.step(np.array([0]))


def test_seeds_reach_the_view_agents() -> None:
    venv = _venv(3)
    view = PolicyView(venv, mine=[1, 2], others=[([0], Recorder(0))])
    view.seed(10)
    view.reset()
    assert [info["seed"] for info in view.reset_infos] == [10, 11]


def test_mixed_spaces_compose_lists_and_stack_rows() -> None:
    rows = [np.array([1.0, 2.0]), np.array([3.0]), np.array([4.0, 5.0])]
    np.testing.assert_array_equal(take_rows(rows, np.array([2, 0])), [[4.0, 5.0], [1.0, 2.0]])
    dict_rows = [{"a": np.array([i])} for i in range(3)]
    np.testing.assert_array_equal(take_rows(dict_rows, np.array([1, 2]))["a"], [[1], [2]])


def test_ppo_learns_through_a_view_with_a_policy_actor() -> None:
    from stable_baselines3 import PPO

    venv = _venv(2)
    opponent = PPO("MlpPolicy", PolicyView(venv, mine=[1], others=[([0], Recorder(0))]), n_steps=16,
                   batch_size=16, seed=1)
    view = PolicyView(venv, mine=[0], others=[([1], policy_actor(opponent))])
    model = PPO("MlpPolicy", view, n_steps=16, batch_size=16, n_epochs=1, seed=2)
    model.learn(32)
    assert model.num_timesteps == 32
    # the opponent's agent acted with the opponent's policy (its actions are in 0..4)
    assert len(venv.envs[1].actions) >= 32  # type: ignore[attr-defined]
