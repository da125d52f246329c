"""Observation and reward normalisation (``rl_scenario(normalize=...)``) with SB3's ``VecNormalize``.

Training runs on ``VecNormalize(venv, ...)``. Its statistics (running mean and variance of the
observations and of the discounted returns) then travel *with the model*: :func:`save_with_model`
writes them into ``model.zip`` as the entry :data:`ZIP_ENTRY` (JSON; SB3's loader reads only its own
entries and ignores it), :func:`read_from_zip` reads them back, and a model that has them acts
through a :class:`NormalizedAgent`, which normalises each observation exactly as ``VecNormalize``
does (``clip((obs - mean) / sqrt(var + epsilon), -clip_obs, clip_obs)``) before the policy sees it.
The ONNX export folds the same affine map and clip into the graph (:func:`~.onnx.export_onnx`), so
an exported agent takes raw observations too. Reward normalisation only shapes training; acting
needs only the observation statistics.

Statistics are stored as JSON lists of float64 values, which round-trip exactly, so a resumed
training continues with the very statistics it was checkpointed with.

Nothing here imports torch or SB3 at module level.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import AgentError

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv, VecNormalize

__all__ = [
    "ZIP_ENTRY",
    "Normalization",
    "NormalizedAgent",
    "add_to_zip",
    "normalize_kwargs",
    "read_from_zip",
    "wrap_for_training",
]

#: the ``model.zip`` entry holding the statistics
ZIP_ENTRY = "rlplaytest_normalization.json"
FORMAT = 1

#: ``VecNormalize`` arguments a marker (or an rl-zoo3 file) may give, with their types
KWARG_TYPES: Mapping[str, tuple[type, ...]] = MappingProxyType({
    "norm_obs": (bool,), "norm_reward": (bool,), "clip_obs": (int, float), "clip_reward": (int, float),
    "gamma": (int, float), "epsilon": (int, float), "norm_obs_keys": (list, tuple),
})


def normalize_kwargs(value: Any) -> Mapping[str, Any] | None:
    """The ``normalize=`` marker value as ``VecNormalize`` keyword arguments: True -> ``{}`` (SB3's
    defaults: observations and rewards), False -> None (off), a dict -> checked.

    Raises:
        ValueError: completing "normalize ..." (the marker's error message).
    """
    if value is True:
        return MappingProxyType({})
    if value is False or value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError("must be True, False or a dict of VecNormalize arguments (norm_obs=, norm_reward=, ...)")
    for key, item in value.items():
        types = KWARG_TYPES.get(key)
        if types is None:
            raise ValueError(f"got the unknown VecNormalize argument {key!r} (known: {', '.join(KWARG_TYPES)})")
        if not isinstance(item, types) or (isinstance(item, bool) and bool not in types):
            raise ValueError(f"argument {key}={item!r} has the wrong type")
    kwargs = dict(value)
    if "norm_obs_keys" in kwargs:
        kwargs["norm_obs_keys"] = [str(k) for k in kwargs["norm_obs_keys"]]
    return MappingProxyType(kwargs)


def wrap_for_training(venv: VecEnv, kwargs: Mapping[str, Any], gamma: float) -> VecNormalize:
    """``VecNormalize(venv, **kwargs)`` for training; the return discount defaults to the algorithm's
    ``gamma`` (as rl-zoo3 does), not ``VecNormalize``'s 0.99."""
    from stable_baselines3.common.vec_env import VecNormalize

    try:
        return VecNormalize(venv, training=True, **{"gamma": gamma, **kwargs})
    except ValueError as exc:  # e.g. a Discrete observation space
        raise AgentError(f"rl_scenario(normalize=...): VecNormalize refuses this game: {exc}") from None


def _rms_json(rms: Any) -> dict[str, Any]:
    return {"mean": np.asarray(rms.mean, dtype=np.float64).tolist(),
            "var": np.asarray(rms.var, dtype=np.float64).tolist(), "count": float(rms.count)}


def _set_rms(rms: Any, data: Mapping[str, Any]) -> None:
    rms.mean = np.asarray(data["mean"], dtype=np.float64).reshape(np.shape(rms.mean))
    rms.var = np.asarray(data["var"], dtype=np.float64).reshape(np.shape(rms.var))
    rms.count = float(data["count"])


@dataclass(frozen=True)
class Normalization:
    """A snapshot of ``VecNormalize``'s statistics and settings (JSON-able).

    Attributes:
        norm_obs, norm_reward, clip_obs, clip_reward, gamma, epsilon: ``VecNormalize``'s settings.
        obs: ``{"mean", "var", "count"}`` for a ``Box`` observation, or for a ``Dict`` one
            ``{"keys": {key: {"mean", "var", "count"}}}`` (only the normalised keys); None when
            observations are not normalised.
        ret: the discounted-return statistics.
    """

    norm_obs: bool
    norm_reward: bool
    clip_obs: float
    clip_reward: float
    gamma: float
    epsilon: float
    obs: Mapping[str, Any] | None
    ret: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, venv: VecNormalize) -> Normalization:
        """The current statistics of ``venv``."""
        obs: dict[str, Any] | None = None
        if venv.norm_obs:
            rms: Any = venv.obs_rms
            obs = {"keys": {k: _rms_json(v) for k, v in rms.items()}} if isinstance(rms, dict) else _rms_json(rms)
        return cls(norm_obs=bool(venv.norm_obs), norm_reward=bool(venv.norm_reward), clip_obs=float(venv.clip_obs),
                   clip_reward=float(venv.clip_reward), gamma=float(venv.gamma), epsilon=float(venv.epsilon),
                   obs=obs, ret=_rms_json(venv.ret_rms))

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored in ``model.zip`` and in checkpoints."""
        return {"format": FORMAT, "norm_obs": self.norm_obs, "norm_reward": self.norm_reward,
                "clip_obs": self.clip_obs, "clip_reward": self.clip_reward, "gamma": self.gamma,
                "epsilon": self.epsilon, "obs": self.obs, "ret": dict(self.ret)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> Normalization:
        """Read :meth:`to_json`'s object back (``where`` names the file in errors)."""
        if data.get("format") != FORMAT:
            raise AgentError(f"{where}: normalisation statistics in format {data.get('format')!r}; this "
                             f"pytest-rlplaytest reads format {FORMAT}. Retrain the agent.")
        try:
            return cls(norm_obs=bool(data["norm_obs"]), norm_reward=bool(data["norm_reward"]),
                       clip_obs=float(data["clip_obs"]), clip_reward=float(data["clip_reward"]),
                       gamma=float(data["gamma"]), epsilon=float(data["epsilon"]), obs=data["obs"],
                       ret=data.get("ret") or {})
        except (KeyError, TypeError, ValueError) as exc:
            raise AgentError(f"{where}: malformed normalisation statistics ({exc!r}); retrain the agent") from None

    def restore_into(self, venv: VecNormalize) -> None:
        """Give ``venv`` these statistics (resuming a training)."""
        if self.obs is not None and venv.norm_obs:
            rms: Any = venv.obs_rms
            if isinstance(rms, dict):
                for key, value in self.obs["keys"].items():
                    _set_rms(rms[key], value)
            else:
                _set_rms(rms, self.obs)
        if self.ret:
            _set_rms(venv.ret_rms, self.ret)

    def _apply(self, obs: np.ndarray, stats: Mapping[str, Any]) -> np.ndarray:
        mean = np.asarray(stats["mean"], dtype=np.float64)
        var = np.asarray(stats["var"], dtype=np.float64)
        out = np.clip((np.asarray(obs) - mean) / np.sqrt(var + self.epsilon), -self.clip_obs, self.clip_obs)
        return out.astype(np.float32)

    def apply(self, observation: Any) -> Any:
        """A batch of observations normalised as ``VecNormalize.normalize_obs`` would (a dict
        observation: its normalised keys), without updating the statistics."""
        if self.obs is None:
            return observation
        if isinstance(observation, Mapping):
            keys = self.obs.get("keys", {})
            return {k: self._apply(v, keys[k]) if k in keys else v for k, v in observation.items()}
        return self._apply(observation, self.obs)

    def flat_obs(self, dict_key: str | None, size: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(mean, std)`` of the flattened observation (``dict_key``: the single key of a ``Dict``
        observation), each of ``size`` float32 values, for folding into an ONNX graph; None when
        observations are not normalised.

        Raises:
            AgentError: the statistics do not describe that observation.
        """
        if self.obs is None:
            return None
        stats: Mapping[str, Any] | None = self.obs
        if dict_key is not None:
            stats = self.obs.get("keys", {}).get(dict_key)
            if stats is None:
                return None  # that key is not normalised
        elif "keys" in self.obs:
            raise AgentError("export-onnx: the normalisation statistics are per key of a Dict observation, but the "
                             "policy observes one vector; the statistics do not belong to this model")
        assert stats is not None
        mean = np.asarray(stats["mean"], dtype=np.float64).ravel()
        std = np.sqrt(np.asarray(stats["var"], dtype=np.float64).ravel() + self.epsilon)
        if mean.size != size:
            raise AgentError(f"export-onnx: the normalisation statistics have {mean.size} values but the observation "
                             f"has {size}; they do not belong to this model")
        return mean.astype(np.float32), std.astype(np.float32)


def add_to_zip(model_zip: bytes, normalization: Normalization) -> bytes:
    """``model_zip`` (a saved SB3 model) with the statistics added as :data:`ZIP_ENTRY`."""
    buffer = io.BytesIO(model_zip)
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(ZIP_ENTRY, json.dumps(normalization.to_json(), sort_keys=True))
    return buffer.getvalue()


def read_from_zip(path: Any) -> Normalization | None:
    """The statistics saved in an SB3 ``.zip`` by :func:`add_to_zip`, or None (none saved, or not a zip)."""
    try:
        with zipfile.ZipFile(path) as archive:
            if ZIP_ENTRY not in archive.namelist():
                return None
            data = json.loads(archive.read(ZIP_ENTRY))
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    return Normalization.from_json(data, str(path))


class NormalizedAgent:
    """An SB3 model that acts on raw observations: each batch is normalised with the frozen
    statistics it was trained with, then passed to ``model.predict``. Other attributes are the
    model's (``agent.policy``, ``agent.save``...).

    Attributes:
        model: the SB3 model.
        normalization: the statistics.
    """

    def __init__(self, model: Any, normalization: Normalization) -> None:
        self.model = model
        self.normalization = normalization

    def predict(self, observation: Any, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        """The model's actions for the normalised observations."""
        actions, state = self.model.predict(self.normalization.apply(observation), state=state,
                                            episode_start=episode_start, deterministic=deterministic)
        return np.asarray(actions), state

    def __getattr__(self, name: str) -> Any:
        if name in ("model", "normalization"):  # not set yet (unpickling)
            raise AttributeError(name)
        return getattr(self.model, name)

    def __repr__(self) -> str:
        return f"NormalizedAgent({type(self.model).__name__}, norm_obs={self.normalization.norm_obs})"
