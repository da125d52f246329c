"""Stored baselines: one versioned JSON file per test.

Layout: ``<baselines_dir>/<test file path relative to rootdir>/<test name as a file name>.json``
(:func:`pytest_rlplaytest.common.paths.nodeid_to_filename`), e.g. ``tests/test_lander.py::test_lands``
-> ``baselines/tests/test_lander.py/test_lands.json``; ``test_lands[easy]`` -> ``test_lands_easy-1a2b3c4d.json``.

A file records (schema version :data:`SCHEMA_VERSION`):

* ``plugin_version``, ``nodeid``, ``created``/``updated`` timestamps;
* ``scenario``: the scenario description (env, algo, budget, episodes, seeds...);
* ``engine``: the game build identity when the engine reports one (``PlaytestResult.engine``);
  paths in ``scenario`` and ``engine`` (:data:`PATH_KEYS`) are stored relative to the baseline file
  itself and read back against its folder (the package's path rule); a path outside the project (a
  system binary) is stored as its bare name. A committed baseline holds no absolute path of the
  machine that wrote it;
* ``metrics``: machine-independent results — success counts with an exact interval, episode
  ``return``/``length`` statistics, and per-step metrics that do not measure time;
* ``machines``: per machine id (see :func:`machine_id`), that machine's description (platform,
  cpu, python and package versions, like pytest-benchmark's ``machine_info``) and its timing
  metrics (``frame_ms`` and any other ``*_ms``/``*_us``/``*_seconds`` metric), because frame
  times only compare on the same hardware.

Nothing is written unless the caller asks (``--rl-update-baselines``). Writes are atomic and get the
usual file permissions (:mod:`pytest_rlplaytest.common.files`), and the read-merge-write of an update
runs under an advisory lock on the folder, so parallel workers (``pytest -n``) and machines sharing the
folder never leave a torn or half-merged file.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import os
import platform
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..common.files import atomic_write_json, folder_lock
from ..common.paths import PathBase, nodeid_to_filename, relative_to_file
from ..common.versioned import load_versioned
from . import config as _config
from .errors import BaselineError
from .stats import CI_METHOD, success_interval, t_interval
from .tolerances import metric_value

if TYPE_CHECKING:
    from ..playtest import PlaytestResult

__all__ = [
    "PATH_KEYS",
    "SCHEMA_VERSION",
    "Baseline",
    "baseline_path",
    "is_machine_metric",
    "list_baselines",
    "load_baseline",
    "machine_id",
    "machine_info",
    "plugin_version",
    "record_from_result",
    "resolve_paths",
    "store_paths",
    "unused_baselines",
    "update_command",
    "write_baseline",
]

SCHEMA_VERSION = 1
#: statistics stored for every per-step metric
STEP_STATS = ("mean", "std", "min", "median", "p90", "p95", "p99", "p99.9", "max")
#: statistics stored for episode return and length
EPISODE_STATS = ("mean", "std", "iqm", "min", "median", "p5", "p95", "max")
_TIMING_SUFFIXES = ("_ms", "_us", "_seconds")
#: keys of the ``scenario`` and ``engine`` sections that hold file-system paths: stored relative to
#: the baseline file (``game_path``, the Godot binary, the SpacetimeDB module, the agent's model)
PATH_KEYS = ("game_path", "godot_binary", "module", "model")


# -- naming -----------------------------------------------------------------------------------------
def baseline_path(baselines_dir: Path, rootdir: Path, test_file: Path, nodeid: str) -> Path:
    """Where the baseline of the test ``nodeid`` (defined in ``test_file``) is stored.

    ``<baselines_dir>/<test_file relative to rootdir>/<test name as a file name>.json``, the test name
    being the node id after the file, named by :func:`~pytest_rlplaytest.common.paths.nodeid_to_filename`.
    A test file outside rootdir is keyed by its name only.
    """
    test_file = Path(test_file)
    try:
        relative = test_file.resolve().relative_to(Path(rootdir).resolve())
    except ValueError:
        relative = Path(test_file.name)
    name = nodeid.split("::", 1)[1] if "::" in nodeid else nodeid
    return Path(baselines_dir) / relative / f"{nodeid_to_filename(name)}.json"


def update_command(nodeid: str | None) -> str:
    """The command that (re)writes the baseline of ``nodeid``."""
    target = f"'{nodeid}'" if nodeid and re.search(r"[\s\[\]()'\"*?]", nodeid) else (nodeid or "<test>")
    return f"pytest {target} --rl-update-baselines"


# -- machine description ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _cpu_brand() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        import subprocess

        try:
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                                 text=True, timeout=5, check=False)
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def _package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def plugin_version() -> str:
    """The installed pytest-rlplaytest version (``unknown`` when running from a bare checkout)."""
    return _package_version("pytest-rlplaytest") or "unknown"


@functools.lru_cache(maxsize=1)
def machine_info() -> dict[str, Any]:
    """What the timing metrics were measured on: platform, cpu, python and package versions.

    Package versions are read from installed metadata, so nothing heavy (torch) is imported.
    The host name is deliberately left out: baselines are usually committed.
    """
    packages = {name: _package_version(name) for name in
                ("torch", "numpy", "gymnasium", "stable-baselines3", "onnxruntime")}
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "cpu": _cpu_brand(),
        "cpu_count": os.cpu_count(),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "packages": {k: v for k, v in packages.items() if v is not None},
    }


def machine_id(info: Mapping[str, Any] | None = None) -> str:
    """A stable id for "the same hardware": ``<system>-<arch>-<hash of cpu model and count>``.

    ``--rl-machine-id`` (``RLPLAYTEST_MACHINE_ID``, ini ``rl_machine_id``) overrides it, e.g. to
    name a CI runner class whose machines differ in ways that do not matter.
    """
    override = (_config.current().machine_id or "").strip()
    if override:
        return re.sub(r"[^A-Za-z0-9_.\-]", "_", override)
    info = machine_info() if info is None else info
    digest = hashlib.sha1(f"{info.get('cpu')}|{info.get('cpu_count')}".encode()).hexdigest()[:8]
    return f"{info.get('system', 'unknown')}-{info.get('machine', 'unknown')}-{digest}".lower()


def is_machine_metric(name: str) -> bool:
    """True for metrics that measure time (kept per machine): ``frame_ms`` and ``*_ms``/``*_us``/
    ``*_seconds``."""
    return name.endswith(_TIMING_SUFFIXES)


# -- building a record -----------------------------------------------------------------------------
def _clean(value: float) -> float | None:
    value = float(value)
    return None if value != value or value in (float("inf"), float("-inf")) else value


def _summarise(values: np.ndarray, stats: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": int(values.size)}
    for stat in stats:
        out[stat] = _clean(metric_value(values, stat)) if values.size else None
    return out


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _success_record(result: PlaytestResult) -> dict[str, Any] | None:
    judged = len(result.judged)
    if not judged:
        return None
    low, high = success_interval(result.successes, judged)
    return {"successes": result.successes, "judged": judged, "rate": result.successes / judged,
            "ci_low": low, "ci_high": high, "ci_method": CI_METHOD}


def record_from_result(result: PlaytestResult) -> tuple[dict[str, Any], dict[str, Any]]:
    """The metrics of a playtest as stored: ``(shared_metrics, machine_metrics)``."""
    shared: dict[str, Any] = {"episodes": result.n_episodes, "success": _success_record(result)}
    for name, values in (("return", result.returns), ("length", result.lengths)):
        entry = _summarise(values, EPISODE_STATS)
        low, high = t_interval(values)
        entry.update(ci_low=_clean(low), ci_high=_clean(high), ci_method="student-t-95")
        shared[name] = entry
    steps: dict[str, Any] = {}
    timing: dict[str, Any] = {}
    for name in result.metric_names:
        values = result.step_values(name)
        if values.size == 0:
            continue
        (timing if is_machine_metric(name) else steps)[name] = _summarise(values, STEP_STATS)
    shared["steps"] = steps
    return shared, timing


# -- paths inside a baseline ------------------------------------------------------------------------
def _stored_path(absolute: Path, holder: Path) -> str:
    """How a baseline at ``holder`` records ``absolute``: relative to itself (``./x`` in its own
    folder) when the path is in the project (under the rootdir), else the bare file name (a system
    binary such as ``/usr/bin/godot3-server``: where another machine keeps it is not the build)."""
    rootdir = _config.current().rootdir
    if rootdir is not None and not absolute.resolve().is_relative_to(Path(rootdir).resolve()):
        return absolute.name
    relative = relative_to_file(absolute, holder)
    if "/" in relative:
        return relative
    return "./" if relative == "." else f"./{relative}"  # a path, not a bare name


def store_paths(section: Mapping[str, Any], holder: Path, base: PathBase | None = None) -> dict[str, Any]:
    """``section`` with its :data:`PATH_KEYS` values as a baseline file ``holder`` stores them.

    Absolute values are made relative to ``holder`` (see :func:`_stored_path`); relative ones (a
    marker's ``model=``) are first resolved against ``base`` (the marker's folder), and kept as they
    are when no base is known.
    """
    out = dict(section)
    for key in PATH_KEYS:
        value = out.get(key)
        if not isinstance(value, str) or not value:
            continue
        if os.path.isabs(value) or base is not None:
            out[key] = _stored_path(base.resolve(value) if base is not None else Path(value), holder)
    return out


def resolve_paths(section: Mapping[str, Any], base: PathBase) -> dict[str, Any]:
    """``section`` with its :data:`PATH_KEYS` paths resolved against ``base`` (for a stored section,
    ``PathBase.content(baseline_file)``); a bare name (a system binary) stays as it is."""
    return {k: str(base.resolve(v)) if k in PATH_KEYS and isinstance(v, str) and ("/" in v or os.sep in v) else v
            for k, v in section.items()}


# -- reading ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Baseline:
    """A loaded baseline file."""

    path: Path
    data: Mapping[str, Any]

    @property
    def nodeid(self) -> str | None:
        """The test that wrote it."""
        return self.data.get("nodeid")

    @property
    def metrics(self) -> Mapping[str, Any]:
        """Machine-independent metrics."""
        return self.data.get("metrics") or {}

    @property
    def scenario(self) -> dict[str, Any]:
        """The stored scenario description, its paths resolved against the baseline's folder."""
        return resolve_paths(self.data.get("scenario") or {}, PathBase.content(self.path))

    @property
    def engine(self) -> dict[str, Any]:
        """The stored game build identity, its paths resolved against the baseline's folder."""
        return resolve_paths(self.data.get("engine") or {}, PathBase.content(self.path))

    @property
    def success_counts(self) -> tuple[int, int] | None:
        """``(successes, judged episodes)``, or None when the test had no success rule."""
        entry = self.metrics.get("success")
        if not entry:
            return None
        return int(entry["successes"]), int(entry["judged"])

    @property
    def machines(self) -> Mapping[str, Any]:
        """Per-machine entries by machine id."""
        return self.data.get("machines") or {}

    def metric_entry(self, metric: str, machine: str | None = None) -> Mapping[str, Any] | None:
        """The stored statistics of ``metric`` (per-machine for timing metrics), or None."""
        if metric in ("return", "length"):
            return self.metrics.get(metric)
        if is_machine_metric(metric):
            entry = self.machines.get(machine or machine_id())
            return None if entry is None else (entry.get("metrics") or {}).get(metric)
        return (self.metrics.get("steps") or {}).get(metric)


