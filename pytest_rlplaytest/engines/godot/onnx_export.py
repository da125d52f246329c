"""Exporting an SB3 policy in the official plugin's ONNX layout (:mod:`.onnx_layout` says what it is).

:func:`export_plan` gives everything ``torch.onnx.export`` needs: the module (the policy's raw
action output, laid out as the plugin decodes it), the example inputs, the input/output names, the
dynamic batch axes, and the metadata entry that records the layout. :func:`recurrent_plan` does the
same for ``RecurrentPPO`` in the recurrent layout (its LSTM state an input and an output, carried by
the caller), which the plugin cannot run. :func:`write_onnx` writes either.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .onnx_layout import (
    LAYOUT_KEY,
    METADATA_KEY,
    OUTPUT_NAMES,
    PLUGIN_LAYOUT,
    RECURRENT_LAYOUT,
    RECURRENT_REFUSAL,
    OnnxLayoutError,
    PluginLayout,
)

#: the ONNX metadata entry of a recurrent export: its LSTM state's size (JSON ``{"layers", "hidden"}``)
RECURRENT_KEY = "rlplaytest.recurrent"
#: the inputs a recurrent export takes after the observation inputs
RECURRENT_INPUTS = ("state_ins", "episode_start")


def policy_head(policy: Any) -> Callable[[Any], Any]:
    """The raw action output of an SB3 policy for an observation batch (no sampling, no clipping):
    PPO/A2C: ``action_net`` (logits or Gaussian means); DQN: ``q_net``; SAC/TD3: the deterministic
    actor. (godot-rl's exporter takes the same ``action_net`` output, R ``wrappers/onnx/
    stable_baselines_export.py:29-39``.)"""
    import inspect

    from stable_baselines3.common.policies import ActorCriticPolicy

    if isinstance(policy, ActorCriticPolicy):
        def actor_critic(obs: Any) -> Any:
            features: Any = policy.extract_features(obs, policy.pi_features_extractor)
            return policy.action_net(policy.mlp_extractor.forward_actor(features))
        return actor_critic
    if hasattr(policy, "q_net"):
        return policy.q_net  # type: ignore[no-any-return]
    actor = getattr(policy, "actor", None)
    if actor is not None:
        kwargs = {"deterministic": True} if "deterministic" in inspect.signature(actor.forward).parameters else {}
        return lambda obs: actor(obs, **kwargs)
    raise OnnxLayoutError(f"no ONNX export for the policy {type(policy).__name__}")


class _ObsInputs(torch.nn.Module):
    """The plugin layout's flat observation inputs, with ``VecNormalize``'s frozen statistics folded in.

    Args:
        policy: the SB3 policy (CPU, eval mode).
        layout: the plugin layout (inputs, output).
        normalizers: per input, ``(mean, std)`` of ``VecNormalize``'s frozen statistics to fold in
            (None: that input is not normalised), as ``VecNormalize.normalize_obs`` computes
            ``clip((x - mean) / std, -clip_obs, clip_obs)`` with ``std = sqrt(var + epsilon)``.
        clip_obs: ``VecNormalize``'s ``clip_obs``.
    """

    def __init__(self, policy: Any, layout: PluginLayout,
                 normalizers: Sequence[tuple[Any, Any] | None] | None = None, clip_obs: float = 10.0) -> None:
        super().__init__()
        self.policy = policy
        self.layout = layout
        self.clip_obs = float(clip_obs)
        self.normalized: list[bool] = []
        for i, stats in enumerate(normalizers or [None] * len(layout.inputs)):
            self.normalized.append(stats is not None)
            if stats is not None:
                self.register_buffer(f"mean{i}", torch.as_tensor(stats[0], dtype=torch.float32).reshape(1, -1))
                self.register_buffer(f"std{i}", torch.as_tensor(stats[1], dtype=torch.float32).reshape(1, -1))

    def _normalize(self, i: int, x: Any) -> Any:
        if not self.normalized[i]:
            return x
        return torch.clamp((x - getattr(self, f"mean{i}")) / getattr(self, f"std{i}"), -self.clip_obs, self.clip_obs)

    def policy_obs(self, obs: Sequence[Any]) -> Any:
        """The policy's observation from the flat (raw) input tensors."""
        return self.layout.policy_obs([self._normalize(i, x) for i, x in enumerate(obs)])


