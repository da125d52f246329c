"""ONNX agents in the official Godot RL Agents layout: run them (:class:`OnnxAgent`, onnxruntime),
export SB3 policies to them (:func:`export_onnx`, torch) and check an export (:func:`check_onnx_matches`).
Recurrent policies have their own layout (:mod:`.onnx_recurrent`); :func:`open_onnx_agent` opens either.

The layout: inputs ``obs`` ``[B, N]`` float32 and ``state_ins`` ``[B]``; outputs ``output`` ``[B, A]``
and ``state_outs``. onnxruntime, torch and onnx are imported only when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import AgentError

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

    from .normalize import Normalization

__all__ = ["OnnxAgent", "check_onnx_matches", "describe_onnx", "export_onnx", "open_onnx_agent", "same_actions",
           "sample_batch"]


class OnnxAgent:
    """Runs an ONNX policy in the official Godot RL Agents layout with onnxruntime.

    ``output`` holds logits (discrete: argmax per action branch) or continuous actions. How
    continuous outputs map onto the action space is read from the model's metadata
    (``rlplaytest.continuous``: ``clip`` for PPO/A2C means, ``unscale`` for SAC/TD3's [-1, 1]
    actions); a model without it is clamped to [-1, 1], as the official plugin does. Recurrent models
    are :class:`~.onnx_recurrent.RecurrentOnnxAgent`'s (:func:`open_onnx_agent` picks the class).
    """

    #: whether this agent carries a recurrent state (:class:`~.onnx_recurrent.RecurrentOnnxAgent`)
    recurrent = False

    def __init__(self, path: Path, action_space: Any, observation_space: Any = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover
            raise AgentError("loading a .onnx agent needs onnxruntime: pip install onnxruntime") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise AgentError(f"{path}: onnxruntime cannot load it: {exc}") from None
        from ..engines.godot.onnx_layout import METADATA_KEY, PluginLayout

        inputs = {i.name for i in self.session.get_inputs()}
        meta = self.session.get_modelmeta().custom_metadata_map
        #: the plugin layout the model was exported in (input names, action keys); None: a foreign
        #: model (godot-rl's export), read through its single ``obs`` input
        self.layout = PluginLayout.from_json(meta[METADATA_KEY]) if METADATA_KEY in meta else None
        if self.layout is None and "obs" not in inputs:
            raise AgentError(f"{path}: an ONNX agent needs an input named 'obs' (Godot RL Agents layout); "
                             f"it has {sorted(inputs)}. Export with `rlplaytest export-onnx`.")
        if "episode_start" in inputs and not self.recurrent:
            raise AgentError(f"{path}: a recurrent ONNX policy (inputs {sorted(inputs)}): run it with "
                             "RecurrentOnnxAgent (open_onnx_agent and rl_scenario(model=...) choose it)")
        self.has_state = "state_ins" in inputs
        self.continuous = meta.get("rlplaytest.continuous", "clamp")
        self.action_space = action_space
        self.observation_space = observation_space
        self.path = path

    def _flat_obs(self, observation: Any) -> np.ndarray:
        if isinstance(observation, dict):
            if len(observation) != 1:
                raise AgentError(f"{self.path}: ONNX agents take one observation vector; the game sends keys "
                                 f"{sorted(observation)}")
            observation = next(iter(observation.values()))
        arr = np.asarray(observation, dtype=np.float32)
        return arr.reshape(1, -1) if arr.ndim == 1 else arr.reshape(arr.shape[0], -1)

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Greedy actions for a batch (ONNX policies are deterministic)."""
        if self.layout is not None:
            feed = self.layout.feed(observation)
            output = self.layout.policy_output(np.asarray(self.session.run(["output"], feed)[0]))
            return self._actions(output, output.shape[0]), None
        obs = self._flat_obs(observation)
        feed = {"obs": obs}
        if self.has_state:
            feed["state_ins"] = np.zeros((obs.shape[0],), dtype=np.float32)
        output = np.asarray(self.session.run(["output"], feed)[0])
        return self._actions(output, obs.shape[0]), None

    def _actions(self, output: np.ndarray, batch: int) -> np.ndarray:
        from gymnasium import spaces

        space = self.action_space
        if isinstance(space, spaces.Discrete):
            return output.argmax(axis=1).astype(np.int64) + int(space.start)
        if isinstance(space, spaces.MultiDiscrete):
            parts, offset = [], 0
            for n in space.nvec.ravel():
                parts.append(output[:, offset:offset + int(n)].argmax(axis=1))
                offset += int(n)
            return np.stack(parts, axis=1).astype(np.int64)
        if isinstance(space, spaces.Box):
            low, high = space.low.reshape(1, -1), space.high.reshape(1, -1)
            if self.continuous == "unscale":
                acts = low + 0.5 * (np.clip(output, -1, 1) + 1.0) * (high - low)
            elif self.continuous == "clip":
                acts = np.clip(output, low, high)
            else:
                acts = np.clip(output, -1.0, 1.0)
            return acts.reshape((batch, *space.shape)).astype(np.float32)
        raise AgentError(f"{self.path}: ONNX agents support Discrete, MultiDiscrete and Box actions, not {space}")


