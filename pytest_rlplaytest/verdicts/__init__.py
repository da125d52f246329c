"""Verdicts: statistics, baselines and assertions over playtest results.

Public API::

    from pytest_rlplaytest.verdicts import (
        assert_success_rate, assert_matches_baseline, assert_frame_budget, decide_success_rate,
        sequential_stopper, assert_training,
    )

Every verdict ends in :func:`.verdict.conclude`: it passes, fails (:class:`VerdictFailure`), or is
inconclusive and follows ``--rl-inconclusive``. See :mod:`.stats` for the statistics (scipy's
distributions, our exact tests, planning and SPRT), :mod:`.tolerances` for tolerance expressions and
:mod:`.baselines` for the stored format.
"""

from __future__ import annotations

from .baselines import Baseline, baseline_path, list_baselines, load_baseline, write_baseline
from .check import BaselineCheck, BaselineUsage
from .compare import DEFAULT_TOLERANCES, assert_matches_baseline
from .determinism import DeterminismFailure, assert_deterministic
from .errors import (
    BaselineError,
    BaselineMissing,
    BaselineWarning,
    InconclusiveWarning,
    MissingMetricError,
    ToleranceError,
    VerdictFailure,
    VerdictUsageError,
)
from .frames import assert_frame_budget
from .leaks import assert_no_growth
from .sequential import SequentialOutcome, SequentialStopper, sequential_outcome, sequential_stopper
from .stats import CI_LABEL, CI_METHOD, SPRT, plan_episodes, success_interval
from .success import assert_success_rate, decide_success_rate, episodes_to_decide
from .tolerances import Tolerance, parse_tolerance, parse_tolerances
from .training import assert_training
from .verdict import Verdict

__all__ = [
    "CI_LABEL",
    "CI_METHOD",
    "DEFAULT_TOLERANCES",
    "SPRT",
    "Baseline",
    "BaselineCheck",
    "BaselineError",
    "BaselineMissing",
    "BaselineUsage",
    "BaselineWarning",
    "DeterminismFailure",
    "InconclusiveWarning",
    "MissingMetricError",
    "SequentialOutcome",
    "SequentialStopper",
    "Tolerance",
    "ToleranceError",
    "Verdict",
    "VerdictFailure",
    "VerdictUsageError",
    "assert_deterministic",
    "assert_frame_budget",
    "assert_matches_baseline",
    "assert_no_growth",
    "assert_success_rate",
    "assert_training",
    "baseline_path",
    "decide_success_rate",
    "episodes_to_decide",
    "list_baselines",
    "load_baseline",
    "parse_tolerance",
    "parse_tolerances",
    "plan_episodes",
    "sequential_outcome",
    "sequential_stopper",
    "success_interval",
    "write_baseline",
]
