"""Evaluation and training throughput: in this process (local) vs on Ray with 1 and 2 game actors.

The game is the Godot probe game (``tests/godot/probe_project``, copied to a temporary folder with
the rlplaytest addon installed): a point moving towards a target, 5 observations, 2 continuous
actions, episodes of ``--episode-steps`` steps; lockstep physics. Everything runs in one process on a
local Ray cluster started here (``num_cpus`` = this machine's CPUs), so the figures compare like
with like on the same machine and the same load.

* evaluation episodes/s: ``--episodes`` greedy episodes of an untrained (seeded) PPO policy.
  Local: ``run_playtest`` on a one-agent ``VecEnv`` (what ``rl_playtest`` does for ``n_envs=1``).
  Ray: the sharded playtest (``ShardPool.play``) with 1 and 2 shards; booting the shards is timed
  apart (once per test) and left out of the rate.
* training agent-steps/s: PPO (``n_steps=64``, 2 envs) for ``--timesteps``. Local: one game instance
  with 2 agents (``GodotVecEnv``). Ray with 1 actor: that instance in one actor; with 2 actors: two
  one-agent instances, one per actor. Booting is left out (the env is made before timing).
* per-step costs for the README's estimate: a local vector step, a Ray actor round trip with one
  agent's step (its cost over the local step is Ray's overhead), one PPO update of a 128-sample
  rollout, one policy forward for a batch of 2.

Last line: ``eval_speedup_2_actors=<Ray with 2 shards / local> train_speedup_2_actors=<Ray with
2 actors / local>``. Run: ``python benchmarks/ray_scaling.py`` (needs godot3-server and the extra
``pytest-rlplaytest[ray]``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _engine(project: Path, settings: Any, agents: int | None) -> Any:
    from pytest_rlplaytest.engines.base import EngineContext
    from pytest_rlplaytest.engines.godot.engine import GodotEngine

    options: dict[str, Any] = {"env_kwargs": {"episode_steps": settings.episode_steps_}}
    if agents is not None:
        options["agents"] = agents
    context = EngineContext(artifacts_dir=Path(tempfile.mkdtemp(prefix="ray-bench-")), seed=3, options=options,
                            settings=settings.plain, nodeid="benchmarks/ray_scaling")
    engine = GodotEngine(str(project), context)
    engine.start()
    return engine


def _policy(venv: Any) -> Any:
    from stable_baselines3 import PPO

    return PPO("MlpPolicy", venv, seed=1, n_steps=64, batch_size=64, n_epochs=4, device="cpu", verbose=0)


def _timed_learn(model: Any, timesteps: int) -> float:
    start = time.perf_counter()
    model.learn(timesteps)
    return time.perf_counter() - start


def _eval(args: argparse.Namespace, project: Path, cfg: Any) -> dict[str, float]:
    from pytest_rlplaytest.distributed.engine import RayEngine
    from pytest_rlplaytest.distributed.evaluation import ShardPool
    from pytest_rlplaytest.playtest import run_playtest

    engine = _engine(project, cfg, agents=1)
    out: dict[str, float] = {}
    try:
        local_venv = engine.make_vec_env(1, seed=11)
        agent = _policy(local_venv)
        result = run_playtest(agent, local_venv, args.episodes, seed=11)
        out["local"] = args.episodes / result.eval_seconds
        ray_engine = RayEngine(engine, cfg.ray, None)
        for shards in (1, 2):
            start = time.perf_counter()
            pool = ShardPool(ray_engine.shipment(), shards)
            out[f"boot_{shards}"] = time.perf_counter() - start
            try:
                result = pool.play(agent, args.episodes, seed=11)
                out[f"ray_{shards}"] = args.episodes / result.eval_seconds
            finally:
                pool.close()
    finally:
        engine.close()
    return out


def _train(args: argparse.Namespace, project: Path, cfg: Any) -> dict[str, float]:
    from pytest_rlplaytest.distributed.engine import RayEngine

    out: dict[str, float] = {}
    local_engine = _engine(project, cfg, agents=2)
    try:
        model = _policy(local_engine.make_vec_env(2, seed=5))
        out["local"] = args.timesteps / _timed_learn(model, args.timesteps)
        out.update(_step_costs(local_engine, model))
        ray_one = RayEngine(local_engine, cfg.ray, None)
        venv = ray_one.make_vec_env(2, seed=5)
        out["ray_1"] = args.timesteps / _timed_learn(_policy(venv), args.timesteps)
        venv.close()
    finally:
        local_engine.close()
    split_engine = _engine(project, cfg, agents=1)
    try:
        ray_two = RayEngine(split_engine, cfg.ray, None)
        venv = ray_two.make_vec_env(2, seed=5)
        out["ray_2"] = args.timesteps / _timed_learn(_policy(venv), args.timesteps)
        out["ray_step_ms"] = _step_ms(venv, 200)
        venv.close()
    finally:
        split_engine.close()
    return out


def _step_ms(venv: Any, steps: int) -> float:
    venv.reset()
    actions = np.zeros((venv.num_envs, 2), dtype=np.float32)
    start = time.perf_counter()
    for _ in range(steps):
        venv.step(actions)
    return (time.perf_counter() - start) / steps * 1000


def _step_costs(engine: Any, model: Any) -> dict[str, float]:
    """Per-step costs on the driver: a local vector step, a PPO update, a policy forward."""
    venv = engine.make_vec_env(2, seed=9)
    local_ms = _step_ms(venv, 200)
    obs = venv.reset()
    start = time.perf_counter()
    for _ in range(200):
        model.predict(obs, deterministic=False)
    predict_ms = (time.perf_counter() - start) / 200 * 1000
    venv.close()
    model.n_epochs = 4
    start = time.perf_counter()
    model.train()  # one update of the last 128-sample rollout (4 epochs of 2 minibatches)
    update_ms = (time.perf_counter() - start) * 1000
    return {"local_step_ms": local_ms, "predict_ms": predict_ms, "update_ms": update_ms}


class _Config:
    """Settings for the plain engines and for the Ray ones."""

    def __init__(self, episode_steps: int) -> None:
        from pytest_rlplaytest.settings import Settings

        self.plain = Settings.defaults(REPO).replace(engine_timeout=60.0)
        self.ray = self.plain.replace(ray="local")
        self.episode_steps_ = episode_steps


def main() -> None:
    """Run both measurements and print the figures; the last line holds the two speedups."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=24)
    parser.add_argument("--episode-steps", type=int, default=100)
    parser.add_argument("--timesteps", type=int, default=1536)
    args = parser.parse_args()
    if shutil.which("godot3-server") is None and shutil.which("godot") is None:
        raise SystemExit("needs a Godot binary (apt-get install godot3-server)")
    from pytest_rlplaytest.agents import seed_everything
    from pytest_rlplaytest.distributed import cluster
    from pytest_rlplaytest.engines.godot.install import install_godot_addon

    seed_everything(0)
    project = Path(tempfile.mkdtemp(prefix="ray-bench-game-")) / "probe_project"
    shutil.copytree(REPO / "tests" / "godot" / "probe_project", project)
    install_godot_addon(project)
    cfg = _Config(args.episode_steps)
    start = time.perf_counter()
    cluster.connect(cfg.ray, owner="benchmark", num_cpus=os.cpu_count())
    print(f"cpus={os.cpu_count()} cluster_start_s={time.perf_counter() - start:.1f}")
    try:
        ev = _eval(args, project, cfg)
        tr = _train(args, project, cfg)
    finally:
        cluster.shutdown(owner="benchmark")
    print(f"eval episodes/s ({args.episodes} episodes of {args.episode_steps} steps): local={ev['local']:.2f} "
          f"ray_1={ev['ray_1']:.2f} ray_2={ev['ray_2']:.2f} (shard boot s: 1={ev['boot_1']:.1f} 2={ev['boot_2']:.1f})")
    print(f"train agent-steps/s (PPO, 2 envs, {args.timesteps} steps): local={tr['local']:.0f} "
          f"ray_1={tr['ray_1']:.0f} ray_2={tr['ray_2']:.0f}")
    print(f"per-step ms: local_vector_step={tr['local_step_ms']:.2f} ray_vector_step_2_actors={tr['ray_step_ms']:.2f} "
          f"policy_forward={tr['predict_ms']:.2f} ppo_update_of_128={tr['update_ms']:.0f}")
    print(f"eval_speedup_2_actors={ev['ray_2'] / ev['local']:.2f} train_speedup_2_actors={tr['ray_2'] / tr['local']:.2f}")


if __name__ == "__main__":
    main()
