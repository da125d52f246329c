"""End-to-end speed on the benchmark scene: PPO training and the playtest evaluation loop.

The scene and both drivers are those of ``benchmarks/godot_throughput.py`` (16 agents in one game
instance, ``--fixed-fps 60``, the same command line for both). From one run, contenders interleaved
(``--rounds`` alternating chunks, the order flipped every round, so load from other work on the
machine hits all alike):

* training: SB3 PPO (``MlpPolicy``; ``MultiInputPolicy`` for godot-rl's dict observation; ``n_steps=128`` x 16 agents = one 2048-step rollout and its
  update per chunk, ``batch_size=256``, ``n_epochs=4``, seeded 0) continued chunk by chunk
  (``learn(reset_num_timesteps=False)``) on

  - ours: the ``VecMonitor``-wrapped ``GodotVecEnv`` of ``GodotEngine.make_vec_env()``, what a
    scenario trains on;
  - godot-rl: its SB3 wrapper ``StableBaselinesGodotEnv(port=P)`` on a game we launch with the same
    command (it can only launch exported binaries itself);
  - ceiling: an in-process no-op ``VecEnv`` of the same spaces (zero observations and rewards,
    episodes of 200 steps that end, like the bench scene's, at a time limit: ``TimeLimit.truncated``,
    so SB3 bootstraps their last value as it does for the game's): what the learner itself costs.

* evaluation: :func:`pytest_rlplaytest.playtest.run_playtest` of the ours-trained model, 16 episodes
  (one per agent) per chunk on one game instance, on torch (SB3 ``predict``) and on ONNX Runtime (the
  agent ``--rl-eval-backend=auto`` chooses: exported once and checked).

Rates are timesteps (or episodes) over each contender's summed chunk times. Last line:
``train_vs_godot_rl=<x> train_vs_ceiling=<x> eval_onnx_vs_torch=<x>`` (ours/godot-rl, ours/ceiling,
onnx/torch).

Usage: python benchmarks/end_to_end.py [--rounds 4] [--eval-rounds 6] [--recv-spin-us auto]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from godot_throughput import Ours, Theirs, add_spin_argument, prepare_project

AGENTS = 16
EPISODE_STEPS = 200
PPO_KWARGS: dict[str, Any] = {"n_steps": 128, "batch_size": 256, "n_epochs": 4, "device": "cpu"}


class TheirsSB3(Theirs):
    """godot-rl's SB3 wrapper ``StableBaselinesGodotEnv`` on a game launched like :class:`Theirs`'."""

    name = "godot-rl"

    @staticmethod
    def connect(port: int) -> Any:
        from godot_rl.wrappers.stable_baselines_wrapper import StableBaselinesGodotEnv

        return StableBaselinesGodotEnv(port=port)

    def close(self) -> None:
        import atexit
        import contextlib

        for env in self.env.envs:
            with contextlib.suppress(OSError):
                env.connection.close()
            atexit.unregister(env._close)
        self.kill()


def noop_vec_env(observation_space: Any, action_space: Any, n: int) -> Any:
    """An in-process ``VecEnv`` of ``n`` envs with these spaces (a ``Box`` observation) that does nothing."""
    from stable_baselines3.common.vec_env import VecEnv

    class NoOp(VecEnv):
        def __init__(self) -> None:
            super().__init__(n, observation_space, action_space)
            self.t = 0
            self.obs = np.zeros((n, *observation_space.shape), dtype=observation_space.dtype)
            self.rewards = np.zeros(n, dtype=np.float32)

        def reset(self) -> Any:
            self.t = 0
            return self.obs.copy()

        def step_async(self, actions: np.ndarray) -> None:
            self.t += 1

        def step_wait(self) -> Any:
            done = self.t % EPISODE_STEPS == 0
            obs = self.obs.copy()
            # (the bench scene's episodes end at a time limit: SB3 bootstraps their last value, so
            # the ceiling's episodes are truncations too)
            infos = [{"terminal_observation": obs[i], "TimeLimit.truncated": True} if done else {} for i in range(n)]
            return obs, self.rewards.copy(), np.full(n, done), infos

        def close(self) -> None:
            pass

        def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
            return [None] * n

        def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
            pass

        def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
            return [None] * n

        def env_is_wrapped(self, wrapper_class: Any, indices: Any = None) -> list[bool]:
            return [False] * n

    return NoOp()


def interleaved(contenders: dict[str, Any], rounds: int) -> dict[str, float]:
    """Call each contender ``rounds`` times, alternating the order; summed seconds per contender."""
    elapsed = dict.fromkeys(contenders, 0.0)
    names = list(contenders)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            contenders[name]()
            elapsed[name] += time.perf_counter() - start
    return elapsed


def train(ours: Any, theirs: Any, rounds: int) -> tuple[dict[str, float], Any]:
    """Interleaved PPO chunks on the three envs; timesteps/s per contender, and ours' model."""
    from gymnasium import spaces
    from stable_baselines3 import PPO
    from stable_baselines3.common.utils import set_random_seed

    envs = {"ours": ours, "godot-rl": theirs,
            "ceiling": noop_vec_env(ours.observation_space, ours.action_space, ours.num_envs)}
    models = {}
    for name, env in envs.items():
        set_random_seed(0)  # (not through PPO(seed=): godot-rl's wrapper cannot seed)
        policy = "MultiInputPolicy" if isinstance(env.observation_space, spaces.Dict) else "MlpPolicy"
        models[name] = PPO(policy, env, **PPO_KWARGS)
    chunk = PPO_KWARGS["n_steps"] * AGENTS
    for model in models.values():  # warm-up: the first rollout pays for lazy imports and allocations
        model.learn(chunk, reset_num_timesteps=False)
    elapsed = interleaved({name: (lambda m=m: m.learn(chunk, reset_num_timesteps=False))
                           for name, m in models.items()}, rounds)
    return {name: chunk * rounds / took for name, took in elapsed.items()}, models["ours"]


