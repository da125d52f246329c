"""Training an agent with Stable-Baselines3: budget sizing, the training log, training artifacts.

This module imports SB3 (and so torch) when it is imported: only code that trains imports it.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import configure_logger

from ..common.files import atomic_write_bytes, atomic_write_text
from ..scenario import ScenarioError, ScenarioSpec
from .base import import_algo, seed_everything

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.vec_env import VecEnv

    from .nightly import TrainingPlan
    from .normalize import Normalization

__all__ = ["TrainingLog", "TrainingReport", "budget_kwargs", "check_algo_fits", "default_policy",
           "save_model", "train_agent", "training_logger", "write_training_artifacts"]

log = logging.getLogger("pytest_rlplaytest")

#: SB3's default rollout length per env, for the on-policy algorithms whose rollout is sized to the budget
_DEFAULT_N_STEPS = {"PPO": 2048, "RecurrentPPO": 128, "A2C": 5}


@dataclass
class TrainingReport:
    """What training did."""

    timesteps: int
    seconds: float
    model_path: Path | None
    tensorboard_dir: Path | None
    episodes_csv: Path | None = None
    learning_curve_png: Path | None = None
    #: ``training.json``: resumed from where, checkpoints, engine restarts (see :mod:`.nightly`)
    record_json: Path | None = None
    #: the same record as a dict
    record: dict[str, Any] = field(default_factory=dict)


class TrainingLog(BaseCallback):  # type: ignore[misc]
    """Records every finished training episode (for the learning curve) and, when there is no TTY
    for a progress bar, logs progress every ``every_seconds`` (logger ``pytest_rlplaytest``).

    Attributes:
        episodes: ``(timestep, return, length)`` of every finished episode, in order.
    """

    def __init__(self, total: int, label: str, log_progress: bool, every_seconds: float = 30.0) -> None:
        super().__init__()
        self.total, self.label = total, label
        self.log_progress, self.every_seconds = log_progress, every_seconds
        self._start = self._last = time.monotonic()
        self.episodes: list[tuple[int, float, int]] = []

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            episode = info.get("episode") if isinstance(info, dict) else None
            if episode is not None:
                self.episodes.append((int(self.num_timesteps), float(episode["r"]), int(episode["l"])))
        if self.log_progress:
            now = time.monotonic()
            if now - self._last >= self.every_seconds:
                self._last = now
                rate = self.num_timesteps / max(now - self._start, 1e-9)
                log.info("%s: %d/%d timesteps (%.0f steps/s)", self.label, self.num_timesteps, self.total, rate)
        return True


def check_algo_fits(spec: ScenarioSpec, venv: VecEnv) -> None:
    """Refuse an algorithm that cannot act in the game's action space, naming the ones that can."""
    from gymnasium import spaces

    action_space = venv.action_space
    if spec.algo == "DQN" and not isinstance(action_space, spaces.Discrete):
        raise ScenarioError(f"{spec.nodeid}: rl_scenario(algo='DQN') needs a Discrete action space; this game's is "
                            f"{action_space}. Use algo='PPO' or 'A2C'.")
    if spec.algo in ("SAC", "TD3") and not isinstance(action_space, spaces.Box):
        raise ScenarioError(f"{spec.nodeid}: rl_scenario(algo={spec.algo!r}) needs a continuous (Box) action space; "
                            f"this game's is {action_space}. Use algo='PPO' or 'A2C'.")


def default_policy(spec: ScenarioSpec, venv: VecEnv) -> str:
    """``MlpPolicy`` / ``MultiInputPolicy`` (``…LstmPolicy`` for RecurrentPPO) unless the marker names one."""
    if spec.policy:
        return spec.policy
    from gymnasium import spaces

    is_dict = isinstance(venv.observation_space, spaces.Dict)
    if spec.algo == "RecurrentPPO":
        return "MultiInputLstmPolicy" if is_dict else "MlpLstmPolicy"
    return "MultiInputPolicy" if is_dict else "MlpPolicy"


