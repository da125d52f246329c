"""What CI shows of a run besides the JUnit properties: JUnit attachment lines, the report header,
and short engine failures.

* ``[[ATTACHMENT|/abs/path]]`` lines (``--rl-junit-attachments``; auto: with ``--junitxml``) go into
  each scenario test's captured stdout at teardown, so ``junit_logging=system-out`` writes them to the
  test's ``<system-out>``, where GitLab, Jenkins and Azure DevOps look for attachments.
* :func:`header_lines` is ``pytest_report_header``: engines found (versions cached, nothing booted),
  seed, device, torch threads, the Ray address, the artifacts and baselines folders.
* :func:`short_failure` replaces the traceback of an engine error (crash, hang, bad reply) by its
  one-line cause, the game's last log lines and the artifact folder, unless ``--rl-full-trace``,
  ``--tb=long`` or ``--tb=native`` asks for the full trace.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

    from ..settings import Settings

__all__ = ["attachment_lines", "attachments_enabled", "header_lines", "short_failure"]

#: the most attachment lines written per test
MAX_ATTACHMENTS = 100
#: game log lines a short engine failure shows
LOG_LINES = 12


def attachments_enabled(settings: Settings, config: pytest.Config) -> bool:
    """``--rl-junit-attachments``: on, off, or auto (on when ``--junitxml`` is given)."""
    if settings.junit_attachments == "auto":
        return bool(getattr(config.option, "xmlpath", None))
    return settings.junit_attachments == "on"


def attachment_lines(user_properties: Any) -> list[str]:
    """One ``[[ATTACHMENT|path]]`` line per file of the test's artifact folder (its top level) and
    per file an ``rl_*`` property names (replay bundles live elsewhere), sorted, absolute."""
    from .junit import rl_properties

    props = rl_properties(user_properties)
    if not props.get("rl_artifacts"):
        return []
    folder = Path(str(props["rl_artifacts"]))
    files = {p.resolve() for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()
    files |= {Path(str(v)).resolve() for k, v in props.items()
              if k != "rl_artifacts" and isinstance(v, str) and Path(v).is_absolute() and Path(v).is_file()}
    return [f"[[ATTACHMENT|{path}]]" for path in sorted(files)[:MAX_ATTACHMENTS]]


def _first_sentence(error: BaseException) -> str:
    text = (str(error).splitlines() or [""])[0]
    return text.split(". ", 1)[0].rstrip(".")


@functools.lru_cache(maxsize=4)
def _godot(configured: str | None) -> str:
    from ..engines.base import EngineError
    from ..engines.godot.binary import find_godot

    try:
        binary = find_godot(configured)
    except EngineError as exc:
        return f"not found ({_first_sentence(exc)})"
    return f"{binary.version} ({binary.path})"


@functools.lru_cache(maxsize=4)
def _spacetime(configured: str | None) -> str:
    from ..engines.base import EngineError
    from ..engines.spacetimedb.install import find_spacetime, spacetime_version

    try:
        path = find_spacetime(configured)
        version = ".".join(map(str, spacetime_version(path, timeout=10.0)))
    except EngineError as exc:
        return f"not found ({_first_sentence(exc)})"
    return f"{version} ({path})"


def _gymnasium() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"gymnasium {version('gymnasium')}"
    except PackageNotFoundError:  # pragma: no cover - a dependency
        return "gymnasium not installed"


def header_lines(settings: Settings) -> list[str]:
    """The ``rlplaytest:`` lines of pytest's report header (engine versions probed once per process)."""
    ray = f", ray {settings.ray}" if settings.ray is not None else ""
    return [
        f"rlplaytest: seed {settings.seed}, device {settings.device}, torch threads {settings.torch_threads}{ray}",
        f"rlplaytest: artifacts {settings.artifacts}, baselines {settings.baselines_dir}",
        f"rlplaytest engines: gym ({_gymnasium()}); godot {_godot(settings.godot_bin)}; "
        f"spacetimedb {_spacetime(settings.spacetime_bin)}",
    ]


def _test_frame(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException]) -> list[str]:
    """``in <test file>:<line>: <source>``: the test's own last frame (none for a fixture's error)."""
    frames = [e for e in excinfo.traceback if str(e.path) == str(item.path)]
    if not frames:
        return []
    entry = frames[-1]
    source = str(entry.statement).strip().splitlines()[0] if entry.statement else ""
    return [f"in {item.path.name}:{entry.lineno + 1}: {source}"]


def short_failure(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException], settings: Settings) -> str | None:
    """The short report of an engine error (None: keep pytest's traceback): the error's class and
    first line, the last :data:`LOG_LINES` lines of the rest of its message (engines end their
    errors with the game's exit status and output), and the test's artifact folder."""
    from ..engines.base import EngineError, EngineUnavailable
    from .junit import rl_properties

    error = excinfo.value
    if not isinstance(error, EngineError) or isinstance(error, EngineUnavailable):
        return None
    if settings.full_trace or item.config.getoption("tbstyle", "auto") in ("long", "native"):
        return None
    first, *rest = str(error).splitlines() or [""]
    lines = [f"{type(error).__name__}: {first}", *_test_frame(item, excinfo)]
    log = [line for line in rest if line.strip()][-LOG_LINES:]
    if log:
        lines += [f"game log (last {len(log)} lines):", *("    " + line for line in log)]
    folder = rl_properties(item.user_properties).get("rl_artifacts")
    if folder:
        lines.append(f"artifacts: {folder}")
    lines.append("(full traceback: --rl-full-trace or --tb=long)")
    return "\n".join(lines)
