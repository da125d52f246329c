"""Which runtime plays the evaluation episodes (``--rl-eval-backend torch|onnx|auto``).

SB3's ``predict`` costs several times what onnxruntime needs for the same small policy, so with
``auto`` (the default) an exportable SB3 policy is exported once to ONNX with the one ONNX writer
(:func:`~.onnx.export_onnx`), checked as ``rlplaytest export-onnx`` checks it (greedy actions equal on
sampled observations, :func:`~.onnx.check_onnx_matches`) and evaluated by an :class:`~.onnx.OnnxAgent`.
A ``RecurrentPPO`` policy is exported in the recurrent layout (:mod:`.onnx_recurrent`), checked over
sequences with each runtime carrying its LSTM state, and evaluated by a
:class:`~.onnx_recurrent.RecurrentOnnxAgent`. Where none of that is possible (stochastic evaluation,
an export or agreement that fails) evaluation stays on torch and the reason is logged and recorded
(``rl_eval_backend`` and ``rl_eval_backend_reason`` JUnit properties, ``eval_backend`` in ``summary.json``). ``onnx`` makes
that fallback an error; ``torch`` never exports.

Exports are cached by a hash of the policy's parameters, the algorithm, the spaces and the
normalisation statistics in ``<artifacts>/_onnx/<hash>.onnx``, so one agent is exported once however
many tests and playtest calls evaluate it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Agent, AgentError
from .onnx_recurrent import CHECK_SEQUENCES

__all__ = ["BACKENDS", "EvalBackend", "choose_eval_backend", "policy_hash"]

log = logging.getLogger("pytest_rlplaytest")

#: the values of ``--rl-eval-backend``
BACKENDS = ("auto", "onnx", "torch")
#: sampled observations on which ONNX and torch must choose the same greedy actions
CHECK_SAMPLES = 256


@dataclass(frozen=True)
class EvalBackend:
    """The agent that plays evaluation episodes, which runtime it is, and why."""

    agent: Agent
    #: ``onnx`` or ``torch``
    name: str
    reason: str

    def describe(self) -> dict[str, str]:
        """``{"backend": ..., "reason": ...}`` for ``summary.json``."""
        return {"backend": self.name, "reason": self.reason}


def policy_hash(model: Any, normalization: Any = None) -> str:
    """A hex digest of what the exported graph depends on: the algorithm, the spaces, every policy
    parameter and buffer (bytes, in ``state_dict`` order) and the normalisation statistics."""
    digest = hashlib.sha256()
    digest.update(type(model).__name__.encode())
    digest.update(repr(model.observation_space).encode())
    digest.update(repr(model.action_space).encode())
    for name, tensor in model.policy.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    if normalization is not None:
        digest.update(repr(normalization).encode())
    return digest.hexdigest()[:32]


def _sb3_model(agent: Any) -> tuple[Any, Any] | None:
    """``(model, normalization)`` of an SB3 model or a :class:`~.normalize.NormalizedAgent`; None otherwise."""
    from .normalize import NormalizedAgent

    if isinstance(agent, NormalizedAgent):
        return agent.model, agent.normalization
    if hasattr(agent, "policy") and hasattr(agent, "observation_space") and hasattr(agent, "action_space"):
        return agent, None
    return None


def _export_checked(model: Any, normalization: Any, cache: Path) -> tuple[Path | None, str]:
    """Export ``model`` into ``cache`` (reusing an earlier export) and check it; ``(path, "")`` when
    ONNX agrees with torch, ``(None, reason)`` when it cannot be used."""
    from ..common.files import folder_lock
    from .onnx import check_onnx_matches, export_onnx
    from .onnx_recurrent import check_recurrent_onnx_matches, export_recurrent_onnx

    recurrent = type(model).__name__ == "RecurrentPPO"  # the recurrent layout, checked over sequences
    export, check = ((export_recurrent_onnx, check_recurrent_onnx_matches) if recurrent
                     else (export_onnx, check_onnx_matches))
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{policy_hash(model, normalization)}.onnx"
    try:
        with folder_lock(cache):  # xdist workers evaluating one cached agent export it once
            if not path.exists():
                export(model, path, normalization=normalization)
        agreement = check(model, path, n=CHECK_SAMPLES, seed=0, normalization=normalization)
    except AgentError as exc:
        return None, str(exc)
    except Exception as exc:  # torch.onnx.export raises many kinds; evaluation falls back on any
        return None, f"ONNX export failed: {type(exc).__name__}: {exc}"
    if agreement < 1.0:
        what = "greedy actions and LSTM states" if recurrent else "greedy actions"
        return None, (f"ONNX and torch {what} agree on only {agreement:.1%} of {CHECK_SAMPLES} "
                      f"sampled observations{_SEQUENCES if recurrent else ''}")
    return path, ""


#: how the recurrent agreement check plays its observations (for the reasons recorded)
_SEQUENCES = f" ({CHECK_SEQUENCES} sequences, each runtime carrying its LSTM state)"


def choose_eval_backend(agent: Agent, requested: str, cache: Path, *, deterministic: bool) -> EvalBackend:
    """The runtime for evaluating ``agent`` under ``--rl-eval-backend=requested``.

    Raises:
        AgentError: ``requested == "onnx"`` and the agent cannot be evaluated on ONNX (the reason).
    """
    from .onnx import OnnxAgent, open_onnx_agent

    if isinstance(agent, OnnxAgent):
        return EvalBackend(agent, "onnx", "the agent is an ONNX model")
    if requested == "torch":
        return EvalBackend(agent, "torch", "--rl-eval-backend=torch")
    found = _sb3_model(agent)
    path: Path | None = None
    if found is None:
        reason = f"{type(agent).__name__} is not a Stable-Baselines3 model"
    elif not deterministic:
        reason = "stochastic evaluation (deterministic=False): ONNX agents act greedily"
    else:
        path, reason = _export_checked(*found, cache)
    if path is None or found is None:
        if requested == "onnx":
            raise AgentError(f"--rl-eval-backend=onnx: cannot evaluate on ONNX: {reason}; "
                             "use --rl-eval-backend=auto (falls back to torch) or torch")
        log.warning("rlplaytest: evaluating on torch: %s", reason)
        return EvalBackend(agent, "torch", reason)
    model = found[0]
    onnx_agent = open_onnx_agent(path, model.action_space, model.observation_space)
    how = _SEQUENCES if onnx_agent.recurrent else ""
    return EvalBackend(onnx_agent, "onnx", f"exported and checked on {CHECK_SAMPLES} observations{how} ({path.name})")
