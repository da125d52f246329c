"""pytest-html extras: each scenario test's row in ``pytest --html=report.html`` shows its verdict
tables and its plots.

Registered by the plugin only when pytest-html is active. For every test report (setup, call,
teardown) it appends, through pytest-html's own API (``pytest_html.extras``):

* one ``extras.html`` block per verdict the test concluded (title, the verdict table of
  :mod:`~.verdicts.table` as an HTML table of class ``rl-verdict``, and the notes), kept by
  :func:`~.verdicts.verdict.record_verdicts` while this plugin is registered;
* one ``extras.png`` per plot the test's artifacts hold (``rl_learning_curve_png``,
  ``rl_heatmap_png``), base64-encoded: pytest-html embeds it under ``--self-contained-html`` and
  otherwise writes it to the report's ``assets/`` folder and links it relatively, so the report
  opens from anywhere it is copied with its folder.
"""

from __future__ import annotations

import base64
from collections.abc import Generator
from html import escape
from pathlib import Path
from typing import Any

import pytest

from ..common.table import render_html_table
from ..verdicts.table import COLUMNS
from ..verdicts.verdict import Verdict, record_verdicts, take_verdicts
from .junit import rl_properties
from .plots import PLOTS

__all__ = ["HtmlExtras", "verdict_html"]



def verdict_html(verdict: Verdict) -> str:
    """One verdict as an HTML block: title, table, notes."""
    notes = "".join(f"<div>{escape(n)}</div>" for n in verdict.notes)
    table = render_html_table(COLUMNS, [r.cells() for r in verdict.rows], css_class="rl-verdict")
    return (f'<div class="rl-verdict-block rl-{escape(verdict.outcome)}"><div><b>{escape(verdict.title)}</b></div>'
            f"{table if verdict.rows else ''}{notes}</div>")


class HtmlExtras:
    """The pytest-html hooks (see the module docs)."""

    NAME = "rlplaytest-html"

    def __init__(self) -> None:
        """Start keeping the concluded verdicts of each test."""
        record_verdicts(True)
        self.shown: dict[str, set[str]] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        """Append the test's new verdicts and plots to the report's ``extras``."""
        outcome = yield
        report = outcome.get_result()
        from pytest_html import extras as html_extras

        added = [html_extras.html(verdict_html(v)) for v in take_verdicts(item.nodeid)]
        shown = self.shown.setdefault(item.nodeid, set())
        for key, caption in PLOTS:
            path = rl_properties(item.user_properties).get(key)
            if path and path not in shown and Path(path).is_file():
                shown.add(path)
                added.append(html_extras.png(base64.b64encode(Path(path).read_bytes()).decode("ascii"), caption))
        if added:
            report.extras = [*getattr(report, "extras", []), *added]
        if report.when == "teardown":
            self.shown.pop(item.nodeid, None)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Stop keeping verdicts."""
        record_verdicts(False)
