"""Recipe for ``example_project/spacetimedb/models/blackholio_ppo.zip`` (run by hand, not collected).

Trains PPO against the fake server TEST DOUBLE configured like the example module (world 400,
480 food, 50 ms ticks shortened to 10 ms), because the real ``spacetime`` server cannot run here:

    /work/venv/bin/python tests/spacetimedb/train_committed_model.py [timesteps]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from fake_spacetimedb_server import FakeServerThread  # noqa: E402

from pytest_rlplaytest.engines.base import EngineContext  # noqa: E402
from pytest_rlplaytest.engines.spacetimedb.engine import SpacetimeEngine  # noqa: E402
from pytest_rlplaytest.settings import Settings  # noqa: E402

WORLD = {"world_size": 400, "target_food": 480, "tick_ms": 10.0, "food_ms": 100.0}
OUT = ROOT / "example_project" / "spacetimedb" / "models" / "blackholio_ppo.zip"


def main(timesteps: int = 30_000) -> None:
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    with FakeServerThread(seed=1, **WORLD) as srv:
        settings = Settings.defaults(ROOT).replace(engine_timeout=10.0, spacetimedb_url=srv.url)
        ctx = EngineContext(artifacts_dir=ROOT / ".rlplaytest" / "train-blackholio", seed=0,
                            options={"agents": 4, "database": "blackholio", "max_episode_steps": 200},
                            settings=settings)
        engine = SpacetimeEngine("", ctx)
        engine.start()
        try:
            venv = engine.make_vec_env()
            model = PPO("MlpPolicy", venv, n_steps=256, batch_size=256, seed=0, device="cpu", verbose=0,
                        policy_kwargs={"net_arch": [64, 64]})
            started = time.perf_counter()
            model.learn(total_timesteps=timesteps)
            print(f"trained {timesteps} steps in {time.perf_counter() - started:.0f} s; last episodes:",
                  [round(ep["r"], 2) for ep in list(model.ep_info_buffer)[-10:]])
            OUT.parent.mkdir(parents=True, exist_ok=True)
            model.save(OUT)
            print("saved", OUT)
            venv.close()
        finally:
            engine.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30_000)
