"""The ONNX layout the official Godot RL Agents plugin runs in-game, for models trained here.

What the plugin feeds and reads (edbeeching/godot_rl_agents_plugin ``main`` at bf5d6a2):

* inputs: one float32 tensor ``[batch=1, len]`` per key of the agent's ``get_obs()`` dictionary,
  named by the key, plus ``state_ins`` float32 ``[1]`` holding 1.0 (``onnx/csharp/ONNXInference.cs:39-61``;
  ``sync.gd:235`` passes 1.0). Every key of ``get_obs()`` must be a model input, and every model
  input must be fed. (The plugin paired with godot-rl 0.8.2, before f93cc07, fed only ``obs`` from
  ``get_obs()["obs"]``: a model whose one input is ``obs`` works with both.)
* outputs: it asks for ``output`` and ``state_outs`` (``ONNXInference.cs:63``); the width of
  ``output`` is read from its metadata, dimension 1 (``:34``), so it must be static.
* decoding (``sync.gd:291-345``), walking ``get_action_space()`` in the GAME's key order with a
  running index: a discrete key takes ``size`` values and acts with the index of the largest
  (the first on ties, ``:298-307``; sampled from their softmax when ``deterministic_inference`` is
  off); a continuous key takes ``size`` values clamped to [-1, 1] (``:328-330``) and then skips
  ``size`` more unless the model outputs "means only" (``:331-334``), which holds when every key is
  continuous and the sizes add up to the output width (``onnx/wrapper/ONNX_wrapper.gd:39-51``).

Our layout for that: inputs named after the game's observation keys (read from the space's
:data:`~.spaces.GAME_SPEC_ATTR`; ``obs`` for a plain ``Box`` without one), flat ``[B, size]`` and
reshaped inside the graph; ``output`` in game key order: discrete logits (PPO/A2C) or Q-values
(DQN) as they are; continuous means (or SAC/TD3 actions) as they are; and for MIXED spaces, where
our action ``Box`` gives a discrete key ``size`` slots whose argmax is the action, those slots
clamped to [-1, 1] (SB3 clips Box actions before the driver takes their argmax, so the plugin's
argmax over clamped values picks the same index, ties included) and, after every continuous key,
``size`` zeros for the plugin to skip (where rllib-style exports put a log-std). ``state_outs``
passes ``state_ins`` through. The layout is stored in the model's metadata (:data:`METADATA_KEY`)
so an ONNX agent can feed and decode it by name.

The export itself (a ``torch`` module around the SB3 policy) is in :mod:`.onnx_export`; this
module needs only numpy. It also reproduces the plugin's side exactly (:func:`plugin_feed`,
:func:`plugin_means_only`, :func:`plugin_extract_action`) so tests drive a model the way the game
will.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import RLPlaytestError
from .spaces import GAME_SPEC_ATTR

#: the ONNX metadata entry holding the layout (JSON)
METADATA_KEY = "rlplaytest.godot_layout"
OUTPUT_NAMES = ("output", "state_outs")
#: the ONNX metadata entry naming which layout a model is in: :data:`PLUGIN_LAYOUT` (the plugin runs
#: it in-game) or :data:`RECURRENT_LAYOUT` (an LSTM state carried by the caller; not the plugin)
LAYOUT_KEY = "rlplaytest.layout"
PLUGIN_LAYOUT = "godot-plugin"
RECURRENT_LAYOUT = "recurrent"

#: Why a recurrent policy has no export in the plugin's layout, read from the plugin's source
#: (edbeeching/godot_rl_agents_plugin ``main`` at bf5d6a2), and what to use instead.
RECURRENT_REFUSAL = (
    "the Godot RL Agents plugin's in-game ONNX inference cannot carry a recurrent state: "
    "ONNXInference.RunInference takes state_ins as one int and feeds it as a float tensor of shape [batch=1] "
    "(onnx/csharp/ONNXInference.cs:39,46; ONNX_wrapper.gd:26), sync.gd:235 passes the constant 1.0 every "
    "step and sync.gd:236-237 reads only 'output' (state_outs is dropped), no episode start reaches the model "
    "(AIController.reset(), controller/ai_controller_3d.gd:112-114, tells it nothing), and agents with the same "
    "onnx_model_path share one ONNXModel (sync.gd:122,145,155-158). Export RecurrentPPO in the recurrent layout "
    "instead (`rlplaytest export-onnx MODEL.zip OUT.onnx` does so by default; playtests run it with "
    "model=\"OUT.onnx\" or --rl-eval-backend), or, for in-game inference, train a feed-forward policy "
    "(algo=\"PPO\") and put the history it needs into get_obs()"
)


class OnnxLayoutError(RLPlaytestError, ValueError):
    """The policy cannot be laid out for the plugin's ONNX inference (the message says why)."""


