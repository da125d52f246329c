"""The TensorBoard tags of a training run: what training writes and training verdicts read.

SB3 writes ``rollout/ep_rew_mean`` and ``rollout/success_rate`` (moving averages over its last
100 episodes) at each dump. pytest-rlplaytest adds, in the same run folder
(:class:`~pytest_rlplaytest.agents.scalars.TrainingScalars`):

==============================  =====================================================================
tag                             value (step: the training timestep)
==============================  =====================================================================
``rlplaytest/episode_return``   the undiscounted return of every finished training episode
``rlplaytest/episode_length``   its length
``rlplaytest/frame_ms_p99``     per window of training timesteps: the 99th percentile of the game's
                                per-step ``info["frame_ms"]`` (also ``_p50``, ``_max`` and ``_frames``,
                                the number of frames in the window)
``rlplaytest/resumed_from``     a resumed run: the timestep of the checkpoint it continued from
==============================  =====================================================================

:func:`~pytest_rlplaytest.verdicts.training.assert_training` reads them back.
"""

from __future__ import annotations

__all__ = ["EPISODE_LENGTH", "EPISODE_RETURN", "EP_REW_MEAN", "FRAME_P99", "FRAME_PREFIX", "RESUMED_FROM",
           "SUCCESS_RATE"]

EP_REW_MEAN = "rollout/ep_rew_mean"
SUCCESS_RATE = "rollout/success_rate"
EPISODE_RETURN = "rlplaytest/episode_return"
EPISODE_LENGTH = "rlplaytest/episode_length"
FRAME_PREFIX = "rlplaytest/frame_ms_"
FRAME_P99 = FRAME_PREFIX + "p99"
RESUMED_FROM = "rlplaytest/resumed_from"
