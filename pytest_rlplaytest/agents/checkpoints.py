"""Training checkpoints: what one holds, when one is due, writing and reading them.

A long_training scenario checkpoints into ``<artifacts>/checkpoints/``::

    checkpoints/
      latest.json                  which checkpoint to resume from (written last, atomically)
      ckpt-000000004096/
        model.zip                  the SB3 model (optimizer state included; normalisation statistics inside)
        replay_buffer.pkl          off-policy algorithms (DQN, SAC, TD3): the replay buffer
        episodes.csv               the training episodes so far (the learning curve continues)
        state.json                 timesteps, training seconds, the seed stream, the scenario's fingerprint

A checkpoint is taken between two rollouts (``on_rollout_start``, after the policy update), so
resuming repeats nothing and loses only the episodes in flight. Each one is written into a
temporary folder and renamed into place; ``latest.json`` is replaced only then, so a run killed
at any moment leaves the previous checkpoint usable. The two newest checkpoints are kept.

The *seed stream* saved is the state of every random generator training draws from: Python's
``random``, NumPy's global generator and torch's CPU generator (SB3 samples actions and shuffles
minibatches from them). A resumed run restores them, and reseeds the game with
``derive_seed(seed, "resume", timesteps)`` (the game's own state cannot be saved through the
engine interface), so two runs resumed from one checkpoint train identically.
"""

from __future__ import annotations

import base64
import random
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from ..common.files import atomic_write_json, atomic_write_text
from ..common.versioned import load_versioned
from ..scenario import ScenarioSpec, jsonable
from ..settings import CHECKPOINT_AUTO
from .base import AgentError

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

__all__ = ["AUTO_COST_FACTOR", "AUTO_MIN_SECONDS", "Checkpoint", "CheckpointSchedule", "Checkpointer",
           "fingerprint", "fingerprint_changes", "load_latest", "restore_rng", "rng_state", "save_checkpoint"]

SCHEMA_VERSION = 1
FOLDER = "checkpoints"
LATEST = "latest.json"
KEEP = 2
#: auto: the next checkpoint waits this many times the last one's cost, so checkpoints take at most
#: 1/50 = 2% of training time ...
AUTO_COST_FACTOR = 50.0
#: ... and at least this many seconds
AUTO_MIN_SECONDS = 60.0
FIX = "delete the checkpoints folder to start afresh, or run without --rl-resume"


# -- the seed stream --------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """The state of Python's ``random``, NumPy's global generator and torch's CPU generator, as JSON."""
    import torch

    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]
    return {"python": [version, list(internal), gauss],
            "numpy": [name, np.asarray(keys).tolist(), int(pos), int(has_gauss), float(cached)],
            "torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii")}


def restore_rng(state: Mapping[str, Any]) -> None:
    """Put every generator back in the state :func:`rng_state` recorded."""
    import torch

    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    raw = np.frombuffer(base64.b64decode(state["torch"]), dtype=np.uint8).copy()
    torch.set_rng_state(torch.from_numpy(raw))


# -- what a checkpoint belongs to ---------------------------------------------------------------
def fingerprint(spec: ScenarioSpec, n_envs: int) -> dict[str, Any]:
    """What must not change between a checkpoint and the run that resumes it."""
    return jsonable({
        "env": spec.env_label, "engine": spec.engine_scheme, "engine_options": dict(spec.engine_options),
        "algo": spec.algo, "seed": spec.seed, "timesteps": spec.timesteps, "n_envs": n_envs,
        "algo_kwargs": dict(spec.algo_kwargs), "policy": spec.policy, "policy_kwargs": dict(spec.policy_kwargs),
        "normalize": dict(spec.normalize) if spec.normalize is not None else None,
        "env_kwargs": dict(spec.env_kwargs), "max_episode_steps": spec.max_episode_steps,
    })  # type: ignore[no-any-return]


