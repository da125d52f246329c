"""Bug-hunt replays on the cluster: the shrinker's candidates replayed in game actors.

``Replayer`` (``bughunt/replay.py``) replays ``venv.num_envs`` candidates at a time on a ``VecEnv``
of independent one-agent envs; here that ``VecEnv`` is a :class:`~.vec_env.RayVecEnv` of
``parallel`` replay actors, each owning one game instance launched with the recorded world seed,
wherever Ray places it. The shrinker (``bughunt/shrink.py``) runs unchanged on top; a log-pattern
signature reads each game's output through ``RayVecEnv.new_log_lines``.
"""

from __future__ import annotations

from .actors import spawn
from .game import GameShipment
from .vec_env import RayVecEnv


def replay_vec_env(shipment: GameShipment, parallel: int) -> RayVecEnv:
    """``parallel`` one-agent replay game actors as one ``VecEnv`` (the contract of
    ``Engine.make_replay_vec_env``: a reset with seed S starts the recorded episode S)."""
    actors = spawn(shipment, "replay", [(1, shipment.seed, f"replay-{k}") for k in range(max(1, parallel))])
    return RayVecEnv(actors, "replay", step_timeout=2 * shipment.settings.engine_timeout)
