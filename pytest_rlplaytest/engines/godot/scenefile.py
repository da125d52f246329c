"""Reading a Godot RL Agents Sync node's inspector values from a project's scene file.

The main-branch plugin takes ``action_repeat`` from ``--action_repeat`` when given, else from the
Sync node's inspector value (``sync.gd:13``, ``490-491`` at bf5d6a2; default 8), and never says
which over the wire or in its log. A scene file stores that value only when it differs from the
default (``action_repeat = 4`` under the node's section), so the driver reads it here to report what
the game really runs with. Scenes are text (``.tscn``) in both Godot 3 and 4::

    [ext_resource type="Script" path="res://addons/godot_rl_agents/sync.gd" id="2_ab"]   (Godot 4)
    [ext_resource path="res://addons/godot_rl_agents/sync.gd" type="Script" id=2]         (Godot 3)
    [node name="Sync" type="Node" parent="."]
    script = ExtResource("2_ab")                                                          (3: ExtResource( 2 ))
    action_repeat = 4
"""

from __future__ import annotations

import re
from pathlib import Path

#: the plugin's Sync script, wherever the addon folder is
SYNC_SCRIPT_SUFFIX = "godot_rl_agents/sync.gd"
#: our addon's Sync script (``rlplaytest install-godot-addon``)
ADDON_SYNC_SCRIPT_SUFFIX = "addons/rlplaytest/sync.gd"
#: the Sync scripts of both addons a game may use (the official plugin's and rlplaytest's)
SYNC_SCRIPT_SUFFIXES = (SYNC_SCRIPT_SUFFIX, ADDON_SYNC_SCRIPT_SUFFIX)

_SECTION = re.compile(r"^\[(\w+)\s*(.*)\]\s*$")
_ATTR = re.compile(r'(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s\]]+)')
_EXT_REF = re.compile(r'ExtResource\(\s*"?([^")\s]+)"?\s*\)')


def main_scene(project: Path) -> str | None:
    """The ``run/main_scene`` of ``project/project.godot`` (a ``res://`` path), if it names a file."""
    try:
        text = (project / "project.godot").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    m = re.search(r'^run/main_scene\s*=\s*"(res://[^"]+)"', text, re.MULTILINE)
    return m.group(1) if m else None


def _attrs(text: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in _ATTR.findall(text)}


def sync_scenes(project: Path) -> list[str]:
    """Every scene of ``project`` (``res://`` paths) whose file holds a Sync node of either addon: the
    scenes a driver can play, the main scene first, then sorted. The addons' own folders and Godot's
    caches (``.godot/``, ``.import/``) are not searched."""
    found = []
    for path in sorted(project.rglob("*.tscn")):
        rel = path.relative_to(project).as_posix()
        if rel.startswith("addons/") or rel.startswith("."):
            continue
        if sync_node_properties(project, f"res://{rel}", SYNC_SCRIPT_SUFFIXES) is not None:
            found.append(f"res://{rel}")
    main = main_scene(project)
    return sorted(found, key=lambda s: s != main)


def sync_node_properties(project: Path, scene: str | None,
                         scripts: tuple[str, ...] = (SYNC_SCRIPT_SUFFIX,)) -> dict[str, str] | None:
    """The properties the scene file sets on its Godot RL Agents Sync node (raw text values), ``{}``
    when the node uses every default, None when no Sync node is found in that file (not a
    plugin scene, an instanced sub-scene holds it, or the scene cannot be read). ``scripts``: the
    Sync scripts looked for (path suffixes; default the official plugin's)."""
    scene = scene or main_scene(project)
    if not scene or not scene.startswith("res://"):
        return None
    try:
        lines = (project / scene[len("res://"):]).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    sync_ids: set[str] = set()
    section: str | None = None
    props: dict[str, str] = {}
    found: dict[str, str] | None = None
    for line in lines:
        head = _SECTION.match(line.strip())
        if head is not None:
            if found is None and props.get("script") in sync_ids:
                found = props
            section, props = head.group(1), {}
            attrs = _attrs(head.group(2))
            if section == "ext_resource" and attrs.get("path", "").endswith(scripts):
                sync_ids.add(attrs.get("id", ""))
            continue
        if section == "node" and "=" in line:
            key, _, value = line.partition("=")
            value = value.strip()
            ref = _EXT_REF.match(value)
            props[key.strip()] = ref.group(1) if ref and key.strip() == "script" else value
    if found is None and props.get("script") in sync_ids:
        found = props
    if found is None:
        return None
    return {k: v for k, v in found.items() if k != "script"}
