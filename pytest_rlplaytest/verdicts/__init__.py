"""Verdicts: statistics, baselines and assertions over playtest results.

Public API::

    from pytest_rlplaytest.verdicts import (
        assert_success_rate, assert_matches_baseline, assert_frame_budget, sequential_stopper,
    )

See :mod:`.stats` for the statistics, :mod:`.tolerances` for tolerance expressions and
:mod:`.baselines` for the stored format.
"""

from __future__ import annotations

from .assertions import (
    DEFAULT_TOLERANCES,
    BaselineWarning,
    InconclusiveWarning,
    Verdict,
    assert_frame_budget,
    assert_matches_baseline,
    assert_success_rate,
    episodes_to_decide,
)
from .baselines import Baseline, baseline_path, list_baselines, load_baseline, write_baseline
from .check import BaselineCheck, BaselineUsage
from .errors import BaselineError, BaselineMissing, MissingMetricError, ToleranceError, VerdictFailure
from .sequential import SequentialOutcome, SequentialStopper, sequential_outcome, sequential_stopper
from .stats import SPRT, plan_episodes
from .tolerances import Tolerance, parse_tolerance, parse_tolerances

__all__ = [
    "DEFAULT_TOLERANCES",
    "SPRT",
    "Baseline",
    "BaselineCheck",
    "BaselineError",
    "BaselineMissing",
    "BaselineUsage",
    "BaselineWarning",
    "InconclusiveWarning",
    "MissingMetricError",
    "SequentialOutcome",
    "SequentialStopper",
    "Tolerance",
    "ToleranceError",
    "Verdict",
    "VerdictFailure",
    "assert_frame_budget",
    "assert_matches_baseline",
    "assert_success_rate",
    "baseline_path",
    "episodes_to_decide",
    "list_baselines",
    "load_baseline",
    "parse_tolerance",
    "parse_tolerances",
    "plan_episodes",
    "sequential_outcome",
    "sequential_stopper",
    "write_baseline",
]
