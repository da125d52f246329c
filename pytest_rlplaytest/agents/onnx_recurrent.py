"""ONNX export of recurrent (sb3-contrib ``RecurrentPPO``) policies, with their LSTM state carried
by the caller: :func:`export_recurrent_onnx` writes it, :class:`RecurrentOnnxAgent` runs it.

The layout (documented in the README): inputs ``obs`` ``[B, N]`` float32, ``state_ins``
``[2, L, B, H]`` float32 (the LSTM hidden and cell states stacked) and ``episode_start`` ``[B]``
float32 (1.0 resets the state, as SB3 does); outputs ``output`` ``[B, A]`` (discrete: logits;
continuous: the action mean) and ``state_outs`` ``[2, L, B, H]``. The official Godot plugin feeds
``state_ins`` as a constant, so these models are for :class:`RecurrentOnnxAgent`, not the plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .base import AgentError

__all__ = ["RecurrentOnnxAgent", "RecurrentStep", "export_recurrent_onnx"]


class RecurrentStep(torch.nn.Module):
    """One recurrent step of a ``RecurrentPPO`` policy's actor (the module that is exported)."""

    def __init__(self, policy: Any) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, obs: torch.Tensor, state_ins: torch.Tensor,
                episode_start: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``output`` and ``state_outs`` for one step; ``episode_start`` 1.0 zeroes the state first."""
        keep = (1.0 - episode_start).view(1, -1, 1)
        features = self.policy.pi_features_extractor(obs)
        out, (h, c) = self.policy.lstm_actor(features.unsqueeze(0), (keep * state_ins[0], keep * state_ins[1]))
        latent = self.policy.mlp_extractor.forward_actor(out.squeeze(0))
        return self.policy.action_net(latent), torch.stack([h, c])


def export_recurrent_onnx(model: Any, out: Path, opset: int = 17) -> Path:
    """Export a ``RecurrentPPO`` policy (Box observations; Discrete or Box actions) to ``out``."""
    from gymnasium import spaces

    if type(model).__name__ != "RecurrentPPO":
        raise AgentError(f"export_recurrent_onnx takes a RecurrentPPO model, not {type(model).__name__}; "
                         "use export_onnx for feed-forward policies")
    if not isinstance(model.observation_space, spaces.Box) or not isinstance(
            model.action_space, (spaces.Discrete, spaces.Box)):
        raise AgentError("recurrent ONNX export supports Box observations and Discrete or Box actions, not "
                         f"{model.observation_space} -> {model.action_space}")
    policy = model.policy.to("cpu").eval()
    layers, hidden = policy.lstm_actor.num_layers, policy.lstm_actor.hidden_size
    obs = torch.zeros((1, int(np.prod(model.observation_space.shape))), dtype=torch.float32)
    state = torch.zeros((2, layers, 1, hidden), dtype=torch.float32)
    start = torch.ones((1,), dtype=torch.float32)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(RecurrentStep(policy), (obs, state, start), str(out), opset_version=opset, dynamo=False,
                       input_names=["obs", "state_ins", "episode_start"], output_names=["output", "state_outs"],
                       dynamic_axes={"obs": {0: "batch"}, "state_ins": {2: "batch"},
                                     "episode_start": {0: "batch"}, "output": {0: "batch"},
                                     "state_outs": {2: "batch"}})
    return out


class RecurrentOnnxAgent:
    """Runs a model written by :func:`export_recurrent_onnx`; ``predict`` follows SB3's recurrent
    signature (the state is ``(h, c)``, each ``[L, B, H]``; ``episode_start`` resets it)."""

    def __init__(self, path: Path, action_space: Any) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        shape = {i.name: i.shape for i in self.session.get_inputs()}
        if "state_ins" not in shape or "episode_start" not in shape:
            raise AgentError(f"{path}: not a recurrent ONNX policy (inputs {sorted(shape)}); "
                             "export it with export_recurrent_onnx")
        self.layers, self.hidden = int(shape["state_ins"][1]), int(shape["state_ins"][3])
        self.action_space = action_space

    def predict(self, observation: Any, state: tuple[np.ndarray, np.ndarray] | None = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Greedy actions for a batch and the next ``(h, c)`` state."""
        from gymnasium import spaces

        obs = np.asarray(observation, dtype=np.float32)
        obs = obs.reshape(1, -1) if obs.ndim == 1 else obs.reshape(obs.shape[0], -1)
        batch = obs.shape[0]
        stacked = (np.zeros((2, self.layers, batch, self.hidden), np.float32) if state is None
                   else np.stack([np.asarray(s, np.float32) for s in state]))
        starts = (np.zeros(batch, np.float32) if episode_start is None
                  else np.asarray(episode_start, np.float32).reshape(batch))
        output, new = self.session.run(["output", "state_outs"],
                                       {"obs": obs, "state_ins": stacked, "episode_start": starts})
        space = self.action_space
        if isinstance(space, spaces.Discrete):
            actions = np.asarray(output).argmax(axis=1).astype(np.int64) + int(space.start)
        else:
            actions = np.clip(output, space.low, space.high).reshape((batch, *space.shape)).astype(np.float32)
        return actions, (new[0], new[1])
