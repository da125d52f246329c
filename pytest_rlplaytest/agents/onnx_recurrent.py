"""ONNX export of recurrent (sb3-contrib ``RecurrentPPO``) policies, with their LSTM state carried
by the caller: :func:`export_recurrent_onnx` writes it (through the one ONNX writer,
:func:`pytest_rlplaytest.engines.godot.onnx_export.recurrent_plan` and ``write_onnx``),
:class:`RecurrentOnnxAgent` runs it and :func:`check_recurrent_onnx_matches` checks it against SB3.

The recurrent layout (documented in the README): the plugin layout's observation inputs (``obs``
``[B, N]`` float32 for a plain ``Box``), ``state_ins`` ``[2, L, B, H]`` float32 (the actor LSTM's
hidden and cell states stacked) and ``episode_start`` ``[B]`` float32 (1.0 resets the state, as SB3
does); outputs ``output`` ``[B, A]`` (discrete: logits; continuous: the action mean) and
``state_outs`` ``[2, L, B, H]``. The official Godot plugin feeds ``state_ins`` as a constant and
drops ``state_outs`` (:data:`~pytest_rlplaytest.engines.godot.onnx_layout.RECURRENT_REFUSAL`), so
these models are for :class:`RecurrentOnnxAgent`, not the plugin.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import AgentError
from .onnx import OnnxAgent, _unwrap_normalized, same_actions, sample_batch

if TYPE_CHECKING:
    from .normalize import Normalization

__all__ = ["RecurrentOnnxAgent", "check_recurrent_onnx_matches", "export_recurrent_onnx"]

#: parallel sequences the agreement check plays (each a new episode with probability
#: :data:`CHECK_RESET_P` per step after its first)
CHECK_SEQUENCES = 4
CHECK_RESET_P = 0.1


def export_recurrent_onnx(model: Any, out: Path, opset: int = 17, *,
                          normalization: Normalization | None = None) -> Path:
    """Export a ``RecurrentPPO`` policy to ``out`` in the recurrent layout (see the module docstring).

    ``normalization`` (or the statistics of a :class:`~.normalize.NormalizedAgent` passed as
    ``model``) is folded into the graph, as :func:`~.onnx.export_onnx` does.

    Raises:
        AgentError: not a ``RecurrentPPO`` model, or spaces the layout cannot hold (the reason).
    """
    from ..engines.godot.onnx_export import recurrent_plan, write_onnx
    from ..engines.godot.onnx_layout import OnnxLayoutError

    model, normalization = _unwrap_normalized(model, normalization)
    if type(model).__name__ != "RecurrentPPO":
        raise AgentError(f"export_recurrent_onnx takes a RecurrentPPO model, not {type(model).__name__}; "
                         "use export_onnx for feed-forward policies")
    try:
        plan = recurrent_plan(model, normalization=normalization)
    except OnnxLayoutError as exc:
        raise AgentError(f"export-onnx: {exc}") from None
    # RecurrentPPO's Box actions are Gaussian means that SB3 clips to the space (no tanh squashing)
    return write_onnx(plan, out, opset, {"rlplaytest.algo": "RecurrentPPO", "rlplaytest.continuous": "clip"})


class RecurrentOnnxAgent(OnnxAgent):
    """Runs a model in the recurrent layout; ``predict`` follows SB3's recurrent signature (the
    state is ``(h, c)``, each ``[L, B, H]``; ``episode_start`` resets it; None: zeros)."""

    recurrent = True

    def __init__(self, path: Path, action_space: Any, observation_space: Any = None) -> None:
        super().__init__(path, action_space, observation_space)
        shape = {i.name: i.shape for i in self.session.get_inputs()}
        if "episode_start" not in shape or len(shape.get("state_ins", ())) != 4:
            raise AgentError(f"{path}: not a recurrent ONNX policy (inputs {sorted(shape)}); "
                             "export it with `rlplaytest export-onnx` (RecurrentPPO) or export_recurrent_onnx")
        from ..engines.godot.onnx_export import RECURRENT_KEY

        meta = self.session.get_modelmeta().custom_metadata_map
        size = json.loads(meta[RECURRENT_KEY]) if RECURRENT_KEY in meta else {
            "layers": shape["state_ins"][1], "hidden": shape["state_ins"][3]}
        self.layers, self.hidden = int(size["layers"]), int(size["hidden"])
        if "rlplaytest.continuous" not in meta:  # written before the metadata was: RecurrentPPO means
            self.continuous = "clip"

    def predict(self, observation: Any, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Greedy actions for a batch and the next ``(h, c)`` state."""
        if self.layout is not None:
            feed = self.layout.feed(observation)
            batch = feed[self.layout.inputs[0].name].shape[0]
        else:
            feed = {"obs": self._flat_obs(observation)}
            batch = feed["obs"].shape[0]
        feed["state_ins"] = (np.zeros((2, self.layers, batch, self.hidden), np.float32) if state is None
                             else np.stack([np.asarray(s, np.float32) for s in state]))
        feed["episode_start"] = (np.zeros(batch, np.float32) if episode_start is None
                                 else np.asarray(episode_start, np.float32).reshape(batch))
        output, new = self.session.run(["output", "state_outs"], feed)
        output = np.asarray(output)
        if self.layout is not None:
            output = self.layout.policy_output(output)
        return self._actions(output, batch), (new[0], new[1])


def check_recurrent_onnx_matches(model: Any, onnx_path: Path, n: int = 256, seed: int = 0, atol: float = 1e-4, *,
                                 normalization: Normalization | None = None) -> float:
    """Fraction of ``n`` steps on which the ONNX agent and SB3 choose the same greedy action and
    reach the same LSTM state (within ``atol``: a state that drifts shows in later actions), each
    carrying its own state through :data:`CHECK_SEQUENCES` parallel sequences of sampled
    observations, with new episodes (``episode_start``) at the first step and at random (seeded)
    steps after it. Arguments as for :func:`~.onnx.check_onnx_matches`."""
    model, normalization = _unwrap_normalized(model, normalization)
    obs_space = model.observation_space
    obs_space.seed(seed)
    rng = np.random.default_rng(seed)
    agent = RecurrentOnnxAgent(Path(onnx_path), model.action_space, obs_space)
    sb3_state: Any = None
    onnx_state: Any = None
    start = np.ones(CHECK_SEQUENCES, dtype=bool)
    same = steps = 0
    while steps < n:
        batch = sample_batch(obs_space, CHECK_SEQUENCES)
        expected, sb3_state = model.predict(normalization.apply(batch) if normalization is not None else batch,
                                            state=sb3_state, episode_start=start, deterministic=True)
        got, onnx_state = agent.predict(batch, state=onnx_state, episode_start=start)
        agree = (same_actions(model.action_space, expected, got, atol) & _same_state(sb3_state, onnx_state, atol))
        agree = agree[:n - steps]
        same, steps = same + int(agree.sum()), steps + len(agree)
        start = rng.random(CHECK_SEQUENCES) < CHECK_RESET_P
    return same / max(n, 1)


def _same_state(expected: Any, got: Any, atol: float) -> np.ndarray:
    """Per env: whether two ``(h, c)`` states (each ``[L, B, H]``) are equal within ``atol``."""
    diff = np.abs(np.stack([np.asarray(s, np.float64) for s in expected]) - np.stack(
        [np.asarray(s, np.float64) for s in got]))  # [2, L, B, H]
    return diff.max(axis=(0, 1, 3)) <= atol  # type: ignore[no-any-return]
