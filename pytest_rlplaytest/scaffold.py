"""``rlplaytest init``: scaffold playtests and CI workflows into a Godot game project.

Writes, relative to the project folder (the one holding ``project.godot``):

* ``conftest.py``: keeps pytest out of Godot's own folders;
* ``tests/test_rlplaytest_<scene>.py``: one example scenario test of a scene holding a Sync node
  (the official Godot RL Agents plugin's or our addon's, see
  :func:`~.engines.godot.scenefile.sync_node_properties`), a CI smoke test and a nightly
  ``long_training`` one;
* ``pytest.ini``: the entries the tests need, merged into an existing file line by line (its other
  lines and comments stay; a key set to another value needs ``--force``);
* ``.github/workflows/rlplaytest-ci.yml`` and ``rlplaytest-nightly.yml`` at the git repository's
  root (the project folder when it is not in one), running in the project's folder.

The workflows install a pinned headless Godot: for Godot 4 the official release zip, checked
against its SHA-512 from the release's ``SHA512-SUMS.txt`` with ``sha512sum -c``, then
``godot --headless --import`` (the command :mod:`~.engines.godot.importer` uses from 4.2.2); for
Godot 3 Debian/Ubuntu's ``godot3-server`` and an editor import (``--editor --quit``). Every file is
written atomically; an existing file that would change needs ``--force``.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass, field
from pathlib import Path

from .common.files import atomic_write_text
from .engines.godot.scenefile import SYNC_SCRIPT_SUFFIXES, sync_node_properties, sync_scenes
from .errors import RLPlaytestError

__all__ = ["GODOT4", "Godot4Release", "ScaffoldError", "ScaffoldPlan", "detect_scenes", "plan_init"]

#: pytest.ini entries the generated tests need
INI_ENTRIES = {"testpaths": "tests", "rl_artifacts": ".rlplaytest"}
CI_TIMESTEPS = 1000


@dataclass(frozen=True)
class Godot4Release:
    """A pinned official Godot 4 release for the workflows."""

    version: str
    sha512: str

    @property
    def archive(self) -> str:
        """The Linux x86_64 editor zip's name."""
        return f"Godot_v{self.version}-stable_linux.x86_64.zip"

    @property
    def binary(self) -> str:
        """The executable inside the zip."""
        return self.archive[: -len(".zip")]

    @property
    def url(self) -> str:
        """The zip's download address on the official GitHub release."""
        return f"https://github.com/godotengine/godot/releases/download/{self.version}-stable/{self.archive}"


#: Godot 4.4.1-stable (>= 4.2.2: has --import); SHA-512 from that release's SHA512-SUMS.txt
GODOT4 = Godot4Release("4.4.1", "ef4e76880a514257175544952c61191106fdef3095b909bafed9fcbeb230c3e5"
                                "533920a0f3012882dd4bbde83028a67549825794e2d2c3cf76eba7918b71370e")


class ScaffoldError(RLPlaytestError):
    """``rlplaytest init`` cannot go ahead (the message names the fix)."""


@dataclass
class ScaffoldPlan:
    """The files ``rlplaytest init`` writes: path -> new text, and which existing ones differ."""

    project: Path
    files: dict[Path, str] = field(default_factory=dict)
    conflicts: list[Path] = field(default_factory=list)

    def apply(self, force: bool = False) -> list[Path]:
        """Write the files (atomically); returns those written (unchanged ones are skipped).

        Raises:
            ScaffoldError: a file exists with other content and ``force`` is false.
        """
        if self.conflicts and not force:
            names = ", ".join(str(p) for p in self.conflicts)
            raise ScaffoldError(f"{names} already exist(s) with other content; pass --force to overwrite")
        written = []
        for path, text in self.files.items():
            if path.is_file() and path.read_text(encoding="utf-8") == text:
                continue
            written.append(atomic_write_text(path, text))
        return written


def scene_has_sync(project: Path, scene: str) -> bool:
    """True when the scene file holds a Sync node of the official plugin or of our addon."""
    return sync_node_properties(project, scene, scripts=SYNC_SCRIPT_SUFFIXES) is not None


def detect_scenes(project: Path) -> list[str]:
    """The project's scenes holding a Sync node (``res://`` paths; the main scene first, then sorted)."""
    return sync_scenes(project)


def godot_major(project: Path) -> int:
    """3 or 4, from ``project.godot``'s ``config_version`` (4: Godot 3, 5: Godot 4)."""
    text = (project / "project.godot").read_text(encoding="utf-8", errors="replace")
    m = re.search(r"^config_version\s*=\s*(\d+)", text, re.MULTILINE)
    return 4 if m and int(m.group(1)) >= 5 else 3


def git_root(project: Path) -> Path:
    """The git repository holding ``project`` (the project itself when it is in none)."""
    for folder in (project, *project.parents):
        if (folder / ".git").exists():
            return folder
    return project


def _choose_scene(project: Path, scene: str | None) -> str:
    if scene is not None:
        if not scene.startswith("res://") or not (project / scene[len("res://"):]).is_file():
            raise ScaffoldError(f"--scene {scene}: no such scene file in {project} (give a res:// path)")
        if not scene_has_sync(project, scene):
            raise ScaffoldError(f"--scene {scene} holds no Sync node (of godot_rl_agents or addons/rlplaytest); "
                                "add one, or pick another scene")
        return scene
    scenes = detect_scenes(project)
    if not scenes:
        raise ScaffoldError(f"no scene in {project} holds a Sync node (godot_rl_agents/sync.gd or "
                            "addons/rlplaytest/sync.gd); add one (rlplaytest install-godot-addon) or pass --scene")
    return scenes[0]


