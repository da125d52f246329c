"""Engines: one room per engine behind the small interface in :mod:`.base`."""

from .base import Engine, EngineContext, EngineError, EngineUnavailable
from .registry import engine_class, split_target

__all__ = ["Engine", "EngineContext", "EngineError", "EngineUnavailable", "engine_class", "split_target"]
