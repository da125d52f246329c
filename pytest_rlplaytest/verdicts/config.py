"""Session-wide defaults for verdicts, set by the plugin from its settings.

The assertion functions take explicit keyword arguments (``inconclusive=``...), and fall back to
these defaults when they are not given. The plugin calls :func:`configure` in ``pytest_configure``
and :func:`restore` with the returned token in ``pytest_unconfigure``. The values live in a
:class:`contextvars.ContextVar`, so nested pytest sessions (``pytester.runpytest`` in-process) see
their own settings and the outer session's come back when they end.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import VerdictUsageError

if TYPE_CHECKING:
    from ..settings import Settings

INCONCLUSIVE_CHOICES = ("fail", "skip", "pass")


@dataclass(frozen=True)
class VerdictConfig:
    """What the assertions do when not told otherwise.

    Attributes:
        inconclusive: what an inconclusive statistical verdict does: ``fail`` (default), ``skip``
            or ``pass`` (``--rl-inconclusive``).
        update_baselines: write baselines instead of comparing (``--rl-update-baselines``).
        baselines_dir: the folder of stored baselines (``--rl-baselines-dir``, resolved).
        rootdir: pytest's rootdir (baseline paths mirror test paths relative to it).
        machine_id: ``--rl-machine-id`` (None: derived from the hardware).
        ledger: the JSON-lines verdict ledger (``--rl-ledger``, default ``<artifacts>/ledger.jsonl``);
            None: no ledger (verdicts called outside the plugin).
    """

    inconclusive: str = "fail"
    update_baselines: bool = False
    baselines_dir: Path | None = None
    rootdir: Path | None = None
    #: ``--rl-machine-id``: the machine class frame-time baselines are kept under (None: derived)
    machine_id: str | None = None
    ledger: Path | None = None


_DEFAULT = VerdictConfig()
_CURRENT: contextvars.ContextVar[VerdictConfig | None] = contextvars.ContextVar(
    "pytest_rlplaytest_verdict_config", default=None
)


def current() -> VerdictConfig:
    """The defaults in force."""
    return _CURRENT.get() or _DEFAULT


def configure(settings: Settings | None = None, **overrides: Any) -> contextvars.Token[VerdictConfig | None]:
    """Install defaults from the plugin's ``Settings`` (and/or explicit overrides).

    Returns a token for :func:`restore`.
    """
    cfg = VerdictConfig()
    if settings is not None:
        cfg = VerdictConfig(
            inconclusive=settings.inconclusive,
            update_baselines=settings.update_baselines,
            baselines_dir=settings.baselines_dir,
            rootdir=settings.rootdir,
            machine_id=settings.machine_id,
            ledger=settings.ledger or settings.artifacts / "ledger.jsonl",
        )
    if overrides:
        cfg = replace(cfg, **overrides)
    if cfg.inconclusive not in INCONCLUSIVE_CHOICES:
        raise VerdictUsageError(f"inconclusive must be one of {', '.join(INCONCLUSIVE_CHOICES)}, "
                         f"got {cfg.inconclusive!r}")
    return _CURRENT.set(cfg)


def restore(token: contextvars.Token[VerdictConfig | None]) -> None:
    """Put back the defaults that were in force before :func:`configure` returned ``token``."""
    try:
        _CURRENT.reset(token)
    except ValueError:  # token from another context (e.g. a thread): fall back to the defaults
        _CURRENT.set(None)