class PluginPolicy(_ObsInputs):
    """An SB3 policy with the plugin's inputs and output (a ``torch.nn.Module`` to export); the
    arguments are :class:`_ObsInputs`'."""

    def __init__(self, policy: Any, layout: PluginLayout,
                 normalizers: Sequence[tuple[Any, Any] | None] | None = None, clip_obs: float = 10.0) -> None:
        super().__init__(policy, layout, normalizers, clip_obs)
        self._head = policy_head(policy)

    def forward(self, *inputs: Any) -> tuple[Any, Any]:
        """The plugin's ``output`` for the flat observation inputs, and ``state_ins`` unchanged."""
        *obs, state_ins = inputs
        return self.layout.plugin_output(self._head(self.policy_obs(obs))), state_ins


class RecurrentPolicy(_ObsInputs):
    """One step of a ``RecurrentPPO`` actor with its LSTM state as an input and an output (the
    recurrent layout, :func:`recurrent_plan`); the arguments are :class:`_ObsInputs`'.

    It computes what sb3-contrib 2.9 ``RecurrentActorCriticPolicy.get_distribution`` does for one
    step (``common/recurrent/policies.py``: ``extract_features`` with ``pi_features_extractor``,
    ``_process_sequence`` with ``lstm_actor``, which multiplies both states by ``1 - episode_start``
    before the step, ``mlp_extractor.forward_actor``) and then ``action_net``: the mean (Box) or
    logits (Discrete, MultiDiscrete) that SB3's greedy ``predict`` acts on.
    """

    def forward(self, *inputs: Any) -> tuple[Any, Any]:
        """``output`` (in the plugin layout's order) and ``state_outs`` ``[2, L, B, H]``."""
        *obs, state_ins, episode_start = inputs
        policy = self.policy
        features = policy.extract_features(self.policy_obs(obs), policy.pi_features_extractor)
        keep = (1.0 - episode_start).view(1, -1, 1)
        out, (h, c) = policy.lstm_actor(features.unsqueeze(0), (keep * state_ins[0], keep * state_ins[1]))
        logits = policy.action_net(policy.mlp_extractor.forward_actor(out.squeeze(0)))
        return self.layout.plugin_output(logits), torch.stack([h, c])


@dataclass
class ExportPlan:
    """Everything ``torch.onnx.export`` needs, plus the metadata entries to store."""

    module: Any
    args: tuple[Any, ...]
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]
    layout: PluginLayout
    metadata: dict[str, str]


def export_plan(model: Any, action_spec: Mapping[str, Any] | None = None, *,
                normalization: Any = None) -> ExportPlan:
    """The export of an SB3 ``model`` in the plugin's layout (see the module docstring).

    Args:
        action_spec: the game's ``get_action_space()`` (keys in its order), for models whose action
            space does not carry it (trained before the driver stored it, or elsewhere).
        normalization: ``VecNormalize`` statistics to fold into the graph
            (:class:`pytest_rlplaytest.agents.normalize.Normalization`), so the model takes raw
            observations; metadata ``rlplaytest.normalized = obs`` records it.
    """
    if type(model).__name__ == "RecurrentPPO":
        raise OnnxLayoutError(f"RecurrentPPO has no export in the plugin's layout: {RECURRENT_REFUSAL}")
    layout, normalizers, metadata = _layout_of(model, action_spec, normalization)
    module = PluginPolicy(model.policy.to("cpu").eval(), layout, normalizers, getattr(normalization, "clip_obs", 10.0))
    args = tuple(torch.zeros((1, i.size), dtype=torch.float32) for i in layout.inputs)
    return ExportPlan(module, (*args, torch.ones((1,), dtype=torch.float32)), layout.input_names,
                      list(OUTPUT_NAMES), layout.dynamic_axes, layout, {**metadata, LAYOUT_KEY: PLUGIN_LAYOUT})


def _layout_of(model: Any, action_spec: Mapping[str, Any] | None,
               normalization: Any) -> tuple[PluginLayout, list[Any] | None, dict[str, str]]:
    """The model's plugin layout, the normalisers to fold in, and the metadata recording both."""
    layout = PluginLayout.for_spaces(model.observation_space, model.action_space, action_spec)
    normalizers = ([normalization.flat_obs(i.dict_key, i.size) for i in layout.inputs]
                   if normalization is not None else None)
    metadata = {METADATA_KEY: layout.to_json()}
    if normalizers is not None and any(n is not None for n in normalizers):
        metadata["rlplaytest.normalized"] = "obs"
    return layout, normalizers, metadata


