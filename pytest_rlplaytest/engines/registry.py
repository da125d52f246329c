"""Which engine runs a scenario's ``env=``.

* ``"CartPole-v1"`` or any callable returning a ``gymnasium.Env``: the embedded Gymnasium engine;
  ``"py:package.module:Factory"`` names such a callable by import path (replay bundles use it).
* ``"godot:<project dir or exported binary>"``: headless Godot (``engines/godot``).
* ``"spacetimedb:<module dir>"``: a SpacetimeDB module (``engines/spacetimedb``).
* An object with an ``engine_scheme`` attribute (a small spec object such as ``GodotGame``): the
  engine of that scheme, with the object itself as target.

Engine modules are imported lazily so that a plain Gymnasium user never imports Godot code.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from .base import Engine

#: scheme -> "module:Class" (imported on first use)
ENGINES: dict[str, str] = {
    "gym": "pytest_rlplaytest.engines.gym:GymEngine",
    "godot": "pytest_rlplaytest.engines.godot.engine:GodotEngine",
    "spacetimedb": "pytest_rlplaytest.engines.spacetimedb.engine:SpacetimeEngine",
}


def split_target(env: Any) -> tuple[str, Any]:
    """Return ``(scheme, target)`` for a marker's ``env=`` value."""
    scheme = getattr(env, "engine_scheme", None)
    if isinstance(scheme, str):
        return scheme, env
    if isinstance(env, str):
        prefix, sep, rest = env.partition(":")
        if sep and prefix in ENGINES and prefix != "gym":
            return prefix, rest
        if sep and prefix == "gym":
            return "gym", rest
        if sep and prefix == "py":
            return "gym", env  # "py:module:Factory", imported by the Gymnasium engine
        return "gym", env
    if callable(env):
        return "gym", env
    raise TypeError(
        f"env={env!r} is not a Gymnasium id, an env factory, 'godot:<path>', 'spacetimedb:<path>' "
        "or a game spec object"
    )


def engine_class(scheme: str) -> type[Engine]:
    """Import and return the engine class registered for ``scheme``."""
    try:
        dotted = ENGINES[scheme]
    except KeyError:
        raise ValueError(f"unknown engine {scheme!r}; known: {', '.join(sorted(ENGINES))}") from None
    module_name, _, cls_name = dotted.partition(":")
    module = importlib.import_module(module_name)
    cls: type[Engine] = getattr(module, cls_name)
    return cls


def identity_keys(description: Mapping[str, Any]) -> tuple[str, ...]:
    """The identity keys (``Engine.IDENTITY_KEYS``) of the engine an ``Engine.describe()`` result
    names in its ``engine`` entry; just ``("engine",)`` for an engine this registry does not know."""
    scheme = description.get("engine")
    if not isinstance(scheme, str) or scheme not in ENGINES:
        return Engine.IDENTITY_KEYS
    return engine_class(scheme).IDENTITY_KEYS
