"""The Ray tests' one local cluster (``ray.init(num_cpus=2, include_dashboard=False)`` through
:func:`pytest_rlplaytest.distributed.cluster.connect`), shared by every test that needs it.

Plugin runs nested in these tests (pytester, ``--rl-ray=local``) find Ray initialised in the
process and use the same cluster, leaving it running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_rlplaytest.engines.base import Engine, EngineContext
from pytest_rlplaytest.settings import Settings

REPO = Path(__file__).resolve().parents[2]
#: who connected the tests' cluster (only this token's shutdown ends it)
OWNER = "tests/ray"


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """The session's local Ray cluster (2 CPUs, 4 game slots)."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:  # (not imported here: connect() sets Ray up first)
        pytest.skip("the Ray tests need the extra: pip install -e .[ray]")
    from pytest_rlplaytest.distributed import cluster

    connected = cluster.connect(Settings.defaults(REPO).replace(ray="local", ray_games_per_node=4), owner=OWNER,
                                num_cpus=2)
    yield connected
    cluster.shutdown(owner=OWNER)


@pytest.fixture
def ray_settings(tmp_path: Path) -> Settings:
    """Settings of a --rl-ray=local run rooted in the test's temp folder."""
    return Settings.defaults(tmp_path).replace(ray="local", engine_timeout=20.0)


@pytest.fixture
def ray_engine(ray_cluster: Any, ray_settings: Settings, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``ray_engine(scheme, target, seed=, settings=, **options)``: a started engine wrapped for Ray
    (a ``RayEngine``), closed at teardown."""
    from pytest_rlplaytest.distributed.engine import wrap_for_ray
    from pytest_rlplaytest.engines.registry import engine_class

    made: list[Engine] = []

    def build(scheme: str, target: Any, seed: int = 7, settings: Settings | None = None, **options: Any) -> Any:
        settings = settings or ray_settings
        options.setdefault("env_kwargs", {})
        context = EngineContext(artifacts_dir=tmp_path / f"artifacts{len(made)}", seed=seed, options=options,
                                settings=settings, nodeid=f"tests/ray::{scheme}")
        inner = engine_class(scheme)(target, context)
        inner.start()
        engine = wrap_for_ray(inner, settings, owner=OWNER)
        made.append(engine)
        return engine

    yield build
    for engine in made:
        engine.close()


@pytest.fixture(scope="session")
def godot_probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of tests/godot/probe_project with the addon installed; skips without Godot (fails
    under --rl-require-engines)."""
    import shutil

    from pytest_rlplaytest.engines.base import EngineUnavailable, skip_or_fail_unavailable
    from pytest_rlplaytest.engines.godot.binary import find_godot
    from pytest_rlplaytest.engines.godot.install import install_godot_addon
    from pytest_rlplaytest.plugin import get_settings

    try:
        find_godot(get_settings(request.config).godot_bin)
    except EngineUnavailable as exc:
        skip_or_fail_unavailable(get_settings(request.config), "godot", exc)
    dest = tmp_path_factory.mktemp("ray-godot") / "probe_project"
    shutil.copytree(REPO / "tests" / "godot" / "probe_project", dest)
    install_godot_addon(dest)
    return dest
