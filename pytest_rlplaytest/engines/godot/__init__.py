"""The Godot engine (``env="godot:<project or exported game>"``).

Modules: :mod:`.binary` (find Godot, build the command line), :mod:`.importer` (import a fresh
Godot 4 checkout), :mod:`.process` (launch and reap game processes), :mod:`.protocol` (the wire
protocol with deadlines), :mod:`.startup` (what a game's boot lines say: which sync node, what it runs
with, fall-backs to human control), :mod:`.scenefile` (a Sync node's inspector values),
:mod:`.spaces` (env_info to Gymnasium spaces, in the game's action-key order), :mod:`.session` (one
game process: :class:`~.session.GodotSession`), :mod:`.env` (VecEnv / Env), :mod:`.engine`
(:class:`GodotEngine`, :class:`GodotGame`), :mod:`.onnx_layout` / :mod:`.onnx_export` (the official
plugin's ONNX layout), :mod:`.install` (copy the GDScript addon into a project). The addon itself is
in ``addon/``. Games on the official Godot RL Agents plugin (``main`` for Godot 4, ``godot3``) and on
our addon are driven alike.
"""

from .engine import GodotEngine, GodotGame

__all__ = ["GodotEngine", "GodotGame"]
