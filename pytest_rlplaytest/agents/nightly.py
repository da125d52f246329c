"""What one training run does around ``model.learn``: normalisation, checkpoints and resume, engine
restarts, the training scalars, and the record it leaves (``training.json``).

:func:`~.training.train_agent` drives a :class:`TrainingRun`; the plugin passes a
:class:`TrainingPlan` built from the settings (:meth:`TrainingPlan.for_scenario`):

* checkpoints (``--rl-checkpoint-every``, long_training scenarios; see :mod:`.checkpoints`);
* resume (``--rl-resume``): the model, replay buffer, normalisation statistics and seed stream
  come from the last checkpoint and ``learn()`` is asked only for the timesteps still to do, so
  the run ends at the same timestep count as an uninterrupted one;
* engine restarts (``--rl-engine-restarts``; :mod:`~pytest_rlplaytest.engines.restarts`), allowed
  only while ``learn()`` runs.

``training.json`` in the test's artifacts says what happened: timesteps, seconds, the TensorBoard
run folder (relative to the artifacts folder), whether and from where the run resumed, the
checkpoints taken and their cost, and every engine restart with the game's log tail.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..common.files import atomic_write_json
from ..errors import RLPlaytestWarning
from ..scenario import ScenarioError, ScenarioSpec, derive_seed
from ..settings import Settings
from .checkpoints import (
    FOLDER,
    Checkpoint,
    Checkpointer,
    CheckpointSchedule,
    fingerprint,
    fingerprint_changes,
    load_latest,
    restore_rng,
    rng_state,
    save_checkpoint,
)
from .normalize import Normalization, NormalizedAgent, wrap_for_training
from .scalars import TrainingScalars, frame_window

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.vec_env import VecEnv

    from ..engines.restarts import RestartingVecEnv

__all__ = ["TRAINING_JSON", "DiscardedCheckpointWarning", "TrainingPlan", "TrainingRun"]

TRAINING_JSON = "training.json"


class DiscardedCheckpointWarning(RLPlaytestWarning):
    """A fresh training found the checkpoints of an interrupted one (kept in ``checkpoints.previous``)."""


@dataclass(frozen=True)
class TrainingPlan:
    """What a training run does beyond the scenario's marker.

    Attributes:
        checkpoint_every: 0 (no checkpoints), a number of timesteps, or ``CHECKPOINT_AUTO``.
        resume: continue from the last checkpoint when there is one.
        restarts: the scenario's env when it restarts a failing game (a ``RestartingVecEnv``).
    """

    checkpoint_every: int = 0
    resume: bool = False
    restarts: RestartingVecEnv | None = None

    @classmethod
    def for_scenario(cls, spec: ScenarioSpec, settings: Settings, venv: VecEnv) -> TrainingPlan:
        """The plan of a scenario test: checkpoints and resume for long_training scenarios, restarts
        when the env was wrapped for them (``--rl-engine-restarts``)."""
        from ..engines.restarts import RestartingVecEnv

        long = spec.long_training
        return cls(checkpoint_every=settings.checkpoint_every if long else 0, resume=settings.resume and long,
                   restarts=venv if isinstance(venv, RestartingVecEnv) else None)


@dataclass
class TrainingRun:
    """One call of ``train_agent``: its env, its checkpoints and what it reports.

    Args:
        spec: the scenario.
        venv: the game's env (the training env wraps it in ``VecNormalize`` when asked).
        artifacts_dir: the test's artifact folder (None: no files, no checkpoints).
        plan: checkpoints, resume, restarts.
        total: the timesteps ``learn()`` must reach.
        gamma: the algorithm's discount (``VecNormalize``'s return discount).
    """

    spec: ScenarioSpec
    venv: VecEnv
    artifacts_dir: Path | None
    plan: TrainingPlan
    total: int
    gamma: float = 0.99
    train_env: Any = None
    resumed: Checkpoint | None = None
    checkpointer: Checkpointer | None = None
    final_checkpoint: Checkpoint | None = None
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.train_env = self.venv
        if self.spec.normalize is not None:
            self.train_env = wrap_for_training(self.venv, self.spec.normalize, self.gamma)

    # -- checkpoints --------------------------------------------------------------------
    @property
    def checkpoint_root(self) -> Path | None:
        """``<artifacts>/checkpoints`` when this run checkpoints (or resumes), else None."""
        if self.artifacts_dir is None or not (self.plan.checkpoint_every or self.plan.resume):
            return None
        return self.artifacts_dir / FOLDER

    def resume_model(self) -> BaseAlgorithm | None:
        """The model of the last checkpoint, with its replay buffer, normalisation statistics and seed
        stream restored (``--rl-resume``), or None to train from scratch. A fresh run moves the
        checkpoints of an earlier one aside (``checkpoints.previous``).

        Raises:
            ScenarioError: the checkpoint belongs to another scenario configuration.
        """
        root = self.checkpoint_root
        if root is None:
            return None
        latest = load_latest(root) if self.plan.resume else None
        if latest is None:
            self._set_aside(root)
            return None
        changes = fingerprint_changes(latest.state.get("fingerprint", {}), fingerprint(self.spec, self.venv.num_envs))
        if changes:
            raise ScenarioError(f"{self.spec.nodeid}: --rl-resume: the checkpoint {latest.folder} was made for another "
                                f"configuration ({'; '.join(changes)}); run without --rl-resume to start afresh")
        from .base import import_algo

        model = import_algo(self.spec.algo).load(latest.model_zip, env=self.train_env, device=self.spec.device)
        if latest.state.get("normalization") and self.spec.normalize is not None:
            Normalization.from_json(latest.state["normalization"], str(latest.folder)).restore_into(self.train_env)
        if latest.replay_buffer is not None:
            model.load_replay_buffer(latest.replay_buffer)  # type: ignore[attr-defined]
        restore_rng(latest.state["rng"])
        self.train_env.seed(derive_seed(self.spec.seed, "resume", latest.timesteps))
        self.resumed = latest
        return model

    def _set_aside(self, root: Path) -> None:
        if not root.exists():
            return
        previous = root.with_name(FOLDER + ".previous")
        shutil.rmtree(previous, ignore_errors=True)
        try:
            latest = load_latest(root)
        except Exception:  # an unreadable old checkpoint is set aside all the same
            latest = None
        root.rename(previous)
        if latest is not None and not latest.complete:
            warnings.warn(DiscardedCheckpointWarning(
                f"{self.spec.nodeid}: training afresh, although an interrupted training left a checkpoint at "
                f"{latest.timesteps} timesteps (moved to {previous}); pass --rl-resume to continue such a run"),
                stacklevel=2)

    def normalization(self, model: BaseAlgorithm) -> Normalization | None:
        """The model's current normalisation statistics (None without ``normalize=``)."""
        vec_normalize = model.get_vec_normalize_env()
        return Normalization.of(vec_normalize) if vec_normalize is not None else None

    def save_model(self, model: BaseAlgorithm, path: Path) -> Path:
        """``model.zip`` with the normalisation statistics inside."""
        from .training import save_model

        return save_model(model, path, normalization=self.normalization(model))

    def take_checkpoint(self, model: BaseAlgorithm, *, complete: bool, episodes: list[tuple[int, float, int]]
                        ) -> Checkpoint:
        """Write a checkpoint of ``model`` now."""
        root = self.checkpoint_root
        assert root is not None and self.artifacts_dir is not None
        normalization = self.normalization(model)
        state = {"fingerprint": fingerprint(self.spec, self.venv.num_envs), "seconds": self.seconds(), "rng": rng_state(),
                 "normalization": normalization.to_json() if normalization is not None else None,
                 "tensorboard_run": self.tensorboard_run_relative(model), "nodeid": self.spec.nodeid}
        from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

        return save_checkpoint(root, model, timesteps=int(model.num_timesteps), complete=complete, state=state,
                               episodes=episodes, save_model=self.save_model,
                               replay_buffer=isinstance(model, OffPolicyAlgorithm) and not complete)

    # -- the run ----------------------------------------------------------------------------
    def seconds(self) -> float:
        """Training seconds so far, the resumed-from runs' included."""
        earlier = self.resumed.seconds if self.resumed is not None else 0.0
        return earlier + time.perf_counter() - self.started

    def tensorboard_run(self) -> Path | None:
        """The TensorBoard run folder to log into: the resumed run's, else None (a new one)."""
        if self.resumed is None or self.artifacts_dir is None or not self.resumed.state.get("tensorboard_run"):
            return None
        return self.artifacts_dir / str(self.resumed.state["tensorboard_run"])

    def tensorboard_run_relative(self, model: BaseAlgorithm) -> str | None:
        """The model's TensorBoard run folder, relative to the artifacts folder."""
        folder = model.logger.get_dir() if model.logger is not None else None
        if folder is None or self.artifacts_dir is None:
            return None
        try:
            return Path(folder).resolve().relative_to(self.artifacts_dir.resolve()).as_posix()
        except ValueError:
            return None

    def callbacks(self, model: BaseAlgorithm, episodes: list[tuple[int, float, int]]) -> list[Any]:
        """The training scalars, and the checkpointer when this run checkpoints."""
        start = int(model.num_timesteps)
        out: list[Any] = [TrainingScalars(frame_window(self.total, self.venv.num_envs),
                                          resumed_from=self.resumed.timesteps if self.resumed else None)]
        if self.checkpoint_root is not None and self.plan.checkpoint_every:
            schedule = CheckpointSchedule(self.plan.checkpoint_every, start, time.monotonic())
            self.checkpointer = Checkpointer(
                schedule, lambda m, complete: self.take_checkpoint(m, complete=complete, episodes=episodes), start)
            out.append(self.checkpointer)
        return out

    @contextlib.contextmanager
    def restarts_allowed(self, model: BaseAlgorithm) -> Iterator[None]:
        """Engine restarts while the block runs (when the plan has them)."""
        restarts = self.plan.restarts
        if restarts is None:
            yield
            return
        with restarts.training(int(model.num_timesteps)):
            yield

    def learn(self, model: BaseAlgorithm, callbacks: list[Any], progress_bar: bool,
              episodes: list[tuple[int, float, int]]) -> None:
        """Train up to :attr:`total` timesteps (only what is left after a resume), then take the final
        checkpoint and freeze the normalisation statistics."""
        from stable_baselines3.common.callbacks import CallbackList

        remaining = self.total - int(model.num_timesteps)
        if remaining > 0:
            with self.restarts_allowed(model):
                model.learn(total_timesteps=remaining, reset_num_timesteps=self.resumed is None,
                            callback=CallbackList([*callbacks, *self.callbacks(model, episodes)]),
                            progress_bar=progress_bar)
        vec_normalize = model.get_vec_normalize_env()
        if vec_normalize is not None:
            vec_normalize.training = False
        if self.checkpoint_root is not None and self.plan.checkpoint_every:
            self.final_checkpoint = self.take_checkpoint(model, complete=True, episodes=episodes)

    def agent(self, model: BaseAlgorithm) -> Any:
        """What acts: the model, or a :class:`NormalizedAgent` when observations are normalised."""
        normalization = self.normalization(model)
        if normalization is None or not normalization.norm_obs:
            return model
        return NormalizedAgent(model, normalization)

    def record(self, model: BaseAlgorithm) -> dict[str, Any]:
        """The ``training.json`` object (also the ``training`` of evaluation results)."""
        restarts = self.plan.restarts
        checkpointer = self.checkpointer
        resumed = self.resumed
        return {
            "schema_version": 1, "nodeid": self.spec.nodeid, "algo": self.spec.algo,
            "timesteps": int(model.num_timesteps), "budget": self.total, "seconds": round(self.seconds(), 3),
            "tensorboard_run": self.tensorboard_run_relative(model),
            "resumed_from": None if resumed is None else {
                "checkpoint": resumed.folder.name, "timesteps": resumed.timesteps, "complete": resumed.complete},
            "checkpoints": {"taken": len(checkpointer.taken) if checkpointer else 0,
                            "seconds": round(checkpointer.seconds, 3) if checkpointer else 0.0,
                            "last": self.final_checkpoint.folder.name if self.final_checkpoint else None},
            "engine_restarts": {"allowed": restarts.max_restarts if restarts else 0,
                                "restarts": [r.to_json() for r in restarts.restarts] if restarts else [],
                                "dropped_episodes": restarts.dropped_episodes if restarts else 0},
            "normalize": dict(self.spec.normalize) if self.spec.normalize is not None else None,
            "hyperparams": self.spec.hyperparams,
        }

    def write_record(self, model: BaseAlgorithm) -> Path | None:
        """Write ``training.json`` into the artifacts folder."""
        if self.artifacts_dir is None:
            return None
        return atomic_write_json(self.artifacts_dir / TRAINING_JSON, self.record(model))