def _regenerate_hint(path: Path, nodeid: str | None) -> str:
    return (f"delete {path} and regenerate it with `{update_command(nodeid)}` "
            "(or run the whole suite with --rl-update-baselines)")


def load_baseline(path: Path | str, nodeid: str | None = None) -> Baseline | None:
    """Read and validate a baseline file; None when it does not exist.

    Raises:
        BaselineError: malformed JSON, not a baseline, or an unknown/older schema — naming the
            file and how to regenerate it.
    """
    path = Path(path)
    if not path.exists():
        return None
    hint = _regenerate_hint(path, nodeid)
    data = load_versioned(path, kind="baseline", current=SCHEMA_VERSION, error=BaselineError, fix=hint)
    metrics = data.get("metrics")
    if not isinstance(metrics, dict) or not isinstance(data.get("machines", {}), dict):
        raise BaselineError(f"baseline {path} is missing its metrics section; {hint}")
    success = metrics.get("success")
    if success is not None and not (isinstance(success, dict) and {"successes", "judged"} <= set(success)):
        raise BaselineError(f"baseline {path} has a malformed success entry; {hint}")
    return Baseline(path=path, data=data)


# -- writing ----------------------------------------------------------------------------------------
def write_baseline(path: Path | str, result: PlaytestResult, *, nodeid: str | None = None,
                   scenario: Mapping[str, Any] | None = None, machine: str | None = None,
                   paths: PathBase | None = None) -> Path:
    """Create or refresh the baseline at ``path`` from ``result``.

    Machine-independent metrics, the scenario and the engine identity are replaced; this machine's
    timing metrics are replaced (dropped when this run measured none) and other machines' entries are
    kept. A malformed or old-schema file is replaced outright (that is what regenerating means).
    Paths are stored relative to ``path``; ``paths`` is the base of relative paths in the scenario
    description (the test file's folder).
    """
    path = Path(path)
    shared, timing = record_from_result(result)
    info = machine_info()
    mid = machine or machine_id(info)
    with folder_lock(path.parent):
        try:
            previous = load_baseline(path)
        except BaselineError:
            previous = None
        machines: dict[str, Any] = dict(previous.machines) if previous else {}
        machines.pop(mid, None)
        if timing:
            machines[mid] = {"info": info, "updated": _now(), "metrics": timing}
        atomic_write_json(path, {
            "schema_version": SCHEMA_VERSION,
            "plugin_version": plugin_version(),
            "nodeid": nodeid or (previous.nodeid if previous else None),
            "created": (previous.data.get("created") if previous else None) or _now(),
            "updated": _now(),
            "scenario": store_paths(scenario if scenario is not None else (result.scenario or {}), path, paths),
            "engine": store_paths(result.engine or {}, path),
            "recorded_on": mid,
            "metrics": shared,
            "machines": machines,
        })
    return path