def fingerprint_changes(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """``"key: checkpoint X, now Y"`` for every entry that differs."""
    return [f"{key}: checkpoint {recorded.get(key)!r}, now {current.get(key)!r}"
            for key in sorted(set(recorded) | set(current)) if recorded.get(key) != current.get(key)]


# -- when -----------------------------------------------------------------------------------
class CheckpointSchedule:
    """When the next checkpoint is due.

    ``every > 0``: at the first rollout boundary at or after each multiple of ``every`` timesteps.
    ``every == CHECKPOINT_AUTO``: once ``max(AUTO_MIN_SECONDS, AUTO_COST_FACTOR * last cost)``
    seconds of training have passed since the last checkpoint ended (or training began), so the
    checkpoints' share of training time stays at most ``1 / AUTO_COST_FACTOR`` = 2%.
    """

    def __init__(self, every: int, start_timestep: int, now: float) -> None:
        if every == 0 or every < CHECKPOINT_AUTO:
            raise ValueError(f"checkpoint interval {every}: give a positive number or CHECKPOINT_AUTO")
        self.every = every
        self.next_at = (start_timestep // every + 1) * every if every > 0 else 0
        self.last_end = now
        self.last_cost = 0.0

    def wait_seconds(self) -> float:
        """Auto: the training seconds the next checkpoint waits for."""
        return max(AUTO_MIN_SECONDS, AUTO_COST_FACTOR * self.last_cost)

    def due(self, timesteps: int, now: float) -> bool:
        """Whether to checkpoint at this rollout boundary."""
        if self.every > 0:
            return timesteps >= self.next_at
        return now - self.last_end >= self.wait_seconds()

    def saved(self, timesteps: int, cost: float, now: float) -> None:
        """Record a checkpoint taken at ``timesteps`` that took ``cost`` seconds, ending at ``now``."""
        self.last_cost, self.last_end = cost, now
        if self.every > 0:
            self.next_at = (timesteps // self.every + 1) * self.every


# -- writing and reading ------------------------------------------------------------------------
@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint on disk.

    Attributes:
        folder: its folder (``checkpoints/ckpt-<timesteps>``).
        timesteps: the training timesteps done when it was taken.
        complete: taken at the end of training (nothing is left to train).
        state: the ``state.json`` object.
    """

    folder: Path
    timesteps: int
    complete: bool
    state: Mapping[str, Any]

    @property
    def model_zip(self) -> Path:
        """The checkpoint's SB3 model file."""
        return self.folder / "model.zip"

    @property
    def replay_buffer(self) -> Path | None:
        """The off-policy replay buffer saved with the checkpoint, or None."""
        path = self.folder / "replay_buffer.pkl"
        return path if path.is_file() else None

    @property
    def seconds(self) -> float:
        """Training seconds spent up to this checkpoint (every earlier run included)."""
        return float(self.state.get("seconds", 0.0))

    def episodes(self) -> list[tuple[int, float, int]]:
        """The training episodes recorded up to this checkpoint."""
        path = self.folder / "episodes.csv"
        if not path.is_file():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            t, r, n = line.split(",")
            rows.append((int(t), float(r), int(n)))
        return rows


def save_checkpoint(root: Path, model: BaseAlgorithm, *, timesteps: int, complete: bool, state: Mapping[str, Any],
                    episodes: list[tuple[int, float, int]], save_model: Callable[[BaseAlgorithm, Path], Path],
                    replay_buffer: bool) -> Checkpoint:
    """Write a checkpoint under ``root`` (the ``checkpoints`` folder), point ``latest.json`` at it
    and drop all but the :data:`KEEP` newest. ``save_model`` writes ``model.zip`` (with the
    normalisation statistics); ``replay_buffer`` saves the off-policy replay buffer too."""
    name = f"ckpt-{timesteps:012d}"
    final = root / name
    tmp = root / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(model, tmp / "model.zip")
    if replay_buffer and getattr(model, "replay_buffer", None) is not None:
        model.save_replay_buffer(tmp / "replay_buffer.pkl")  # type: ignore[attr-defined]
    atomic_write_text(tmp / "episodes.csv", "timestep,return,length\n" + "".join(
        f"{t},{r!r},{n}\n" for t, r, n in episodes))
    full_state = {"schema_version": SCHEMA_VERSION, **state, "timesteps": timesteps, "complete": complete,
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    atomic_write_json(tmp / "state.json", full_state)
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    atomic_write_json(root / LATEST, {"schema_version": SCHEMA_VERSION, "checkpoint": name, "timesteps": timesteps,
                                      "complete": complete})
    for old in sorted(p for p in root.glob("ckpt-*") if p.is_dir())[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return Checkpoint(final, timesteps, complete, full_state)


def load_latest(root: Path) -> Checkpoint | None:
    """The checkpoint ``latest.json`` names, or None when there is none.

    Raises:
        AgentError: ``latest.json`` or the checkpoint it names is unreadable.
    """
    latest = root / LATEST
    if not latest.is_file():
        return None
    pointer = load_versioned(latest, kind="checkpoint pointer", current=SCHEMA_VERSION, error=AgentError, fix=FIX)
    folder = root / str(pointer.get("checkpoint"))
    state = load_versioned(folder / "state.json", kind="checkpoint", current=SCHEMA_VERSION, error=AgentError,
                           fix=FIX)
    if not (folder / "model.zip").is_file():
        raise AgentError(f"checkpoint {folder} has no model.zip; {FIX}")
    return Checkpoint(folder, int(state["timesteps"]), bool(state.get("complete")), state)


class Checkpointer(BaseCallback):  # type: ignore[misc]
    """Takes a checkpoint between rollouts when its :class:`CheckpointSchedule` says so.

    Args:
        schedule: when.
        take: ``take(model, complete=False)`` writes one and returns it.
        start_timestep: the run's first timestep (no checkpoint of a state already saved).
    """

    def __init__(self, schedule: CheckpointSchedule, take: Callable[..., Checkpoint], start_timestep: int) -> None:
        super().__init__()
        self.schedule, self.take, self.start_timestep = schedule, take, start_timestep
        self.taken: list[Checkpoint] = []
        self.seconds = 0.0

    def _on_rollout_start(self) -> None:
        timesteps = int(self.num_timesteps)
        if timesteps <= self.start_timestep or not self.schedule.due(timesteps, time.monotonic()):
            return
        begin = time.monotonic()
        self.taken.append(self.take(self.model, complete=False))
        end = time.monotonic()
        self.seconds += end - begin
        self.schedule.saved(timesteps, end - begin, end)

    def _on_step(self) -> bool:
        return True