def recurrent_plan(model: Any, action_spec: Mapping[str, Any] | None = None, *,
                   normalization: Any = None) -> ExportPlan:
    """The export of a ``RecurrentPPO`` ``model`` in the recurrent layout (which the Godot plugin
    cannot run: :data:`~.onnx_layout.RECURRENT_REFUSAL` says why).

    Inputs: the plugin layout's observation inputs (one float32 ``[B, size]`` per observation key,
    named by it; ``obs`` for a plain ``Box``), ``state_ins`` float32 ``[2, L, B, H]`` (the actor
    LSTM's hidden and cell states stacked) and ``episode_start`` float32 ``[B]`` (1.0 zeroes the
    state before the step, as SB3 does). Outputs: ``output`` ``[B, width]`` in the plugin layout's
    order (logits, or continuous means) and ``state_outs`` ``[2, L, B, H]``, the state to feed
    back as the next ``state_ins``. Metadata: the plugin layout (:data:`METADATA_KEY`),
    :data:`LAYOUT_KEY` = ``recurrent`` and :data:`RECURRENT_KEY` (``{"layers": L, "hidden": H}``).
    Arguments as for :func:`export_plan`.
    """
    if type(model).__name__ != "RecurrentPPO":
        raise OnnxLayoutError(f"the recurrent layout is for RecurrentPPO policies, not {type(model).__name__}; "
                              "export feed-forward policies in the plugin's layout (export_plan)")
    policy = model.policy.to("cpu").eval()
    if getattr(policy, "squash_output", False):
        raise OnnxLayoutError("RecurrentPPO with squashed (tanh) actions has no ONNX export: train it without "
                              "squash_output")
    layout, normalizers, metadata = _layout_of(model, action_spec, normalization)
    layers, hidden = int(policy.lstm_actor.num_layers), int(policy.lstm_actor.hidden_size)
    module = RecurrentPolicy(policy, layout, normalizers, getattr(normalization, "clip_obs", 10.0))
    args = (*(torch.zeros((1, i.size), dtype=torch.float32) for i in layout.inputs),
            torch.zeros((2, layers, 1, hidden), dtype=torch.float32), torch.ones((1,), dtype=torch.float32))
    names = [i.name for i in layout.inputs] + list(RECURRENT_INPUTS)
    axes = {name: {0: "batch_size"} for name in [*names, OUTPUT_NAMES[0]]}
    axes["state_ins"] = axes["state_outs"] = {2: "batch_size"}
    metadata.update({LAYOUT_KEY: RECURRENT_LAYOUT, RECURRENT_KEY: json.dumps({"layers": layers, "hidden": hidden})})
    return ExportPlan(module, args, names, list(OUTPUT_NAMES), axes, layout, metadata)


def continuous_mode(policy: Any) -> str:
    """How the exported ``output`` maps onto a continuous action space, stored as
    ``rlplaytest.continuous``: ``unscale`` for SAC/TD3's [-1, 1] actor actions, ``clip`` for PPO/A2C's
    action means (the plugin itself clamps to [-1, 1])."""
    from stable_baselines3.common.policies import ActorCriticPolicy

    actor_only = not isinstance(policy, ActorCriticPolicy) and not hasattr(policy, "q_net") and hasattr(
        policy, "actor")
    return "unscale" if actor_only else "clip"


def write_onnx(plan: ExportPlan, out: str | Path, opset: int = 17, metadata: Mapping[str, str] | None = None) -> Path:
    """Run ``torch.onnx.export`` for ``plan``, store ``plan.metadata`` (plus ``metadata``) in the
    model's metadata props, and write the model to ``out`` atomically (the one ONNX writer)."""
    import tempfile

    import onnx

    from ...common.files import atomic_write_bytes

    with tempfile.TemporaryDirectory(prefix="rlplaytest-onnx-") as tmp, torch.no_grad(), \
            warnings.catch_warnings():
        # the TorchScript exporter is deprecated in favour of the dynamo one, which needs onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        # recurrent exports: h0/c0 are inputs of the model, as this warning advises; and the LSTM's
        # shape checks, traced as constants, hold for every batch (the state's batch axis follows obs)
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
        warnings.filterwarnings("ignore", message="Converting a tensor to a Python boolean")
        traced = Path(tmp) / "policy.onnx"
        torch.onnx.export(plan.module, plan.args, str(traced), opset_version=opset, input_names=plan.input_names,
                          output_names=plan.output_names, dynamic_axes=plan.dynamic_axes, dynamo=False)
        proto = onnx.load(str(traced))
    for key, value in {**plan.metadata, **(metadata or {})}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return atomic_write_bytes(out, proto.SerializeToString())