@dataclass(frozen=True)
class ObsInput:
    """One model input: the game's observation key, the policy's shape for it, and where it goes
    in the policy's observation (``dict_key`` in a ``Dict`` space, None for a plain ``Box``)."""

    name: str
    shape: tuple[int, ...]
    dict_key: str | None

    @property
    def size(self) -> int:
        """The flat length the plugin feeds (``[1, size]``)."""
        return int(math.prod(self.shape))


@dataclass(frozen=True)
class ActionKey:
    """One key of the game's action space, in the game's order."""

    name: str
    discrete: bool
    size: int


def _obs_inputs(observation_space: Any) -> tuple[ObsInput, ...]:
    from gymnasium import spaces

    spec = (getattr(observation_space, GAME_SPEC_ATTR, None) or {}).get("observation_space")
    if isinstance(observation_space, spaces.Dict):
        subs = list(observation_space.spaces.items())
    else:
        name = next(iter(spec)) if isinstance(spec, Mapping) and len(spec) == 1 else "obs"
        subs = [(name, observation_space)]
    inputs = []
    for key, sub in subs:
        if not isinstance(sub, spaces.Box) or sub.dtype != np.float32:
            raise OnnxLayoutError(
                f"observation key {key!r} is {sub}: the plugin's ONNX inference feeds every key of get_obs() as "
                "an array of floats (ONNXInference.cs:39-61), so only float Box keys can be exported (no "
                "images sent as hex strings, no discrete keys)")
        inputs.append(ObsInput(str(key), tuple(int(d) for d in sub.shape),
                               str(key) if isinstance(observation_space, spaces.Dict) else None))
    return tuple(inputs)


def _action_keys(action_space: Any, action_spec: Mapping[str, Any] | None) -> tuple[ActionKey, ...]:
    from gymnasium import spaces

    spec = action_spec or (getattr(action_space, GAME_SPEC_ATTR, None) or {}).get("action_space")
    if isinstance(spec, Mapping) and spec:
        return tuple(ActionKey(str(k), v["action_type"] == "discrete", int(v["size"])) for k, v in spec.items())
    if isinstance(action_space, spaces.Discrete):
        return (ActionKey("action", True, int(action_space.n)),)
    if isinstance(action_space, spaces.MultiDiscrete):
        return tuple(ActionKey(f"action_{i}", True, int(n)) for i, n in enumerate(action_space.nvec.ravel()))
    if isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
        return (ActionKey("action", False, int(action_space.shape[0])),)
    raise OnnxLayoutError(f"the plugin's ONNX inference decodes discrete and continuous action keys; {action_space} "
                          "is neither")