def evaluate(model: Any, venv: Any, rounds: int, tmp: Path) -> dict[str, float]:
    """Interleaved ``run_playtest`` on torch and on ONNX; episodes/s per backend."""
    from pytest_rlplaytest.agents.eval_backend import choose_eval_backend
    from pytest_rlplaytest.playtest import run_playtest

    backend = choose_eval_backend(model, "onnx", tmp / "_onnx", deterministic=True)
    agents = {"torch": model, "onnx": backend.agent}
    elapsed = interleaved({name: (lambda a=a: run_playtest(a, venv, AGENTS, seed=1)) for name, a in agents.items()},
                          rounds)
    return {name: AGENTS * rounds / took for name, took in elapsed.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="interleaved training chunks (2048 steps) each")
    parser.add_argument("--eval-rounds", type=int, default=6, help="interleaved evaluation chunks (16 episodes) each")
    add_spin_argument(parser)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        project = prepare_project(tmp)
        ours = Ours(project, AGENTS, tmp / "ours", monitored=True)
        theirs = TheirsSB3(project, AGENTS, tmp)
        try:
            rates, model = train(ours.venv, theirs.env, args.rounds)
            theirs.close()
            evals = evaluate(model, ours.venv, args.eval_rounds, tmp)
        finally:
            ours.close()
            theirs.kill()
    print(" ".join(f"train_{k}={v:.0f}" for k, v in rates.items()) + " timesteps/s  "
          + " ".join(f"eval_{k}={v:.1f}" for k, v in evals.items()) + " episodes/s", flush=True)
    print(f"train_vs_godot_rl={rates['ours'] / rates['godot-rl']:.2f} "
          f"train_vs_ceiling={rates['ours'] / rates['ceiling']:.2f} "
          f"eval_onnx_vs_torch={evals['onnx'] / evals['torch']:.2f}")


if __name__ == "__main__":
    main()
