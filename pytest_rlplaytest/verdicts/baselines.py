"""Stored baselines: one versioned JSON file per test.

Layout: ``<baselines_dir>/<test file path relative to rootdir>/<sanitised test name>.json``, e.g.
``baselines/tests/test_lander.py/test_lands[easy].json`` -> ``.../test_lands_easy_-1a2b3c.json``.

A file records (schema version :data:`SCHEMA_VERSION`):

* ``plugin_version``, ``nodeid``, ``created``/``updated`` timestamps;
* ``scenario``: the scenario description (env, algo, budget, episodes, seeds...);
* ``engine``: the game build identity when the engine reports one (``PlaytestResult.engine``);
* ``metrics``: machine-independent results — success counts with an exact interval, episode
  ``return``/``length`` statistics, and per-step metrics that do not measure time;
* ``machines``: per machine id (see :func:`machine_id`), that machine's description (platform,
  cpu, python and package versions, like pytest-benchmark's ``machine_info``) and its timing
  metrics (``frame_ms`` and any other ``*_ms``/``*_us``/``*_seconds`` metric), because frame
  times only compare on the same hardware.

Nothing is written unless the caller asks (``--rl-update-baselines``). Writes are atomic (a temp
file in the same folder, then ``os.replace``) and the read-merge-write of an update runs under an
advisory lock on the folder, so parallel workers (``pytest -n``) and machines sharing the folder never
leave a torn or half-merged file.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import BaselineError
from .stats import clopper_pearson_interval, t_interval
from .tolerances import metric_value

if TYPE_CHECKING:
    from ..playtest import PlaytestResult

__all__ = [
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
    "sanitize_test_name",
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


# -- naming -----------------------------------------------------------------------------------------
def sanitize_test_name(name: str, max_length: int = 120) -> str:
    """A file-name-safe form of a test name (the node id after the file, e.g. ``Cls::test[a/b]``).

    ``::`` becomes ``.``, characters other than letters, digits, ``_ . -`` become ``_``. When this
    loses information (so two names could collide, e.g. ``[a/b]`` and ``[a_b]``) or the name is too
    long, a short hash of the original name is appended.
    """
    dotted = name.replace("::", ".")
    safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", dotted).strip(".") or "_"
    lossy = safe != dotted or len(safe) > max_length
    if lossy:
        digest = hashlib.sha1(name.encode()).hexdigest()[:6]
        safe = f"{safe[: max_length - 7]}-{digest}"
    return safe


def baseline_path(baselines_dir: Path, rootdir: Path, test_file: Path, nodeid: str) -> Path:
    """Where the baseline of the test ``nodeid`` (defined in ``test_file``) is stored.

    ``<baselines_dir>/<test_file relative to rootdir>/<sanitised test name>.json``. A test file
    outside rootdir is keyed by its name only.
    """
    test_file = Path(test_file)
    try:
        relative = test_file.resolve().relative_to(Path(rootdir).resolve())
    except ValueError:
        relative = Path(test_file.name)
    name = nodeid.split("::", 1)[1] if "::" in nodeid else nodeid
    return Path(baselines_dir) / relative / f"{sanitize_test_name(name)}.json"


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
    from . import config as _config

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


def record_from_result(result: PlaytestResult) -> tuple[dict[str, Any], dict[str, Any]]:
    """The metrics of a playtest as stored: ``(shared_metrics, machine_metrics)``."""
    judged = len(result.judged)
    shared: dict[str, Any] = {"episodes": result.n_episodes}
    if judged:
        low, high = clopper_pearson_interval(result.successes, judged, 0.95)
        shared["success"] = {
            "successes": result.successes, "judged": judged, "rate": result.successes / judged,
            "ci_low": low, "ci_high": high, "ci_method": "clopper-pearson-95",
        }
    else:
        shared["success"] = None
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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"baseline {path} is not valid JSON ({exc}); "
                            f"{_regenerate_hint(path, nodeid)}") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise BaselineError(f"baseline {path} is not a pytest-rlplaytest baseline (no schema_version); "
                            f"{_regenerate_hint(path, nodeid)}")
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise BaselineError(f"baseline {path} has an invalid schema_version {version!r}; "
                            f"{_regenerate_hint(path, nodeid)}")
    if version < SCHEMA_VERSION:
        raise BaselineError(
            f"baseline {path} uses schema version {version}, older than the version {SCHEMA_VERSION} "
            f"this pytest-rlplaytest reads; {_regenerate_hint(path, nodeid or data.get('nodeid'))}"
        )
    if version > SCHEMA_VERSION:
        raise BaselineError(
            f"baseline {path} uses schema version {version}, written by a newer pytest-rlplaytest "
            f"({data.get('plugin_version', 'unknown')}) than this one ({plugin_version()}, schema "
            f"{SCHEMA_VERSION}); upgrade pytest-rlplaytest, or {_regenerate_hint(path, nodeid)}"
        )
    metrics = data.get("metrics")
    if not isinstance(metrics, dict) or not isinstance(data.get("machines", {}), dict):
        raise BaselineError(f"baseline {path} is missing its metrics section; {_regenerate_hint(path, nodeid)}")
    success = metrics.get("success")
    if success is not None and not (isinstance(success, dict) and {"successes", "judged"} <= set(success)):
        raise BaselineError(f"baseline {path} has a malformed success entry; {_regenerate_hint(path, nodeid)}")
    return Baseline(path=path, data=data)


# -- writing ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An advisory exclusive lock on ``folder`` itself (POSIX ``flock`` on the directory).

    Locking the directory leaves no lock files behind in a committed baselines folder. Where
    directories cannot be locked (Windows) this is a no-op; the atomic replace still guarantees
    that readers never see a torn file.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temp file in the same folder, fsync, ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_baseline(path: Path | str, result: PlaytestResult, *, nodeid: str | None = None,
                   scenario: Mapping[str, Any] | None = None, machine: str | None = None) -> Path:
    """Create or refresh the baseline at ``path`` from ``result``.

    Machine-independent metrics, the scenario and the engine identity are replaced; this machine's
    timing metrics are replaced and other machines' entries are kept. A malformed or old-schema
    file is replaced outright (that is what regenerating means).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shared, timing = record_from_result(result)
    info = machine_info()
    mid = machine or machine_id(info)
    with _folder_lock(path.parent):
        try:
            previous = load_baseline(path)
        except BaselineError:
            previous = None
        machines: dict[str, Any] = dict(previous.machines) if previous else {}
        if timing:
            machines[mid] = {"info": info, "updated": _now(), "metrics": timing}
        data = {
            "schema_version": SCHEMA_VERSION,
            "plugin_version": plugin_version(),
            "nodeid": nodeid or (previous.nodeid if previous else None),
            "created": (previous.data.get("created") if previous else None) or _now(),
            "updated": _now(),
            "scenario": dict(scenario if scenario is not None else (result.scenario or {})),
            "engine": dict(result.engine or {}),
            "recorded_on": mid,
            "metrics": shared,
            "machines": machines,
        }
        atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
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