def budget_kwargs(spec: ScenarioSpec, n_envs: int) -> tuple[dict[str, Any], int]:
    """The algorithm's keyword arguments and the timesteps to ask ``learn()`` for.

    SB3's PPO rounds a budget up to whole rollouts (2048 steps per env by default), so a small budget
    (``--rl-timesteps=1000``) would train twice as long as asked. Unless the marker sets ``n_steps``,
    the rollout is sized to fit the budget, and ``learn()`` is asked for whole rollouts only: the
    budget is a cap, never exceeded.
    """
    kwargs = dict(spec.algo_kwargs)
    if spec.algo not in _DEFAULT_N_STEPS:
        return kwargs, spec.timesteps
    n_envs = max(n_envs, 1)
    if "n_steps" in kwargs and int(kwargs["n_steps"]) * n_envs <= spec.timesteps:
        # the marker sized the rollout and it fits: train the whole rollouts that fit the budget
        rollout = int(kwargs["n_steps"]) * n_envs
        return kwargs, (spec.timesteps // rollout) * rollout
    if spec.algo == "A2C" and "n_steps" not in kwargs:
        return kwargs, spec.timesteps  # A2C's rollouts are 5 steps: nothing to fit
    if spec.algo == "A2C":  # an A2C rollout larger than the budget: one rollout of the whole budget
        n_steps = max(1, spec.timesteps // n_envs)
        _log_resized(spec, kwargs, n_envs, n_steps)
        return {**kwargs, "n_steps": n_steps}, n_steps * n_envs
    per_env = max(spec.timesteps // n_envs, 16)
    rollouts = -(-per_env // _DEFAULT_N_STEPS[spec.algo])
    n_steps = max(16, (per_env // rollouts) // 8 * 8)
    _log_resized(spec, kwargs, n_envs, n_steps)
    size = n_steps * n_envs
    total = min(spec.timesteps, rollouts * size) if spec.timesteps >= size else size
    batch = min(int(kwargs.get("batch_size", 64)), size)
    while size % batch:  # PPO's minibatches must divide the rollout
        batch -= 1
    return {**kwargs, "n_steps": n_steps, "batch_size": batch}, total


def _log_resized(spec: ScenarioSpec, kwargs: dict[str, Any], n_envs: int, n_steps: int) -> None:
    if "n_steps" in kwargs:
        log.info("%s: rollout of %s steps x %d envs exceeds the budget of %d timesteps; using n_steps=%d",
                 spec.nodeid, kwargs["n_steps"], n_envs, spec.timesteps, n_steps)


def training_logger(tensorboard_dir: Path | None, run_dir: Path | None = None) -> Logger:
    """SB3's logger for one training: TensorBoard under ``tensorboard_dir/train_<n>`` (or in
    ``run_dir``, continuing a resumed run's folder), or no output.

    Giving the model this logger (``set_logger``) keeps SB3 from configuring its own, which, without
    a TensorBoard folder, creates an empty ``SB3-<date>`` folder in the system temp directory.
    """
    if tensorboard_dir is None:
        return Logger(folder=None, output_formats=[])
    if run_dir is not None:
        from stable_baselines3.common.logger import configure

        return configure(str(run_dir), ["tensorboard"])
    return configure_logger(verbose=0, tensorboard_log=str(tensorboard_dir), tb_log_name="train")


def _progress_bar_available() -> bool:
    if not sys.stderr.isatty() or os.environ.get("CI"):
        return False
    try:
        import rich  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def _build_model(spec: ScenarioSpec, venv: VecEnv, kwargs: dict[str, Any]) -> BaseAlgorithm:
    algo_cls = import_algo(spec.algo)
    seed_everything(spec.seed, spec.torch_threads)
    policy_kwargs = dict(spec.policy_kwargs) or None
    try:
        return algo_cls(default_policy(spec, venv), venv, seed=spec.seed, device=spec.device, verbose=0,
                        policy_kwargs=policy_kwargs, **kwargs)
    except TypeError as exc:
        raise ScenarioError(f"{spec.nodeid}: rl_scenario(algo_kwargs=...) rejected by {spec.algo}: {exc}") from None


def train_agent(
    spec: ScenarioSpec, venv: VecEnv, artifacts_dir: Path | None = None, *, plan: TrainingPlan | None = None,
    callbacks: list[BaseCallback] | None = None,
) -> tuple[Any, TrainingReport]:
    """Train ``spec.algo`` on ``venv`` for ``spec.timesteps`` and save it as ``model.zip``.

    With ``artifacts_dir``: TensorBoard logs go to ``<artifacts>/tensorboard`` (SB3's scalars and the
    training scalars of :mod:`.scalars`), the model to ``model.zip`` (with its normalisation
    statistics), the episodes to ``training_episodes.csv`` and ``learning_curve.png``, what happened
    to ``training.json``. ``plan`` adds checkpoints, resume and engine restarts (:mod:`.nightly`);
    ``callbacks`` are further SB3 callbacks (self-play's snapshots, :mod:`.selfplay`).
    Progress: SB3's progress bar on a TTY, otherwise a log line every 30 s (logger ``pytest_rlplaytest``).

    Returns:
        The agent (the SB3 model, or a :class:`~.normalize.NormalizedAgent` around it when the
        observations are normalised) and the :class:`TrainingReport`.
    """
    from .nightly import TrainingPlan, TrainingRun

    check_algo_fits(spec, venv)
    kwargs, total = budget_kwargs(spec, venv.num_envs)
    run = TrainingRun(spec, venv, artifacts_dir, plan or TrainingPlan(), total, gamma=float(kwargs.get("gamma", 0.99)))
    resumed = run.resume_model()
    model = resumed if resumed is not None else _build_model(spec, run.train_env, kwargs)
    tb_dir = artifacts_dir / "tensorboard" if artifacts_dir is not None else None
    model.set_logger(training_logger(tb_dir, run.tensorboard_run()))
    bar = _progress_bar_available()
    training_log = TrainingLog(total, spec.nodeid, log_progress=not bar)
    if run.resumed is not None:
        training_log.episodes.extend(run.resumed.episodes())
    run.learn(model, [training_log, *(callbacks or [])], bar, training_log.episodes)
    report = TrainingReport(int(model.num_timesteps), run.seconds(), None, tb_dir, record=run.record(model))
    if artifacts_dir is not None:
        report.model_path = run.save_model(model, artifacts_dir / "model.zip")
        report.episodes_csv, report.learning_curve_png = write_training_artifacts(
            training_log.episodes, artifacts_dir, f"{spec.algo} on {spec.env_label} ({spec.nodeid})")
        report.record_json = run.write_record(model)
    return run.agent(model), report


def save_model(model: BaseAlgorithm, path: Path, normalization: Normalization | None = None) -> Path:
    """Save an SB3 model as a ``.zip`` atomically (a reader never sees a half-written model), with
    its normalisation statistics inside when it has them (:mod:`.normalize`)."""
    buffer = io.BytesIO()
    model.save(buffer)
    data = buffer.getvalue()
    if normalization is not None:
        from .normalize import add_to_zip

        data = add_to_zip(data, normalization)
    return atomic_write_bytes(path, data)


def write_training_artifacts(
    episodes: list[tuple[int, float, int]], folder: Path, title: str
) -> tuple[Path, Path | None]:
    """``training_episodes.csv`` (timestep, return, length) and ``learning_curve.png``."""
    from ..reports.plots import learning_curve

    lines = ["timestep,return,length"] + [f"{t},{r},{n}" for t, r, n in episodes]
    csv_path = atomic_write_text(folder / "training_episodes.csv", "\n".join(lines) + "\n")
    png = learning_curve([e[0] for e in episodes], [e[1] for e in episodes], folder / "learning_curve.png", title)
    return csv_path, png
