"""The Godot engine (``env="godot:<project or exported game>"``).

Modules: :mod:`.binary` (find Godot, build the command line), :mod:`.process` (launch and reap
game processes), :mod:`.protocol` (the wire protocol with deadlines), :mod:`.spaces` (env_info to
Gymnasium spaces), :mod:`.env` (VecEnv / Env), :mod:`.engine` (:class:`GodotEngine`, :class:`GodotGame`),
:mod:`.install` (copy the GDScript addon into a project). The addon itself is in ``addon/``.
"""

from .engine import GodotEngine, GodotGame

__all__ = ["GodotEngine", "GodotGame"]
