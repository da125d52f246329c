"""Agents behind one ``predict()``: trained with Stable-Baselines3 or loaded from ``.zip`` / ``.onnx``.

Every agent answers SB3's ``predict(observation, state, episode_start, deterministic)`` and returns
``(actions, state)`` for a batch of observations (one row per env of a ``VecEnv``). SB3 models do so
already; :class:`~.onnx.OnnxAgent` does the same with onnxruntime for models in the official Godot
RL Agents ONNX layout (inputs ``obs``, ``state_ins``; outputs ``output``, ``state_outs``).

One concern per module:

* :mod:`.base`: the :class:`Agent` protocol, :class:`AgentError`, the algorithm import, seeding.
* :mod:`.training`: :func:`train_agent`, budget sizing, the training log, training artifacts.
* :mod:`.loading`: :func:`load_agent`, :func:`algo_of_zip`.
* :mod:`.onnx`: :class:`OnnxAgent`, :func:`export_onnx`, :func:`check_onnx_matches`
  (the exported torch module is :class:`pytest_rlplaytest.engines.godot.onnx_export.PluginPolicy`).
* :mod:`.onnx_recurrent`: ``RecurrentPPO`` on ONNX with its LSTM state carried by the caller:
  :class:`RecurrentOnnxAgent`, :func:`export_recurrent_onnx`, :func:`check_recurrent_onnx_matches`.
* :mod:`.nightly`: what a training run does around ``learn()`` (:class:`~.nightly.TrainingPlan`):
  checkpoints and resume (:mod:`.checkpoints`), engine restarts, the training scalars
  (:mod:`.scalars`), ``training.json``.
* :mod:`.normalize`: ``VecNormalize`` statistics saved with the model, :class:`NormalizedAgent`.
* :mod:`.hyperparams`: rl-zoo3 style hyperparameter files.
* :mod:`.cache`: the agent cache (``--rl-agent-cache``, ``model="cache:"``).
* :mod:`.multiagent`: :class:`~.multiagent.PolicyView`, one learner's agents of a full ``VecEnv``.
* :mod:`.multipolicy`: one policy per ``policy_name`` of a scene: rounds of training, loading.

Names are imported from their module on first use, so importing this package imports neither torch
nor SB3; training imports SB3, exporting imports torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Agent, AgentError, import_algo, seed_everything
    from .loading import algo_of_zip, load_agent
    from .normalize import NormalizedAgent
    from .onnx import OnnxAgent, check_onnx_matches, export_onnx
    from .onnx_recurrent import RecurrentOnnxAgent, check_recurrent_onnx_matches, export_recurrent_onnx
    from .training import TrainingLog, TrainingReport, budget_kwargs, default_policy, train_agent

_LAZY = {
    "Agent": "base", "AgentError": "base", "import_algo": "base", "seed_everything": "base",
    "algo_of_zip": "loading", "load_agent": "loading", "NormalizedAgent": "normalize",
    "OnnxAgent": "onnx", "check_onnx_matches": "onnx", "export_onnx": "onnx",
    "RecurrentOnnxAgent": "onnx_recurrent", "check_recurrent_onnx_matches": "onnx_recurrent",
    "export_recurrent_onnx": "onnx_recurrent",
    "TrainingLog": "training", "TrainingReport": "training", "budget_kwargs": "training",
    "default_policy": "training", "train_agent": "training",
}


def __getattr__(name: str) -> Any:
    public = name
    module = _LAZY.get(public)
    if module is None:
        raise AttributeError(f"module 'pytest_rlplaytest.agents' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), public)


__all__ = [
    "Agent", "AgentError", "NormalizedAgent", "OnnxAgent", "RecurrentOnnxAgent", "TrainingLog", "TrainingReport",
    "algo_of_zip", "budget_kwargs", "check_onnx_matches", "check_recurrent_onnx_matches", "default_policy",
    "export_onnx", "export_recurrent_onnx", "import_algo", "load_agent", "seed_everything", "train_agent",
]
