"""Small classes the plugin's fixtures and hooks delegate to.

* :class:`BaselineCheck` — what the ``rl_baseline`` fixture returns: it knows the test's baseline
  path and compares (or, under ``--rl-update-baselines``, writes) with ``.check(result)``.
* :class:`BaselineUsage` — which stored baselines the selected tests use, so the terminal summary
  can list the ones nothing uses (never deleting them). Works under pytest-xdist: workers export
  what they collected through ``workeroutput`` and the controller merges it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..common.paths import PathBase
from . import config as _config
from .baselines import Baseline, baseline_path, load_baseline, unused_baselines
from .compare import assert_matches_baseline
from .tolerances import Tolerance
from .verdict import Verdict

if TYPE_CHECKING:
    from ..playtest import PlaytestResult
    from ..settings import Settings

__all__ = ["FIXTURE_NAME", "BaselineCheck", "BaselineUsage"]

FIXTURE_NAME = "rl_baseline"


def _settings_paths(settings: Settings | None) -> tuple[Path, Path, bool]:
    """``(baselines_dir, rootdir, update)`` from plugin ``Settings`` or the verdict defaults."""
    if settings is not None:
        return settings.baselines_dir, settings.rootdir, settings.update_baselines
    cfg = _config.current()
    rootdir = cfg.rootdir or Path.cwd()
    return (cfg.baselines_dir or rootdir / "baselines", rootdir, cfg.update_baselines)


class BaselineCheck:
    """The baseline of one test.

    Args:
        nodeid: the test's node id (``request.node.nodeid``).
        test_file: the file defining the test (``request.node.path``).
        settings: the plugin's resolved ``Settings`` (``baselines_dir``, ``rootdir``,
            ``update_baselines``); None uses the defaults installed by :func:`.config.configure`.
    """

    def __init__(self, nodeid: str, test_file: Path | str, settings: Settings | None = None) -> None:
        """The baseline of ``nodeid``; relative paths in its scenario resolve against ``test_file``'s folder."""
        self.nodeid = nodeid
        self.test_file = Path(test_file)
        self.paths = PathBase.marker(self.test_file)
        self.baselines_dir, self.rootdir, self.update = _settings_paths(settings)
        self.path = baseline_path(self.baselines_dir, self.rootdir, self.test_file, nodeid)

    @property
    def exists(self) -> bool:
        """Whether a baseline file is stored."""
        return self.path.is_file()

    def load(self) -> Baseline | None:
        """The stored baseline (None when missing)."""
        return load_baseline(self.path, self.nodeid)

    def check(self, result: PlaytestResult, tolerances: Iterable[str | Tolerance] | str | None = None, *,
              alpha: float = 0.05, scenario: Mapping[str, Any] | None = None) -> Verdict:
        """Compare ``result`` with the stored baseline, or store it under ``--rl-update-baselines``.

        See :func:`.assertions.assert_matches_baseline` for the statistics and tolerance syntax.
        """
        __tracebackhide__ = True
        return assert_matches_baseline(result, self.path, tolerances, alpha=alpha, nodeid=self.nodeid,
                                       update=self.update, scenario=scenario, paths=self.paths)

    def __repr__(self) -> str:
        return f"BaselineCheck({self.nodeid!r}, path={str(self.path)!r}, update={self.update})"


class BaselineUsage:
    """Tracks the baselines of the selected tests and lists stored ones that none of them uses.

    A baseline counts as used when a selected test requests the ``rl_baseline`` fixture and the
    baseline's path is that test's path. Only baselines of test files that had selected tests are
    reported, plus orphans whose test file is gone — so running a subset (``-k``) does not list the
    rest of the suite.
    """

    WORKEROUTPUT_KEY = "rlplaytest_baselines"

    def __init__(self, baselines_dir: Path | str, rootdir: Path | str, fixture: str = FIXTURE_NAME) -> None:
        """Track usage of the baselines under ``baselines_dir``."""
        self.baselines_dir = Path(baselines_dir)
        self.rootdir = Path(rootdir)
        self.fixture = fixture
        self.used: set[str] = set()
        self.scope: set[str] = set()

    def collect(self, items: Iterable[Any]) -> None:
        """Record the selected test items (call from ``pytest_collection_finish`` with
        ``session.items``)."""
        root = self.rootdir.resolve()
        for item in items:
            path = Path(str(getattr(item, "path", None) or getattr(item, "fspath", "")))
            try:
                self.scope.add(str(path.resolve().relative_to(root)))
            except ValueError:
                self.scope.add(path.name)
            if self.fixture in getattr(item, "fixturenames", ()):
                self.used.add(str(baseline_path(self.baselines_dir, self.rootdir, path, item.nodeid).resolve()))

    def export(self, config: Any) -> None:
        """On an xdist worker, put what was collected into ``config.workeroutput``."""
        output = getattr(config, "workeroutput", None)
        if output is not None:
            output[self.WORKEROUTPUT_KEY] = {"used": sorted(self.used), "scope": sorted(self.scope)}

    def merge(self, workeroutput: Mapping[str, Any] | None) -> None:
        """On the xdist controller, merge a worker's export (``node.workeroutput``)."""
        data = (workeroutput or {}).get(self.WORKEROUTPUT_KEY)
        if data:
            self.used.update(data.get("used", ()))
            self.scope.update(data.get("scope", ()))

    def unused(self) -> list[Path]:
        """Stored baselines no selected test uses (see :func:`.baselines.unused_baselines`)."""
        if not self.scope:
            return []
        return unused_baselines(self.baselines_dir, self.used, rootdir=self.rootdir, scope=self.scope)

    def summary_lines(self) -> list[str]:
        """Lines for the terminal summary (empty when every stored baseline is used)."""
        unused = self.unused()
        if not unused:
            return []
        lines = [f"{len(unused)} stored baseline(s) not used by any selected test (not deleted):"]
        for path in unused:
            try:
                shown: Path = path.resolve().relative_to(self.rootdir.resolve())
            except ValueError:
                shown = path
            lines.append(f"  {shown}")
        return lines