@dataclass(frozen=True)
class PluginLayout:
    """How a policy's observations and actions map onto the plugin's ONNX inputs and output."""

    inputs: tuple[ObsInput, ...]
    actions: tuple[ActionKey, ...]

    @classmethod
    def for_spaces(cls, observation_space: Any, action_space: Any,
                   action_spec: Mapping[str, Any] | None = None) -> PluginLayout:
        """The layout of a policy over these spaces; ``action_spec`` (the game's ``get_action_space()``)
        overrides the one the Godot driver stores on the space."""
        return cls(_obs_inputs(observation_space), _action_keys(action_space, action_spec))

    @property
    def mixed(self) -> bool:
        """True when the actions mix discrete and continuous keys."""
        kinds = {k.discrete for k in self.actions}
        return len(kinds) == 2

    @property
    def policy_width(self) -> int:
        """Values per agent in the policy's own output (SB3's action_net / actor / q_net)."""
        return sum(k.size for k in self.actions)

    @property
    def output_width(self) -> int:
        """Values per agent in ``output`` (mixed spaces: a zero block after each continuous key)."""
        return self.policy_width + (sum(k.size for k in self.actions if not k.discrete) if self.mixed else 0)

    @property
    def input_names(self) -> list[str]:
        """The model's input names: one per observation input, then ``state_ins``."""
        return [i.name for i in self.inputs] + ["state_ins"]

    @property
    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """``torch.onnx.export`` dynamic axes: the batch axis of every input and output."""
        return {name: {0: "batch_size"} for name in [*self.input_names, *OUTPUT_NAMES]}

    # -- inside the graph (torch) ------------------------------------------------------------
    def policy_obs(self, tensors: Sequence[Any]) -> Any:
        """The policy's observation from the flat input tensors."""
        shaped = [t.reshape((-1, *i.shape)) for t, i in zip(tensors, self.inputs)]
        if self.inputs[0].dict_key is None:
            return shaped[0]
        return {i.dict_key: t for i, t in zip(self.inputs, shaped)}

    def plugin_output(self, out: Any) -> Any:
        """The policy's output ``[B, policy_width]`` laid out as the plugin decodes it (reshaped to a
        constant width, so the exported output's dimension 1 is static)."""
        if not self.mixed:
            return out.reshape(-1, self.output_width)
        import torch

        parts, col = [], 0
        for key in self.actions:
            block = out[:, col:col + key.size]
            col += key.size
            if key.discrete:
                parts.append(torch.clamp(block, -1.0, 1.0))
            else:
                parts += [block, torch.zeros_like(block)]
        return torch.cat(parts, dim=1).reshape(-1, self.output_width)

    # -- outside the graph (numpy: an ONNX agent of our own) ----------------------------------------
    def feed(self, observation: Any) -> dict[str, np.ndarray]:
        """The inputs for a batch of observations (as the VecEnv returns them), plus ``state_ins``."""
        if self.inputs[0].dict_key is None:
            arrays = [np.asarray(observation, dtype=np.float32)]
        else:
            arrays = [np.asarray(observation[i.dict_key], dtype=np.float32) for i in self.inputs]
        batch = arrays[0].shape[0] if arrays[0].ndim > len(self.inputs[0].shape) else 1
        feed = {i.name: a.reshape(batch, i.size) for i, a in zip(self.inputs, arrays)}
        feed["state_ins"] = np.zeros((batch,), dtype=np.float32)
        return feed

    def policy_output(self, output: np.ndarray) -> np.ndarray:
        """Back from ``output`` to the policy's own layout (drops the mixed-space zero blocks)."""
        if not self.mixed:
            return output
        parts, col = [], 0
        for key in self.actions:
            parts.append(output[:, col:col + key.size])
            col += key.size if key.discrete else 2 * key.size
        return np.concatenate(parts, axis=1)

    def to_json(self) -> str:
        """The layout as JSON, stored in the model's metadata."""
        return json.dumps({"inputs": [[i.name, list(i.shape), i.dict_key] for i in self.inputs],
                           "actions": [[k.name, "discrete" if k.discrete else "continuous", k.size]
                                       for k in self.actions]})

    @classmethod
    def from_json(cls, text: str) -> PluginLayout:
        """The layout :meth:`to_json` wrote."""
        data = json.loads(text)
        return cls(tuple(ObsInput(n, tuple(s), d) for n, s, d in data["inputs"]),
                   tuple(ActionKey(n, t == "discrete", int(s)) for n, t, s in data["actions"]))


# -- the plugin's side, reproduced --------------------------------------------------------------
def plugin_feed(obs: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    """What ``ONNXInference.RunInference`` builds from one agent's ``get_obs()`` (onnx.cs:44-61):
    ``state_ins`` ``[1]`` = 1.0 (sync.gd:235), then every key as float32 ``[1, len]``."""
    feed = {"state_ins": np.array([1.0], dtype=np.float32)}
    for key, values in obs.items():
        feed[key] = np.asarray(values, dtype=np.float32).reshape(1, len(values))
    return feed


def plugin_means_only(action_space: Mapping[str, Mapping[str, Any]], output_size: int) -> bool:
    """``ONNXModel.set_action_means_only`` (ONNX_wrapper.gd:39-51)."""
    total = 0
    for entry in action_space.values():
        if entry["action_type"] != "continuous":
            return False
        total += int(entry["size"])
    return total == output_size


def plugin_extract_action(output: Sequence[float], action_space: Mapping[str, Mapping[str, Any]],
                          means_only: bool) -> dict[str, Any]:
    """``Sync._extract_action_dict`` with ``deterministic_inference`` on (sync.gd:291-345): the
    action dict the game's ``set_action()`` gets."""
    index = 0
    result: dict[str, Any] = {}
    for key, entry in action_space.items():  # the game's insertion order (sync.gd:294)
        size = int(entry["size"])
        if entry["action_type"] == "discrete":
            largest, largest_idx = -math.inf, 0
            for i in range(size):  # strictly greater: the first of equal values wins (sync.gd:301-305)
                if output[index + i] > largest:
                    largest, largest_idx = output[index + i], i
            result[key] = largest_idx
            index += size
        elif entry["action_type"] == "continuous":
            result[key] = [min(max(float(v), -1.0), 1.0) for v in output[index:index + size]]  # :330, :599-603
            index += size if means_only else 2 * size  # :331-334
        else:
            raise AssertionError(f'Only "discrete" and "continuous" action types supported. Found: {entry}')
    return result