def plan_init(project: Path, scene: str | None = None, godot: int | None = None,
              agent_cache: str | None = None) -> ScaffoldPlan:
    """Everything ``rlplaytest init`` would write into ``project`` (nothing is written yet).

    Raises:
        ScaffoldError: not a Godot project, no scene with a Sync node, a bad ``--scene``.
    """
    from . import workflows

    project = project.resolve()
    if not (project / "project.godot").is_file():
        raise ScaffoldError(f"{project} holds no project.godot; pass the Godot project's folder")
    chosen = _choose_scene(project, scene)
    major = godot or godot_major(project)
    plan = ScaffoldPlan(project)
    stem = re.sub(r"\W+", "_", Path(chosen).stem).strip("_").lower() or "scene"
    texts = {
        project / "conftest.py": conftest_text(),
        project / "tests" / f"test_rlplaytest_{stem}.py": scenario_test_text(chosen, stem),
    }
    ini_path = project / "pytest.ini"
    old_ini = ini_path.read_text(encoding="utf-8") if ini_path.is_file() else None
    if old_ini is None:
        _refuse_other_ini(project)
    texts[ini_path] = merge_ini(old_ini, INI_ENTRIES)
    root = git_root(project)
    rel = project.relative_to(root).as_posix() or "."
    wf = root / ".github" / "workflows"
    texts[wf / "rlplaytest-ci.yml"] = workflows.ci_workflow(rel, major)
    texts[wf / "rlplaytest-nightly.yml"] = workflows.nightly_workflow(rel, major, agent_cache)
    for path, text in texts.items():
        plan.files[path] = text
        if path.is_file() and path.read_text(encoding="utf-8") != text and path != ini_path:
            plan.conflicts.append(path)
    if old_ini is not None and _ini_conflicts(old_ini, INI_ENTRIES):
        plan.conflicts.append(ini_path)
    return plan


def _refuse_other_ini(project: Path) -> None:
    """A new pytest.ini would make pytest ignore the settings in the project's other ini file."""
    from .cli import INI_FILES, read_ini

    if read_ini(project):
        other = next(name for name, _ in INI_FILES if (project / name).is_file())
        raise ScaffoldError(f"the project's pytest settings are in {other}; a new pytest.ini would hide them from "
                            f"pytest: move them into pytest.ini, or add {', '.join(INI_ENTRIES)} to {other} yourself")


def conftest_text() -> str:
    """The generated ``conftest.py``."""
    return '''"""pytest configuration of this game's playtests (generated by ``rlplaytest init``).

The pytest-rlplaytest plugin loads itself; this file keeps pytest out of Godot's own folders.
"""

collect_ignore_glob = [".godot/*", ".import/*", "addons/*"]
'''


def scenario_test_text(scene: str, stem: str) -> str:
    """The generated example scenario test of ``scene``."""
    return f'''"""Playtests of {scene} (generated by ``rlplaytest init``; edit freely).

* ``test_{stem}_pipeline`` (CI, ``pytest --rl-timesteps={CI_TIMESTEPS}``): trains a PPO agent for
  the budget and checks the pipeline (episodes played, timesteps spent), not the agent's quality.
* ``test_{stem}_learns`` (nightly, ``pytest -m long_training``): trains for longer and must reach a
  success rate of at least 0.8 (the game reports ``info["is_success"]``), judged with a
  Clopper-Pearson interval.
"""

from __future__ import annotations

import pytest

from pytest_rlplaytest import assert_success_rate

GAME = dict(env="godot:..", scene="{scene}")


@pytest.mark.rl_scenario(**GAME, algo="PPO", timesteps=20_000, episodes=4)
def test_{stem}_pipeline(rl_playtest):
    result = rl_playtest()
    assert result.timesteps > 0
    assert result.n_episodes == 4


@pytest.mark.long_training
@pytest.mark.rl_scenario(**GAME, algo="PPO", timesteps=300_000, episodes=100)
def test_{stem}_learns(rl_playtest):
    result = rl_playtest()
    assert_success_rate(result, at_least=0.8)
'''


def _ini_keys(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise ScaffoldError(f"the existing pytest.ini does not parse ({exc}); fix it first") from None
    return dict(parser.items("pytest")) if parser.has_section("pytest") else {}


def _ini_conflicts(text: str, entries: dict[str, str]) -> list[str]:
    have = _ini_keys(text)
    return [k for k, v in entries.items() if k in have and have[k].strip() != v]


def merge_ini(text: str | None, entries: dict[str, str]) -> str:
    """``text`` (an existing pytest.ini, or None) with ``entries`` set in its ``[pytest]`` section.

    Every other line stays as written; a missing key is added after the section header; a key with
    another value has its (possibly multi-line) value replaced.
    """
    if text is None:
        body = "".join(f"{k} = {v}\n" for k, v in entries.items())
        return f"# pytest-rlplaytest playtests (written by rlplaytest init)\n[pytest]\n{body}"
    have = _ini_keys(text)
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "[pytest]"), None)
    if start is None:
        lines += ["", "[pytest]"]
        start = len(lines) - 1
    at = start + 1
    for key, value in entries.items():
        if key not in have:
            lines.insert(at, f"{key} = {value}")
            at += 1
        elif have[key].strip() != value:
            _replace_value(lines, start, key, value)
    return "\n".join(lines) + "\n"


def _replace_value(lines: list[str], start: int, key: str, value: str) -> None:
    pattern = re.compile(rf"^{re.escape(key)}\s*[=:]", re.IGNORECASE)
    i = next(i for i in range(start + 1, len(lines)) if pattern.match(lines[i]))
    end = i + 1
    while end < len(lines) and lines[end][:1] in (" ", "\t") and lines[end].strip():
        end += 1
    lines[i:end] = [f"{key} = {value}"]
