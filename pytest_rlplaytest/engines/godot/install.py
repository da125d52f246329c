"""``rlplaytest install-godot-addon PROJECT``: copy the GDScript addon into a Godot project."""

from __future__ import annotations

import shutil
from pathlib import Path

#: the addon shipped as package data
ADDON_SOURCE = Path(__file__).resolve().parent / "addon"


def install_godot_addon(project_dir: str | Path, force: bool = True) -> Path:
    """Copy the addon into ``PROJECT/addons/rlplaytest/`` and return that folder.

    An existing copy is replaced (``force=True``) so the addon matches the installed plugin.

    Raises:
        FileNotFoundError: ``project_dir`` has no ``project.godot``.
        FileExistsError: the addon is present and ``force`` is False.
    """
    project = Path(project_dir).expanduser().resolve()
    if not (project / "project.godot").is_file():
        raise FileNotFoundError(f"{project} has no project.godot; pass the folder of a Godot project")
    dest = project / "addons" / "rlplaytest"
    if dest.exists():
        if not force:
            raise FileExistsError(f"{dest} exists; pass force=True to replace it")
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ADDON_SOURCE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest
