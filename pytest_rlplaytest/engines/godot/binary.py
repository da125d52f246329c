"""Finding the Godot binary and building its command line.

Where the binary comes from, first match wins: ``--godot-bin`` / ini ``godot_bin`` / env ``GODOT_BIN``
(all resolved into ``Settings.godot_bin``), else the first of ``godot``, ``godot4``,
``godot3-server``, ``godot3`` on ``PATH``. The major version is read from ``<bin> --version``
(``3.2.3.stable...`` / ``4.2.1.stable...``): Godot 4 gets ``--headless``; ``godot3-server`` is headless
already.

A game is either a project folder (with ``project.godot``; run as ``<bin> --path DIR [scene]``) or an
exported game binary (run directly; it *is* the engine).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ...common.paths import PathBase
from ..base import EngineUnavailable

#: names tried on PATH, in order
PATH_CANDIDATES = ("godot", "godot4", "godot3-server", "godot3")
INSTALL_HINT = (
    "Install Godot (Debian/Ubuntu: `apt-get install godot3-server`), or point --godot-bin / "
    "GODOT_BIN / ini godot_bin at a Godot binary."
)


@dataclass(frozen=True)
class GodotBinary:
    """A Godot executable and what we know about it."""

    path: str
    version: str
    major: int
    #: True for godot3-server builds (no display, no --headless flag)
    server_build: bool

    def headless_args(self) -> list[str]:
        """The flags that make this binary run without a window."""
        if self.major >= 4:
            return ["--headless"]
        return []


def version_tuple(version: str) -> tuple[int, int, int]:
    """``"4.2.1.stable.official"`` -> ``(4, 2, 1)``; ``"4.3.stable"`` -> ``(4, 3, 0)``."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    if not match:
        return (0, 0, 0)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def _parse_version(text: str) -> tuple[str, int]:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?[^\s]*", text)
    if not match:
        raise ValueError(text)
    return match.group(0), int(match.group(1))


@functools.lru_cache(maxsize=16)
def probe_version(path: str, timeout: float = 20.0) -> tuple[str, int]:
    """Run ``<path> --version`` and return ``(version string, major)``.

    Raises:
        EngineUnavailable: when the binary does not run or prints no version.
    """
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineUnavailable(f"the Godot binary {path} does not run ({exc}).", INSTALL_HINT) from None
    for line in (out.stdout + "\n" + out.stderr).splitlines():
        line = line.strip()
        if re.match(r"^\d+\.\d+", line):
            return _parse_version(line)
    raise EngineUnavailable(
        f"`{path} --version` printed no version (exit {out.returncode}); is it a Godot binary?", INSTALL_HINT
    )


def find_godot(configured: str | None = None) -> GodotBinary:
    """Locate the Godot binary.

    Args:
        configured: the ``godot_bin`` setting (``--godot-bin``, ``GODOT_BIN`` or ini), if any.

    Raises:
        EngineUnavailable: no binary found (hint: ``apt-get install godot3-server``).
    """
    if configured:
        path = shutil.which(configured) or (configured if os.access(configured, os.X_OK) else None)
        if path is None:
            raise EngineUnavailable(f"the configured Godot binary {configured!r} does not exist or is not "
                                    "executable.", INSTALL_HINT)
    else:
        path = next((p for p in map(shutil.which, PATH_CANDIDATES) if p), None)
        if path is None:
            raise EngineUnavailable(f"no Godot binary on PATH (tried {', '.join(PATH_CANDIDATES)}).",
                                    INSTALL_HINT)
    version, major = probe_version(path)
    return GodotBinary(path=path, version=version, major=major, server_build="server" in Path(path).name)


@dataclass(frozen=True)
class GameLocation:
    """Where a game lives: a project folder, or an exported executable."""

    path: Path
    exported: bool

    @property
    def project_dir(self) -> Path | None:
        """The project folder (None for an exported binary)."""
        return None if self.exported else self.path


def locate_game(target: str | os.PathLike[str], base: PathBase) -> GameLocation:
    """Resolve ``target`` (a relative path against ``base``, see the path rule in
    :mod:`pytest_rlplaytest.common.paths`) to a project folder or an exported binary.

    Raises:
        EngineError: the path does not exist, or is a folder without ``project.godot``.
    """
    from ..base import EngineError

    path = base.resolve(target)
    if path.is_file() and path.name == "project.godot":
        path = path.parent
    if path.is_dir():
        if not (path / "project.godot").is_file():
            raise EngineError(f"{path} is a folder without project.godot; env='godot:<path>' must name a Godot "
                              "project folder or an exported game binary")
        return GameLocation(path=path, exported=False)
    if path.is_file():
        if not os.access(path, os.X_OK):
            raise EngineError(f"the exported game {path} is not executable (chmod +x it)")
        return GameLocation(path=path, exported=True)
    raise EngineError(f"the Godot game {base.describe(target)} does not exist")


def build_command(
    binary: GodotBinary | None,
    game: GameLocation,
    *,
    port: int,
    seed: int,
    scene: str | None = None,
    speedup: float | None = None,
    action_repeat: int | None = None,
    fixed_fps: int | None = 60,
    agents: int | None = None,
    extra: list[str] | None = None,
) -> list[str]:
    """The full command line that launches ``game`` wired to ``port``.

    Args:
        binary: the Godot binary (ignored, may be None, for an exported game).
        game: the project folder or exported binary.
        port: the driver's listening port (``--port=``).
        seed: ``--env_seed=``.
        scene: a scene to run instead of the project's main scene (``res://...tscn``).
        speedup, action_repeat: passed as ``--speedup=`` / ``--action_repeat=`` when given.
        fixed_fps: ``--fixed-fps N`` (lockstep physics, independent of the wall clock); None: omit.
        agents: ``--agents=N`` for games that let the driver choose the agents per instance (scenes
            built with our addon read it; the official plugin never does).
        extra: further arguments, appended verbatim.
    """
    if game.exported:
        cmd = [str(game.path)]
        if binary is not None and binary.major >= 4:
            cmd += binary.headless_args()
    else:
        if binary is None:
            raise ValueError("a Godot binary is needed to run a project folder")
        cmd = [binary.path, *binary.headless_args(), "--path", str(game.path)]
    if fixed_fps:
        cmd += ["--fixed-fps", str(int(fixed_fps))]
    if scene:
        cmd.append(scene)
    cmd += [f"--port={port}", f"--env_seed={seed}"]
    if speedup is not None:
        cmd.append(f"--speedup={speedup:g}")
    if action_repeat is not None:
        cmd.append(f"--action_repeat={int(action_repeat)}")
    if agents is not None:
        cmd.append(f"--agents={int(agents)}")
    cmd += list(extra or [])
    return cmd
