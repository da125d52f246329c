"""Exporting an SB3 policy in the official plugin's ONNX layout (:mod:`.onnx_layout` says what it is).

:func:`export_plan` gives everything ``torch.onnx.export`` needs: the module (the policy's raw
action output, laid out as the plugin decodes it), the example inputs, the input/output names, the
dynamic batch axes, and the metadata entry that records the layout.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .onnx_layout import METADATA_KEY, OUTPUT_NAMES, OnnxLayoutError, PluginLayout


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


class PluginPolicy(torch.nn.Module):
    """An SB3 policy with the plugin's inputs and output (a ``torch.nn.Module`` to export).

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
        self._head = policy_head(policy)
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

    def forward(self, *inputs: Any) -> tuple[Any, Any]:
        """The plugin's ``output`` for the flat observation inputs, and ``state_ins`` unchanged."""
        *obs, state_ins = inputs
        obs = [self._normalize(i, x) for i, x in enumerate(obs)]
        out = self._head(self.layout.policy_obs(obs))
        return self.layout.plugin_output(out), state_ins


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
        raise OnnxLayoutError("recurrent policies cannot be exported for the plugin (its state_ins is a constant)")
    policy = model.policy.to("cpu").eval()
    layout = PluginLayout.for_spaces(model.observation_space, model.action_space, action_spec)
    normalizers = ([normalization.flat_obs(i.dict_key, i.size) for i in layout.inputs]
                   if normalization is not None else None)
    module = PluginPolicy(policy, layout, normalizers, getattr(normalization, "clip_obs", 10.0))
    metadata = {METADATA_KEY: layout.to_json()}
    if normalizers is not None and any(n is not None for n in normalizers):
        metadata["rlplaytest.normalized"] = "obs"
    args = tuple(torch.zeros((1, i.size), dtype=torch.float32) for i in layout.inputs)
    return ExportPlan(module, (*args, torch.ones((1,), dtype=torch.float32)), layout.input_names,
                      list(OUTPUT_NAMES), layout.dynamic_axes, layout, metadata)


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
        traced = Path(tmp) / "policy.onnx"
        torch.onnx.export(plan.module, plan.args, str(traced), opset_version=opset, input_names=plan.input_names,
                          output_names=plan.output_names, dynamic_axes=plan.dynamic_axes, dynamo=False)
        proto = onnx.load(str(traced))
    for key, value in {**plan.metadata, **(metadata or {})}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return atomic_write_bytes(out, proto.SerializeToString())
