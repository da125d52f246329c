"""What travels to a Ray node, and the build-identity check every node makes.

The driver describes the engine it runs (scheme, target, marker options, seed, settings) in a
:class:`GameShipment`. The game itself reaches the node one of two ways:

* **packed** (the default): the Godot project folder, or the exported binary with its ``.pck``, is
  packed once per build into a tar archive and put in Ray's object store; each node unpacks it once
  into a content-addressed cache (``<tmp>/rlplaytest-ray/games/<sha256>``). (A Ray runtime
  environment's ``working_dir`` would do the same, but Ray accepts local folders there only for a
  whole job, not per actor, and one session plays several games.)
* **shared** (``--rl-ray-game-root DIR``): every node sees the rootdir's files under ``DIR`` (a
  shared filesystem, or the same checkout on every node); the node runs the game from there.

Gymnasium games travel as their id or factory: a factory defined in the test suite (not in an
installed package) is pickled by value, so the nodes need not import the tests.

On the node, the engine is built and started from the shipment, and its build identity
(``Engine.describe()`` restricted to ``IDENTITY_KEYS``, plus the pytest-rlplaytest version) is
compared with the driver's: a node that would run another build (a stale shared checkout, another
Godot version) refuses with both identities in the message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import socket
import sys
import sysconfig
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..engines.base import EngineError, identity_changes, identity_value

if TYPE_CHECKING:
    from ..engines.base import Engine
    from ..settings import Settings

#: folders never packed with a game (version control, caches of Python and of this plugin)
PACK_SKIP_DIRS = frozenset({".git", "__pycache__", ".rlplaytest", ".pytest_cache"})
#: the identity entry naming the plugin's version (nodes must run the same plugin)
PLUGIN_KEY = "rlplaytest"
#: engines whose games can run on Ray nodes
SUPPORTED_SCHEMES = ("gym", "godot")


class BuildMismatch(EngineError):
    """A node would run another build of the game (or of the plugin) than the driver."""


@dataclass(frozen=True)
class GamePackage:
    """A game packed for the nodes: ``ref`` is the object-store reference of a tar archive whose
    sha256 is ``key``; ``member`` is the game's path inside it."""

    ref: Any
    key: str
    member: str


@dataclass(frozen=True)
class GameShipment:
    """Everything a node needs to boot the driver's game (picklable)."""

    scheme: str
    target: Any
    options: Mapping[str, Any]
    seed: int
    settings: Settings
    nodeid: str
    identity: Mapping[str, Any]
    identity_keys: tuple[str, ...]
    package: GamePackage | None = None
    shared_path: str | None = None
    driver_node: str | None = None
    driver_artifacts: str = ""

    def replace(self, **changes: Any) -> GameShipment:
        """A copy with some fields changed (another seed, ...)."""
        return dataclasses.replace(self, **changes)


def build_identity(engine: Engine) -> dict[str, Any]:
    """The engine's build identity: its ``IDENTITY_KEYS`` entries of ``describe()`` (absent ones
    left out) and the plugin's version."""
    from .. import __version__

    description = engine.describe()
    identity = {key: identity_value(description, key) for key in type(engine).IDENTITY_KEYS}
    identity = {key: value for key, value in identity.items() if value is not None}
    identity[PLUGIN_KEY] = __version__
    return identity


