"""What every agent is: the :class:`Agent` protocol, :class:`AgentError`, the algorithm import and
end-to-end seeding.

Nothing here imports torch or Stable-Baselines3 at module level.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..errors import RLPlaytestError

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

__all__ = ["Agent", "AgentError", "import_algo", "seed_everything"]


class Agent(Protocol):
    """Anything that acts: SB3's ``predict`` signature."""

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Actions for a batch of observations, and the recurrent state (None if stateless)."""
        ...


class AgentError(RLPlaytestError, RuntimeError):
    """An agent could not be trained, loaded or exported; the message says why and what to do."""


def import_algo(name: str) -> type[BaseAlgorithm]:
    """The SB3 (or sb3-contrib, for ``RecurrentPPO``) algorithm class called ``name``."""
    if name == "RecurrentPPO":
        try:
            from sb3_contrib import RecurrentPPO
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise AgentError("algo='RecurrentPPO' needs sb3-contrib: pip install sb3-contrib") from exc
        return RecurrentPPO  # type: ignore[no-any-return]
    try:
        import stable_baselines3 as sb3
    except ImportError as exc:  # pragma: no cover
        raise AgentError("training needs stable-baselines3: pip install stable-baselines3") from exc
    algo = getattr(sb3, name, None)
    if algo is None:
        raise AgentError(f"stable-baselines3 has no algorithm {name!r}; use PPO, A2C, DQN, SAC, TD3 "
                         "or RecurrentPPO")
    return algo  # type: ignore[no-any-return]


def seed_everything(seed: int, torch_threads: int = 1) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and CUDA), and give torch ``torch_threads``
    threads (``--rl-torch-threads``)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.manual_seed(seed)
    torch.set_num_threads(torch_threads)