def open_onnx_agent(path: Path, action_space: Any, observation_space: Any = None) -> OnnxAgent:
    """An :class:`OnnxAgent` for ``path``, or a :class:`~.onnx_recurrent.RecurrentOnnxAgent` when the
    model is in the recurrent layout (it has an ``episode_start`` input)."""
    import onnx

    try:
        names = {i.name for i in onnx.load(str(path), load_external_data=False).graph.input}
    except Exception as exc:
        raise AgentError(f"{path}: not an ONNX model: {exc}") from None
    if "episode_start" in names:
        from .onnx_recurrent import RecurrentOnnxAgent

        return RecurrentOnnxAgent(path, action_space, observation_space)
    return OnnxAgent(path, action_space, observation_space)


def describe_onnx(path: Path) -> str:
    """The layout of an exported model in words (its name, inputs and outputs with their shapes),
    read from the file, for ``rlplaytest export-onnx`` to print."""
    import onnxruntime as ort

    from ..engines.godot.onnx_layout import LAYOUT_KEY, RECURRENT_LAYOUT

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def shape(arg: Any) -> str:
        return "[" + ", ".join("B" if isinstance(d, str) else str(d) for d in arg.shape) + "]"

    inputs = ", ".join(f"{i.name} {shape(i)}" for i in session.get_inputs())
    outputs = ", ".join(f"{o.name} {shape(o)}" for o in session.get_outputs())
    if session.get_modelmeta().custom_metadata_map.get(LAYOUT_KEY) == RECURRENT_LAYOUT:
        return (f"recurrent layout: {inputs} -> {outputs}; feed state_outs back as the next state_ins and "
                "episode_start=1 on an episode's first step. The Godot plugin's in-game inference cannot run it "
                "(it feeds state_ins as a constant); RecurrentOnnxAgent and rl_scenario(model=...) can")
    return f"Godot plugin layout: {inputs} -> {outputs}"


def _unwrap_normalized(model: Any, normalization: Normalization | None) -> tuple[Any, Normalization | None]:
    """A :class:`~.normalize.NormalizedAgent` is its model plus its statistics."""
    from .normalize import NormalizedAgent

    if isinstance(model, NormalizedAgent):
        return model.model, normalization or model.normalization
    return model, normalization


def export_onnx(model: BaseAlgorithm, out: Path, opset: int = 17, *,
                normalization: Normalization | None = None) -> Path:
    """Export an SB3 policy in the official Godot RL Agents plugin's ONNX layout
    (:mod:`pytest_rlplaytest.engines.godot.onnx_layout` says what that is: inputs named after the
    observation keys plus ``state_ins``, ``output`` in the game's action-key order).

    The layout, the algorithm and how continuous outputs map onto the action space are stored in the
    model's metadata (``rlplaytest.algo``, ``rlplaytest.continuous``). Recurrent policies are refused
    (the plugin cannot carry their state; :func:`~.onnx_recurrent.export_recurrent_onnx` exports them).
    ``normalization`` (or the statistics of a :class:`~.normalize.NormalizedAgent` passed as
    ``model``) is folded into the graph: the exported agent takes raw observations (metadata
    ``rlplaytest.normalized = obs``).
    """
    from ..engines.godot.onnx_export import continuous_mode, export_plan, write_onnx
    from ..engines.godot.onnx_layout import OnnxLayoutError

    model, normalization = _unwrap_normalized(model, normalization)
    try:
        plan = export_plan(model, normalization=normalization)
    except OnnxLayoutError as exc:
        raise AgentError(f"export-onnx: {exc}") from None
    return write_onnx(plan, out, opset, {"rlplaytest.algo": type(model).__name__,
                                         "rlplaytest.continuous": continuous_mode(model.policy)})


def check_onnx_matches(model: BaseAlgorithm, onnx_path: Path, n: int = 256, seed: int = 0,
                       atol: float = 1e-4, *, normalization: Normalization | None = None) -> float:
    """Fraction of ``n`` sampled observations on which the ONNX agent and SB3 choose the same
    greedy action (continuous: equal within ``atol``). With ``normalization`` (or a
    :class:`~.normalize.NormalizedAgent`), SB3 sees the normalised observations and ONNX the raw ones."""
    model, normalization = _unwrap_normalized(model, normalization)
    obs_space = model.observation_space
    obs_space.seed(seed)
    batch = sample_batch(obs_space, n)
    expected, _ = model.predict(normalization.apply(batch) if normalization is not None else batch,
                                deterministic=True)
    got, _ = OnnxAgent(Path(onnx_path), model.action_space, obs_space).predict(batch)
    return float(same_actions(model.action_space, expected, got, atol).mean())


def sample_batch(obs_space: Any, n: int) -> Any:
    """``n`` observations sampled from ``obs_space`` (seed it first), batched as a ``VecEnv`` returns them."""
    from gymnasium import spaces

    samples = [obs_space.sample() for _ in range(n)]
    if isinstance(obs_space, spaces.Dict):
        return {k: np.stack([s[k] for s in samples]) for k in obs_space.spaces}
    return np.stack(samples)


def same_actions(action_space: Any, expected: Any, got: Any, atol: float) -> np.ndarray:
    """Per row of a batch: whether two runtimes chose the same action (continuous: within ``atol``)."""
    from gymnasium import spaces

    rows = np.asarray(expected).shape[0]
    want, have = np.asarray(expected).reshape(rows, -1), np.asarray(got).reshape(rows, -1)
    if isinstance(action_space, spaces.Box):
        return np.all(np.abs(want.astype(float) - have.astype(float)) <= atol, axis=1)  # type: ignore[no-any-return]
    return np.all(want == have, axis=1)  # type: ignore[no-any-return]