# -- listing ----------------------------------------------------------------------------------------
def list_baselines(baselines_dir: Path | str) -> list[Path]:
    """Every stored baseline file under ``baselines_dir`` (temp and lock files excluded), sorted."""
    root = Path(baselines_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.json") if p.is_file() and not p.name.startswith("."))


def _test_file_of(path: Path, baselines_dir: Path) -> Path:
    return path.resolve().parent.relative_to(baselines_dir.resolve())


def unused_baselines(baselines_dir: Path | str, used: Iterable[Path | str], *, rootdir: Path | str | None = None,
                     scope: Iterable[Path | str] | None = None) -> list[Path]:
    """Stored baselines that no selected test used (they are listed, never deleted).

    Args:
        baselines_dir: the baselines folder.
        used: baseline paths of the selected tests (e.g. :func:`baseline_path` of every selected
            item that requests the ``rl_baseline`` fixture).
        rootdir: when given, baselines whose test file no longer exists under rootdir are always
            reported (no test can use them).
        scope: when given, only baselines of these test files (paths relative to rootdir, or
            absolute under it) are considered besides the orphans — pass the files of the selected
            tests so that running a subset (``-k``) does not report the rest of the suite.
    """
    root = Path(baselines_dir)
    used_set = {Path(p).resolve() for p in used}
    scope_set: set[Path] | None = None
    if scope is not None:
        base = Path(rootdir).resolve() if rootdir is not None else None
        scope_set = set()
        for item in scope:
            p = Path(item)
            if p.is_absolute() and base is not None:
                with contextlib.suppress(ValueError):
                    p = p.resolve().relative_to(base)
            scope_set.add(p)
    out = []
    for path in list_baselines(root):
        if path.resolve() in used_set:
            continue
        test_file = _test_file_of(path, root)
        orphan = rootdir is not None and not (Path(rootdir) / test_file).exists()
        if orphan or scope_set is None or test_file in scope_set:
            out.append(path)
    return out