def _plain(value: Any) -> Any:
    """Read-only mappings (the marker's frozen dicts) as plain dicts, so they pickle."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


_PACKAGES: dict[tuple[str, str], GamePackage] = {}


def pack_game(path: Path, build_key: str) -> GamePackage:
    """Pack the game at ``path`` (a project folder, or an exported binary and its ``.pck``) into the
    object store, once per ``(path, build_key)`` in this process."""
    cached = _PACKAGES.get((str(path), build_key))
    if cached is not None:
        return cached
    import ray

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if path.is_dir():
            tar.add(str(path), arcname=path.name, filter=_skip_caches)
        else:
            tar.add(str(path), arcname=path.name)
            pck = path.with_suffix(".pck")
            if pck.is_file():
                tar.add(str(pck), arcname=pck.name)
    data = buffer.getvalue()
    package = GamePackage(ray.put(data), hashlib.sha256(data).hexdigest(), path.name)
    _PACKAGES[(str(path), build_key)] = package
    return package


def _skip_caches(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if PurePosixPath(info.name).name in PACK_SKIP_DIRS else info


def pickle_by_value_if_local(target: Any) -> None:
    """Code from the test suite (a Gymnasium factory, an agent's class), not from an installed
    package, travels by value: the nodes need not import the tests."""
    module = sys.modules.get(getattr(target, "__module__", "") or "")
    file = getattr(module, "__file__", None)
    if module is None or file is None or module.__name__.split(".")[0] == "pytest_rlplaytest":
        return
    installed = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    if any(os.path.abspath(file).startswith(os.path.abspath(p) + os.sep) for p in installed):
        return
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(module)


def ship(engine: Engine, settings: Settings, driver_node: str | None) -> GameShipment:
    """Describe the driver's started ``engine`` for the nodes, packing its game when needed.

    Raises:
        EngineError: the game lies outside the rootdir while ``--rl-ray-game-root`` is given.
    """
    context = engine.context
    identity = build_identity(engine)
    game_path = engine.describe().get("game_path")
    package, shared = None, None
    if game_path is not None:
        path = Path(game_path)
        if settings.ray_game_root:
            try:
                relative = path.relative_to(settings.rootdir)
            except ValueError:
                raise EngineError(f"--rl-ray-game-root: the game {path} is not inside the rootdir "
                                  f"{settings.rootdir}, so the nodes cannot find it under "
                                  f"{settings.ray_game_root}; move it into the rootdir or drop the option "
                                  "(the game is then packed and sent)") from None
            shared = str(PurePosixPath(settings.ray_game_root) / relative.as_posix())
        else:
            package = pack_game(path, str(identity.get("game_hash", "")))
    elif callable(engine.target):
        pickle_by_value_if_local(engine.target)
    return GameShipment(
        scheme=type(engine).scheme, target=engine.target, options=_plain(dict(context.options)), seed=context.seed,
        settings=settings, nodeid=context.nodeid, identity=identity, identity_keys=(*type(engine).IDENTITY_KEYS,
        PLUGIN_KEY), package=package, shared_path=shared, driver_node=driver_node,
        driver_artifacts=str(context.artifacts_dir))


# -- on the node ----------------------------------------------------------------------------
def node_label() -> str:
    """``host (node id prefix)`` of the node this runs on, for messages."""
    try:
        import ray

        node = str(ray.get_runtime_context().get_node_id())[:12]
    except Exception:
        node = "?"
    return f"{socket.gethostname()} (Ray node {node})"


def _cache_root() -> Path:
    return Path(tempfile.gettempdir()) / "rlplaytest-ray"


def unpack(package: GamePackage) -> Path:
    """The node's copy of a packed game, unpacked on first use (atomically, one process at a time)."""
    import ray

    from ..common.files import folder_lock

    games = _cache_root() / "games"
    folder = games / package.key
    with folder_lock(games):
        if not (folder / ".complete").is_file():
            staging = Path(tempfile.mkdtemp(prefix=f".{package.key[:12]}-", dir=games))
            data = ray.get(package.ref)
            with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(staging, filter="data")
                else:  # pragma: no cover - Python without PEP 706
                    tar.extractall(staging)  # our own archive
            (staging / ".complete").write_text(package.key + "\n")
            if folder.exists():
                import shutil

                shutil.rmtree(folder)
            staging.rename(folder)
    return folder / package.member


def game_path_on_node(shipment: GameShipment) -> Path | None:
    """Where the game is on this node (None: the engine needs no game files, e.g. Gymnasium).

    Raises:
        EngineError: ``--rl-ray-game-root`` names a path this node does not have.
    """
    if shipment.package is not None:
        return unpack(shipment.package)
    if shipment.shared_path is not None:
        path = Path(shipment.shared_path)
        if not path.exists():
            raise EngineError(f"{node_label()}: the game is not at {path} on this node (--rl-ray-game-root="
                              f"{shipment.settings.ray_game_root}); mount the shared folder there, or drop the "
                              "option so the game is packed and sent")
        return path
    return None


def _node_target(shipment: GameShipment, path: Path | None) -> Any:
    if path is None:
        return shipment.target
    if dataclasses.is_dataclass(shipment.target) and hasattr(shipment.target, "path"):  # a GodotGame
        return dataclasses.replace(shipment.target, path=str(path))  # type: ignore[type-var]
    return str(path)


def _log_folder(shipment: GameShipment, label: str) -> Path:
    """The driver's artifact folder when this node is the driver's machine, else the node's temp."""
    from ..common.paths import nodeid_to_filename

    try:
        import ray

        here = str(ray.get_runtime_context().get_node_id())
    except Exception:
        here = None
    if shipment.driver_artifacts and here is not None and here == shipment.driver_node:
        return Path(shipment.driver_artifacts) / "ray" / label
    return _cache_root() / "logs" / nodeid_to_filename(shipment.nodeid or "session") / label


def node_settings(settings: Settings) -> Settings:
    """The settings a game actor runs with: ``--rl-recv-spin-us auto`` is off on a Ray node, where
    several game actors (and their drivers) share the cores in ways one actor cannot see, so a
    spinning receive would take a core another game needs; an explicit number is kept."""
    from ..settings import RECV_SPIN_AUTO

    return settings.replace(recv_spin_us=0) if settings.recv_spin_us == RECV_SPIN_AUTO else settings


def open_engine(shipment: GameShipment, label: str) -> Engine:
    """Build and start the shipped engine on this node (its logs under a folder named ``label``)."""
    from ..common.paths import PathBase
    from ..engines.base import EngineContext
    from ..engines.registry import engine_class

    path = game_path_on_node(shipment)
    context = EngineContext(artifacts_dir=_log_folder(shipment, label), seed=shipment.seed,
                            options=dict(shipment.options), settings=node_settings(shipment.settings),
                            nodeid=shipment.nodeid,
                            paths=PathBase.option(Path.cwd()))
    engine = engine_class(shipment.scheme)(_node_target(shipment, path), context)
    try:
        engine.start()
    except BaseException:
        engine.close()
        raise
    return engine


def check_identity(shipment: GameShipment, engine: Engine) -> None:
    """Refuse to play a build other than the driver's.

    Raises:
        BuildMismatch: naming what differs, with the driver's and the node's identities.
    """
    mine = build_identity(engine)
    changes = identity_changes(shipment.identity, mine, keys=shipment.identity_keys)
    if changes:
        raise BuildMismatch(
            f"{node_label()} runs another build than the driver, so it refuses to play it: "
            f"{'; '.join(changes)} (recorded: the driver's, now: this node's).\n"
            f"  driver's build: {dict(shipment.identity)}\n  node's build:   {mine}\n"
            "Ship the same build to every node: drop --rl-ray-game-root to send the driver's game with the "
            "job, or update the shared copy (and install the same Godot and pytest-rlplaytest on every node).")
