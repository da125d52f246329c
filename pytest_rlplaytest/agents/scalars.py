"""Training scalars written beside SB3's own, for training verdicts (the tags:
:mod:`pytest_rlplaytest.reports.training_tags`).

SB3's ``rollout/ep_rew_mean`` is a moving average over overlapping sets of episodes, so it cannot
be compared by a test that assumes independent samples; :class:`TrainingScalars` writes the return
and length of every finished training episode, and the game's ``frame_ms`` percentiles per window
of :func:`frame_window` timesteps (about 20 windows per training), into the same TensorBoard run
folder through SB3's own writer. Episodes dropped by an engine restart never finish, so they are
not logged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from ..reports.training_tags import EPISODE_LENGTH, EPISODE_RETURN, FRAME_PREFIX, RESUMED_FROM
from ..telemetry import FRAME_MS_KEY

__all__ = ["TrainingScalars", "frame_window"]

WINDOWS = 20


def frame_window(total_timesteps: int, n_envs: int) -> int:
    """Timesteps per frame-time window: about 1/20 of the budget, a whole number of vector steps."""
    per_window = max(1, total_timesteps // WINDOWS)
    return max(n_envs, per_window // max(n_envs, 1) * max(n_envs, 1))


def _tensorboard_writer(logger: Any) -> Any:
    """SB3's ``SummaryWriter`` in ``logger`` (None without TensorBoard output)."""
    from stable_baselines3.common.logger import TensorBoardOutputFormat

    for output in getattr(logger, "output_formats", ()):
        if isinstance(output, TensorBoardOutputFormat):
            return output.writer
    return None


class TrainingScalars(BaseCallback):  # type: ignore[misc]
    """Writes the table above while training.

    Args:
        window: timesteps per frame-time window (:func:`frame_window`).
        resumed_from: the checkpoint's timestep when the run resumed, else None.
    """

    def __init__(self, window: int, resumed_from: int | None = None) -> None:
        super().__init__()
        self.window, self.resumed_from = window, resumed_from
        self.writer: Any = None
        self.frames: list[float] = []
        self.window_end = 0
        self.windows = 0

    def _on_training_start(self) -> None:
        self.writer = _tensorboard_writer(self.model.logger)
        start = int(self.num_timesteps)
        self.window_end = start + self.window
        if self.writer is not None and self.resumed_from is not None:
            self.writer.add_scalar(RESUMED_FROM, float(self.resumed_from), global_step=self.resumed_from)

    def _on_step(self) -> bool:
        if self.writer is None:
            return True
        step = int(self.num_timesteps)
        for info in self.locals.get("infos", ()):
            if not isinstance(info, dict):
                continue
            frame = info.get(FRAME_MS_KEY)
            if isinstance(frame, (int, float, np.floating, np.integer)) and not isinstance(frame, bool):
                self.frames.append(float(frame))
            episode = info.get("episode")
            if episode is not None:
                self.writer.add_scalar(EPISODE_RETURN, float(episode["r"]), global_step=step)
                self.writer.add_scalar(EPISODE_LENGTH, float(episode["l"]), global_step=step)
        if step >= self.window_end:
            self._flush_window(step)
            self.window_end = step + self.window
        return True

    def _flush_window(self, step: int) -> None:
        if self.frames:
            values = np.asarray(self.frames)
            for name, value in (("p99", np.percentile(values, 99)), ("p50", np.percentile(values, 50)),
                                ("max", values.max()), ("frames", float(values.size))):
                self.writer.add_scalar(FRAME_PREFIX + name, float(value), global_step=step)
            self.windows += 1
        self.frames = []

    def _on_training_end(self) -> None:
        if self.writer is None:
            return
        if self.frames:  # the last, partial window
            self._flush_window(int(self.num_timesteps))
        self.writer.flush()
