"""Training verdicts: :func:`assert_training` over the TensorBoard event files a training run wrote.

The verdict reads the run's event files with TensorBoard's own reader
(``tensorboard.backend.event_processing.event_file_loader.EventFileLoader``), so it judges a
training that just ran (``assert_training(result)``) and an old run's folder alike
(``assert_training(".rlplaytest/test_x.py__test_y")``, ``rlplaytest check-training DIR``).

What it can judge:

* ``min_reward``: the final ``rollout/ep_rew_mean`` SB3 logged (its mean return over the last 100
  training episodes) is at least the threshold; ``min_success`` the same for
  ``rollout/success_rate``. These are fixed thresholds on the final logged value, not tests.
* ``improving=True``: the training episodes' returns improved. The returns of every finished
  training episode (``rlplaytest/episode_return``, :mod:`~pytest_rlplaytest.agents.scalars`) are
  split by finishing order into a first and a last window of ``window`` (a fraction, default the
  first and last 25%, or a count) episodes, and a one-sided Mann-Whitney U test
  (``scipy.stats.mannwhitneyu(last, first, alternative="greater")``: exact for small samples
  without ties, else the normal approximation with tie correction) must reject "the last window's
  returns are not stochastically greater than the first's" at ``alpha`` (default 0.05). SB3's
  moving averages are not used: they overlap, so they are not independent samples.
* ``frame_p99_ms``: the 99th percentile of the game's per-step ``frame_ms`` during training is
  within the budget in *every* window (about 1/20 of the budget each; ``rlplaytest/frame_ms_p99``).

Every criterion decides (pass or fail); data that cannot decide (no such scalar, too few episodes
for the test to ever reach ``alpha``) is an error naming what is missing.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..common.table import fmt_number
from ..reports.training_tags import EP_REW_MEAN, EPISODE_RETURN, FRAME_P99, RESUMED_FROM, SUCCESS_RATE
from .errors import MissingMetricError, VerdictUsageError
from .table import FAIL, OK, Row
from .verdict import FAILED, PASS, Verdict, conclude

__all__ = ["Scalar", "TrainingEvents", "assert_training", "improvement_test", "judge_training",
           "read_training_events", "training_run_folder"]

TEST_NAME = "one-sided Mann-Whitney U"


@dataclass(frozen=True)
class Scalar:
    """One logged value."""

    step: int
    value: float
    wall_time: float


@dataclass
class TrainingEvents:
    """Every scalar of one TensorBoard run folder, in logging order.

    A resumed run appends a new event file to the folder and logs ``rlplaytest/resumed_from``; the
    values an earlier file logged after that checkpoint's timestep (the interrupted stretch,
    trained again by the resumed run) are dropped.
    """

    folder: Path
    files: list[Path] = field(default_factory=list)
    scalars: dict[str, list[Scalar]] = field(default_factory=dict)

    def values(self, tag: str) -> np.ndarray:
        """The values of ``tag`` in logging order."""
        return np.asarray([s.value for s in self.scalars.get(tag, [])], dtype=float)

    def last(self, tag: str) -> Scalar | None:
        """The value of ``tag`` at its highest step (the last logged there), or None."""
        items = self.scalars.get(tag)
        return max(items, key=lambda s: s.step) if items else None


def _read_file(path: Path) -> dict[str, list[Scalar]]:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    out: dict[str, list[Scalar]] = {}
    for event in EventFileLoader(str(path)).Load():
        for value in event.summary.value:
            if value.HasField("tensor"):
                number = float(np.asarray(tensor_util.make_ndarray(value.tensor)).reshape(-1)[0])
            elif value.HasField("simple_value"):
                number = float(value.simple_value)
            else:
                continue
            out.setdefault(value.tag, []).append(Scalar(int(event.step), number, float(event.wall_time)))
    return out


def read_training_events(source: Any) -> TrainingEvents:
    """The scalars of the training run behind ``source`` (see :func:`training_run_folder`)."""
    folder = training_run_folder(source)
    files = sorted((p for p in folder.iterdir() if p.name.startswith("events.out.tfevents")),
                   key=lambda p: (p.stat().st_mtime, p.name))
    events = TrainingEvents(folder, files)
    for path in files:
        scalars = _read_file(path)
        resumed = scalars.get(RESUMED_FROM)
        if resumed:
            cut = min(s.step for s in resumed)
            for tag, items in events.scalars.items():
                events.scalars[tag] = [s for s in items if s.step <= cut]
        for tag, items in scalars.items():
            events.scalars.setdefault(tag, []).extend(items)
    return events


def _newest_run(tensorboard: Path) -> Path | None:
    runs = [p for p in tensorboard.glob("train_*") if p.is_dir() and p.name[6:].isdigit()]
    return max(runs, key=lambda p: int(p.name[6:])) if runs else None


def training_run_folder(source: Any) -> Path:
    """The TensorBoard run folder of a training.

    ``source`` is a ``PlaytestResult`` (its ``training``), a ``TrainingReport``, a test's artifact
    folder (its ``training.json`` names the run; else the newest ``tensorboard/train_<n>``), a
    ``tensorboard`` folder, or a run folder itself.

    Raises:
        VerdictUsageError: the agent was not trained by this test, or the folder holds no training.
    """
    record = getattr(source, "training", None)
    if isinstance(record, Mapping):
        if not record.get("artifacts") or not record.get("tensorboard_run"):
            raise VerdictUsageError(
                "assert_training: this result's agent was not trained in this test "
                f"(model={record.get('model')!r}); pass the artifact folder of the run that trained it")
        return Path(str(record["artifacts"])) / str(record["tensorboard_run"])
    report_record = getattr(source, "record", None)
    tensorboard_dir = getattr(source, "tensorboard_dir", None)
    if isinstance(report_record, Mapping) and tensorboard_dir is not None and report_record.get("tensorboard_run"):
        return Path(tensorboard_dir).parent / str(report_record["tensorboard_run"])
    if not isinstance(source, (str, os.PathLike)):
        raise VerdictUsageError(f"assert_training needs a PlaytestResult, a TrainingReport or a folder, not "
                                f"{type(source).__name__}")
    return _folder_run(Path(source))


def _folder_run(folder: Path) -> Path:
    if not folder.is_dir():
        raise VerdictUsageError(f"assert_training: {folder} is not a folder (pass a test's artifact folder)")
    record_path = folder / "training.json"
    if record_path.is_file():
        try:
            run = json.loads(record_path.read_text(encoding="utf-8")).get("tensorboard_run")
        except (OSError, ValueError, AttributeError):
            run = None
        if run and (folder / run).is_dir():
            return folder / str(run)
    if any(p.name.startswith("events.out.tfevents") for p in folder.iterdir()):
        return folder
    for tensorboard in (folder / "tensorboard", folder):
        run_folder = _newest_run(tensorboard) if tensorboard.is_dir() else None
        if run_folder is not None:
            return run_folder
    raise VerdictUsageError(f"assert_training: {folder} holds no training run (no training.json, no "
                            "tensorboard/train_<n> folder, no event files)")


def _smallest_window(alpha: float) -> int:
    """The smallest window size k for which the one-sided test can reach ``alpha`` at all: its
    smallest p-value, 1 / C(2k, k), must be below it."""
    k = 1
    while 1.0 / math.comb(2 * k, k) >= alpha:
        k += 1
    return k


def improvement_test(returns: np.ndarray, *, window: float = 0.25, alpha: float = 0.05) -> dict[str, Any]:
    """The one-sided Mann-Whitney U test of the last window of ``returns`` against the first.

    Returns:
        ``first``/``last`` (window sizes and means), ``u``, ``p``, ``method``, ``improving`` (p < alpha).

    Raises:
        VerdictUsageError: a bad ``window`` or ``alpha``.
        MissingMetricError: too few episodes for the test to decide.
    """
    from scipy.stats import mannwhitneyu

    if not 0.0 < alpha < 0.5:
        raise VerdictUsageError(f"alpha={alpha!r} must be in (0, 0.5)")
    n = len(returns)
    if isinstance(window, int) and not isinstance(window, bool) and window >= 1:
        k = window
    elif isinstance(window, float) and 0.0 < window <= 0.5:
        k = int(n * window)
    else:
        raise VerdictUsageError(f"window={window!r} must be a fraction in (0, 0.5] or a number of episodes >= 1")
    need = _smallest_window(alpha)
    if k < need or 2 * k > n:
        raise MissingMetricError(
            f"the improvement test needs two windows of at least {need} episodes each (alpha={alpha:g}); the training "
            f"finished {n} episodes, giving windows of {min(k, n // 2)}: train longer or pass a larger window=")
    first, last = returns[:k], returns[-k:]
    result = mannwhitneyu(last, first, alternative="greater", method="auto")
    p = float(result.pvalue)
    p = 1.0 if p != p else p  # all values tied: no evidence of a difference
    method = "exact" if k < 8 and len(np.unique(np.concatenate([first, last]))) == 2 * k else "asymptotic"
    return {"first": {"n": k, "mean": float(first.mean())}, "last": {"n": k, "mean": float(last.mean())},
            "u": float(result.statistic), "p": p, "method": method, "improving": p < alpha}


def _final_row(events: TrainingEvents, tag: str, threshold: float, what: str) -> Row:
    last = events.last(tag)
    if last is None:
        raise MissingMetricError(f"the training in {events.folder} logged no {tag!r} ({what})")
    return Row(metric=f"final {tag}", observed=f"{fmt_number(last.value)} at timestep {last.step}",
               allowed=f">= {threshold:g}", verdict=OK if last.value >= threshold else FAIL)


def _frame_row(events: TrainingEvents, budget: float) -> Row:
    windows = events.scalars.get(FRAME_P99, [])
    if not windows:
        raise MissingMetricError(f"the training in {events.folder} logged no {FRAME_P99!r}: the game reported no "
                                 "numeric info['frame_ms'] during training (see pytest_rlplaytest.telemetry)")
    worst = max(windows, key=lambda s: s.value)
    over = sum(1 for s in windows if s.value > budget)
    return Row(metric="frame_ms.p99 per training window",
               observed=f"worst {fmt_number(worst.value)} ms (window ending at timestep {worst.step}); "
                        f"{over} of {len(windows)} windows over", allowed=f"<= {budget:g} ms in every window",
               verdict=FAIL if over else OK)


def judge_training(events: TrainingEvents, *, min_reward: float | None = None, min_success: float | None = None,
                   improving: bool = False, alpha: float = 0.05, window: float = 0.25,
                   frame_p99_ms: float | None = None) -> Verdict:
    """The verdict of :func:`assert_training` on scalars already read (not concluded)."""
    if min_reward is None and min_success is None and not improving and frame_p99_ms is None:
        raise VerdictUsageError("assert_training needs a criterion: min_reward=, min_success=, improving=True or "
                                "frame_p99_ms=")
    rows: list[Row] = []
    notes = [f"read from the TensorBoard event files in {events.folder} ({len(events.files)} file(s))"]
    details: dict[str, Any] = {"folder": str(events.folder)}
    if min_reward is not None:
        rows.append(_final_row(events, EP_REW_MEAN, float(min_reward), "no episode finished during training?"))
    if min_success is not None:
        rows.append(_final_row(events, SUCCESS_RATE, float(min_success),
                               "the game reports no info['is_success'] at the end of its episodes"))
    if improving:
        returns = events.values(EPISODE_RETURN)
        if returns.size == 0:
            raise MissingMetricError(f"the training in {events.folder} logged no {EPISODE_RETURN!r} (no episode "
                                     "finished, or it was not trained by pytest-rlplaytest)")
        test = improvement_test(returns, window=window, alpha=alpha)
        details["improvement"] = test
        rows.append(Row(metric="episode return improves",
                        observed=f"first {test['first']['n']}: mean {fmt_number(test['first']['mean'])}; "
                                 f"last {test['last']['n']}: mean {fmt_number(test['last']['mean'])}",
                        interval=f"p = {fmt_number(test['p'], 3)}", allowed=f"p < {alpha:g}",
                        verdict=OK if test["improving"] else FAIL))
        notes.append(f"improvement: {TEST_NAME} test ({test['method']}) of the last window of training-episode "
                     f"returns against the first, by finishing order, {returns.size} episodes")
    if frame_p99_ms is not None:
        rows.append(_frame_row(events, float(frame_p99_ms)))
    failed = any(r.failed for r in rows)
    title = f"training {'does not meet' if failed else 'meets'} its criteria ({events.folder.name})"
    return Verdict(outcome=FAILED if failed else PASS, title=title, rows=rows, notes=notes, details=details)


def assert_training(result_or_dir: Any, *, min_reward: float | None = None, min_success: float | None = None,
                    improving: bool = False, alpha: float = 0.05, window: float = 0.25,
                    frame_p99_ms: float | None = None) -> Verdict:
    """Assert what a training run logged meets its criteria (see the module docstring).

    Args:
        result_or_dir: a ``PlaytestResult`` of an agent trained in this test, a ``TrainingReport``,
            or a folder (a test's artifacts, ``tensorboard``, or a run folder).
        min_reward: lower bound on the final ``rollout/ep_rew_mean``.
        min_success: lower bound on the final ``rollout/success_rate``.
        improving: the training-episode returns must improve (one-sided Mann-Whitney U test).
        alpha: the test's significance level.
        window: the first/last windows: a fraction of the episodes (<= 0.5) or a count.
        frame_p99_ms: budget on the per-window 99th percentile of ``frame_ms`` during training.

    Raises:
        VerdictFailure: a criterion is not met.
        MissingMetricError: the run logged nothing to judge a criterion by.
        VerdictUsageError: no criterion, or bad arguments.
    """
    __tracebackhide__ = True
    verdict = judge_training(read_training_events(result_or_dir), min_reward=min_reward, min_success=min_success,
                             improving=improving, alpha=alpha, window=window, frame_p99_ms=frame_p99_ms)
    return conclude(verdict)
