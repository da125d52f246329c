"""The one exception root and the one warning root of pytest-rlplaytest.

Every error the package raises on purpose derives from :class:`RLPlaytestError`, so a user can catch
all of them at once (``except pytest_rlplaytest.RLPlaytestError``), and every warning it emits
derives from :class:`RLPlaytestWarning`, a :class:`pytest.PytestWarning`, so ``-W error::...`` and
``filterwarnings`` work as pytest users expect.

The concrete classes live beside the code that raises them (``SettingError`` in ``settings``,
``ScenarioError`` in ``scenario``, ``EngineError`` in ``engines.base``, ``VerdictFailure`` in
``verdicts.errors``, ...); they all subclass the roots here, plus the builtin their callers may
already catch (``ValueError``, ``RuntimeError``, ``AssertionError``).
"""

from __future__ import annotations

import pytest

__all__ = ["RLPlaytestError", "RLPlaytestWarning"]


class RLPlaytestError(Exception):
    """Root of every error pytest-rlplaytest raises on purpose; the message names the fix."""


class RLPlaytestWarning(pytest.PytestWarning):
    """Root of every warning pytest-rlplaytest emits (a ``pytest.PytestWarning``)."""
