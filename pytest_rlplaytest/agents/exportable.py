"""The torch module that ``export_onnx`` traces: an SB3 policy in the Godot RL Agents ONNX layout.

This module imports torch and SB3 when it is imported: only ONNX export imports it.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from stable_baselines3.common.policies import ActorCriticPolicy

from .base import AgentError

__all__ = ["NormalizedInput", "OnnxExportable", "continuous_mode"]


def _policy_kind(policy: Any) -> str:
    if isinstance(policy, ActorCriticPolicy):
        return "actor_critic"
    if hasattr(policy, "q_net"):
        return "q_net"
    if hasattr(policy, "actor"):
        return "actor"
    raise AgentError(f"export-onnx does not know the policy {type(policy).__name__}")


def continuous_mode(policy: Any) -> str:
    """How the exported ``output`` maps onto a continuous action space: ``unscale`` for SAC/TD3's
    [-1, 1] actor actions, ``clip`` for PPO/A2C's action means (``rlplaytest.continuous``)."""
    return "unscale" if _policy_kind(policy) == "actor" else "clip"


class OnnxExportable(torch.nn.Module):
    """``forward(obs [B, N], state_ins [B]) -> (output, state_outs)``.

    ``output``: PPO/A2C action logits (discrete) or action means (continuous); DQN: Q-values;
    SAC/TD3: the deterministic actor's [-1, 1] action. ``state_ins`` passes through to
    ``state_outs`` (non-recurrent policies).

    Args:
        policy: the SB3 policy (on the CPU, in eval mode).
        shape: the observation's shape; ``obs`` rows are reshaped to it.
        dict_key: the key of the single observation of a ``Dict`` space, else None.
    """

    def __init__(self, policy: Any, shape: tuple[int, ...], dict_key: str | None) -> None:
        super().__init__()
        self.policy = policy
        self.shape = shape
        self.dict_key = dict_key
        self.kind = _policy_kind(policy)
        actor = getattr(policy, "actor", None)
        # SAC's actor samples unless told deterministic=True; TD3's is deterministic already.
        takes_flag = actor is not None and "deterministic" in inspect.signature(actor.forward).parameters
        self.actor_kwargs: dict[str, Any] = {"deterministic": True} if takes_flag else {}

    def forward(self, obs: torch.Tensor, state_ins: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The policy's output for a batch of flat observations, and ``state_ins`` unchanged."""
        x = obs.reshape((-1, *self.shape))
        inp: Any = {self.dict_key: x} if self.dict_key else x
        policy: Any = self.policy
        if self.kind == "actor_critic":
            features: Any = policy.extract_features(inp, policy.pi_features_extractor)
            out = policy.action_net(policy.mlp_extractor.forward_actor(features))
        elif self.kind == "q_net":
            out = policy.q_net(inp)
        else:
            out = policy.actor(inp, **self.actor_kwargs)
        return out, state_ins


class NormalizedInput(torch.nn.Module):
    """``forward(obs, *rest) = inner(clamp((obs - mean) / std, -clip, clip), *rest)``: a policy
    module that takes raw observations, folding in ``VecNormalize``'s frozen statistics (``std`` is
    ``sqrt(var + epsilon)``), exactly as ``VecNormalize.normalize_obs`` computes it.

    Args:
        inner: the exported policy module (its first input is the flat ``obs`` batch).
        mean, std: float32 arrays of the flat observation's size.
        clip: ``clip_obs``.
    """

    def __init__(self, inner: torch.nn.Module, mean: Any, std: Any, clip: float) -> None:
        super().__init__()
        self.inner = inner
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).reshape(1, -1))
        self.clip = float(clip)

    def forward(self, obs: torch.Tensor, *rest: torch.Tensor) -> Any:
        """The inner module's outputs for the normalised observations."""
        mean: torch.Tensor = self.mean  # type: ignore[assignment]
        std: torch.Tensor = self.std  # type: ignore[assignment]
        normalized = torch.clamp((obs - mean) / std, -self.clip, self.clip)
        return self.inner(normalized, *rest)
