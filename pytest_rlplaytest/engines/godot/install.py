"""``rlplaytest install-godot-addon PROJECT``: install or update the GDScript addon in a Godot project.

One rule for the command and the library (:func:`install_godot_addon`):

* a missing addon (or a missing file of it) is installed;
* a file that holds a version of the addon some release of this package shipped (its sha256 is in
  :data:`SHIPPED_DIGESTS`) is an out-of-date copy of our own file: it is updated without asking,
  and a file an older release shipped but this one no longer does is removed;
* a file whose content no release shipped was changed in the project: nothing is written and
  :class:`AddonConflict` names the files; ``--force`` (``force=True``) replaces them;
* files in the folder that are not the addon's (added by the project) are left alone.

So ``rlplaytest install-godot-addon PROJECT`` is the fix for an out-of-date copy, and never
overwrites a local change silently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ...common.files import atomic_write_bytes
from ...errors import RLPlaytestError

__all__ = ["ADDON_SOURCE", "SHIPPED_DIGESTS", "AddonConflict", "AddonPlan", "install_godot_addon",
           "plan_addon_install"]

#: the addon shipped as package data
ADDON_SOURCE = Path(__file__).resolve().parent / "addon"

#: sha256 of every version of every addon file a release shipped, by path inside the addon. When an
#: addon file changes, add the new digest here (``tests/plugin/test_cli.py`` checks the current
#: files are listed, and prints the line to add).
SHIPPED_DIGESTS: dict[str, frozenset[str]] = {
    "agent_controller.gd": frozenset({
        "781982e62268dcf71bcb881559eb1bb98284c81bd776a7c9b574a41147d9044c",
        "85c906845f8073a1388f2a957cabc3542f74d249373cf23eeaa6166bd4217bb3",
    }),
    "args.gd": frozenset({
        "993424056bb357e7fec868fbcc254cdba5b1be2c46c8fa54bd255ad5c6166801",
    }),
    "sync.gd": frozenset({
        "b47566c6a40e0adc239037be8347111fedef757667849dd5a9aac83651f2737f",
        "e6a89fc2575c810f659ed0ee3f9b3255e80bae2e2b1501b21bb74dd1a378ac6c",
        "09b05aadfa35b0910299458a6f0350973a1ec24d30591402f46264cdd34d0678",
        "31d2c0b494d4c687b92dfad3d849770ea9ceb77859e6ff61a7eb7073ea43b536",
        "6daa5407a67df3b51b555709ffe4490089207dfa03c2a4de7f27d2e6930cd368",
        "cf7a964044d483835ba8e484d675f15b9b232ed31d58321e432be1c123d9b5d9",
    }),
    "telemetry.gd": frozenset({
        "1592f8cca16d3ff9687efa7ce4b820bf790e1654e09f9df816c4b87b6d5c369d",
        "d002bf6fabd1981eb608d0c80078de5317e7b236697a5b72f8abd390afee99ef",
    }),
}


class AddonConflict(RLPlaytestError, FileExistsError):
    """The installed addon has files changed in the project; ``files`` names them."""

    def __init__(self, message: str, files: tuple[str, ...]) -> None:
        super().__init__(message)
        self.files = files


def sha256_of(path: Path) -> str:
    """The sha256 hex digest of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def packaged_files() -> dict[str, Path]:
    """The addon's files as shipped: path inside the addon (POSIX) -> source file."""
    return {p.relative_to(ADDON_SOURCE).as_posix(): p for p in sorted(ADDON_SOURCE.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


@dataclass(frozen=True)
class AddonPlan:
    """What installing the addon into a project would do, file by file (paths inside the addon).

    Attributes:
        dest: ``PROJECT/addons/rlplaytest``.
        add: packaged files the project lacks.
        update: out-of-date copies of our own files (a shipped digest), replaced without asking.
        remove: files an older release shipped that this one no longer does.
        changed: files whose content no release shipped (changed in the project): only ``force``
            replaces them.
        foreign: files that are not the addon's; always left alone.
    """

    dest: Path
    add: tuple[str, ...] = ()
    update: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    foreign: tuple[str, ...] = field(default=())

    @property
    def up_to_date(self) -> bool:
        """True when the installed addon already is the packaged one."""
        return not (self.add or self.update or self.remove or self.changed)

    def apply(self, *, force: bool = False) -> None:
        """Write the plan; raise :class:`AddonConflict` (writing nothing) when files were changed in
        the project and ``force`` is False."""
        if self.changed and not force:
            project = self.dest.parent.parent
            raise AddonConflict(
                f"{self.dest} has files changed in this project: {', '.join(self.changed)} (their content "
                "matches no released version of the addon); nothing was written. To replace them with the "
                f"packaged addon: rlplaytest install-godot-addon {project} --force", self.changed)
        sources = packaged_files()
        for name in (*self.add, *self.update, *self.changed):
            atomic_write_bytes(self.dest / name, sources[name].read_bytes())
        for name in self.remove:
            (self.dest / name).unlink()


def plan_addon_install(project_dir: str | Path) -> AddonPlan:
    """Compare the project's ``addons/rlplaytest`` with the packaged addon (writes nothing).

    Raises:
        FileNotFoundError: ``project_dir`` has no ``project.godot``.
    """
    project = Path(project_dir).expanduser().resolve()
    if not (project / "project.godot").is_file():
        raise FileNotFoundError(f"{project} has no project.godot; pass the folder of a Godot project")
    dest = project / "addons" / "rlplaytest"
    sources = packaged_files()
    installed = {p.relative_to(dest).as_posix(): p for p in sorted(dest.rglob("*"))
                 if p.is_file()} if dest.is_dir() else {}
    add: list[str] = []
    update: list[str] = []
    changed: list[str] = []
    remove: list[str] = []
    foreign: list[str] = []
    for name, source in sources.items():
        if name not in installed:
            add.append(name)
            continue
        digest = sha256_of(installed[name])
        if digest != sha256_of(source):
            (update if digest in SHIPPED_DIGESTS.get(name, ()) else changed).append(name)
    for name, path in installed.items():
        if name not in sources:
            (remove if sha256_of(path) in SHIPPED_DIGESTS.get(name, ()) else foreign).append(name)
    return AddonPlan(dest, tuple(add), tuple(update), tuple(remove), tuple(changed), tuple(foreign))


def install_godot_addon(project_dir: str | Path, force: bool = False) -> Path:
    """Install or update the addon in ``PROJECT/addons/rlplaytest/`` and return that folder.

    Out-of-date copies of the addon's own files are updated; files changed in the project are
    replaced only with ``force`` (see the module docs).

    Raises:
        FileNotFoundError: ``project_dir`` has no ``project.godot``.
        AddonConflict: files were changed in the project and ``force`` is False (nothing written).
    """
    plan = plan_addon_install(project_dir)
    plan.apply(force=force)
    return plan.dest
