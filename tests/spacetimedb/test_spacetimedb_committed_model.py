"""Regression check of the committed Blackholio agent on the test double configured like the module.

``example_project/spacetimedb/models/blackholio_ppo.zip`` (see ``train_committed_model.py``) must
gain clearly more mass than standing still, in the same world the example module defines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fake_spacetimedb_server import FakeServerThread

from pytest_rlplaytest.engines.base import EngineContext
from pytest_rlplaytest.engines.spacetimedb.engine import SpacetimeEngine
from pytest_rlplaytest.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "example_project" / "spacetimedb" / "models" / "blackholio_ppo.zip"
STEPS = 100


def mass_gained(url: str, tmp_path: Path, policy: object) -> float:
    """Mean mass gained per agent over one STEPS-long episode of 2 agents."""
    settings = Settings.defaults(ROOT).replace(engine_timeout=10.0, spacetimedb_url=url)
    ctx = EngineContext(artifacts_dir=tmp_path, seed=0, settings=settings,
                        options={"agents": 2, "database": "blackholio", "max_episode_steps": STEPS + 1,
                                 "step_max_ms": 30})
    engine = SpacetimeEngine("", ctx)
    engine.start()
    try:
        venv = engine.make_vec_env()
        obs = venv.reset()
        start = np.array([15.0, 15.0])
        mass = start.copy()
        for _ in range(STEPS):
            actions = policy(obs)  # type: ignore[operator]
            obs, _, dones, infos = venv.step(actions)
            for i, info in enumerate(infos):
                if not dones[i]:
                    mass[i] = info["mass"]
        venv.close()
        return float((mass - start).mean())
    finally:
        engine.close()


def test_committed_model_beats_standing_still(tmp_path: Path) -> None:
    from stable_baselines3 import PPO

    assert MODEL.is_file(), f"{MODEL} is missing; run tests/spacetimedb/train_committed_model.py"
    model = PPO.load(MODEL, device="cpu")
    with FakeServerThread(world_size=400, target_food=480, tick_ms=10.0, food_ms=100.0, seed=3) as srv:
        trained = mass_gained(srv.url, tmp_path / "trained", lambda obs: model.predict(obs, deterministic=True)[0])
        still = mass_gained(srv.url, tmp_path / "still", lambda obs: np.zeros(len(obs), dtype=np.int64))
    assert trained > still + 10.0, (trained, still)
