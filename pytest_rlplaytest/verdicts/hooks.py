"""The verdicts' pytest hooks, as one plugin object the main plugin registers.

In the plugin's ``pytest_configure``, after the settings are resolved::

    from .verdicts.hooks import VerdictPlugin
    config.pluginmanager.register(VerdictPlugin(config, get_settings(config)), VerdictPlugin.NAME)

It then:

* installs the verdict defaults (``--rl-inconclusive``, ``--rl-update-baselines``, the baselines
  folder) for the assertions, and restores the previous ones at ``pytest_unconfigure``;
* records which baselines the selected tests use (``rl_baseline`` fixture), merging the xdist
  workers' records on the controller;
* lists stored baselines no selected test used in the terminal summary (it never deletes them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from . import config as verdict_config
from .check import BaselineUsage

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["VerdictPlugin"]


class VerdictPlugin:
    """Hooks for verdict defaults and unused-baseline reporting (see the module docs)."""

    NAME = "rlplaytest-verdicts"

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        """Install the verdict defaults from ``settings`` (the plugin's resolved ``Settings``)."""
        self.config = config
        self.token = verdict_config.configure(settings)
        self.usage = BaselineUsage(settings.baselines_dir, settings.rootdir)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Record the selected tests (on xdist workers, also export them to the controller)."""
        self.usage.collect(session.items)
        self.usage.export(self.config)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: merge a finished worker's record."""
        self.usage.merge(getattr(node, "workeroutput", None))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """List stored baselines no selected test used."""
        if hasattr(self.config, "workerinput"):
            return
        lines = self.usage.summary_lines()
        if lines:
            terminalreporter.section("rlplaytest baselines")
            for line in lines:
                terminalreporter.write_line(line)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Restore the verdict defaults that were in force before this session."""
        verdict_config.restore(self.token)
