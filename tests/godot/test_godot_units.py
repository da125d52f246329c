"""Pure-Python parts of the Godot engine: no Godot binary needed."""

from __future__ import annotations

import filecmp
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from pytest_rlplaytest.common.paths import PathBase
from pytest_rlplaytest.engines.base import EngineError, EngineUnavailable
from pytest_rlplaytest.engines.godot.binary import (
    GameLocation,
    GodotBinary,
    build_command,
    find_godot,
    locate_game,
)
from pytest_rlplaytest.engines.godot.engine import GodotEngine, GodotGame, project_hash
from pytest_rlplaytest.engines.godot.install import ADDON_SOURCE, install_godot_addon
from pytest_rlplaytest.engines.godot.process import describe_exit
from pytest_rlplaytest.engines.godot.protocol import ProtocolError, encode_message, parse_message
from pytest_rlplaytest.engines.godot.spaces import ActionCodec, ObsCodec
from pytest_rlplaytest.engines.registry import engine_class, split_target

EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "example_project" / "godot"


def test_registry_and_spec_object() -> None:
    assert engine_class("godot") is GodotEngine
    assert split_target("godot:example_project/godot") == ("godot", "example_project/godot")
    game = GodotGame("example_project/godot", scene="res://scenes/landing.tscn", agents=4)
    assert split_target(game) == ("godot", game)
    assert {"scene", "agents", "speedup", "action_repeat", "fixed_fps", "timeout"} <= set(GodotEngine.OPTIONS)


def test_parse_rejects_nan_with_location() -> None:
    with pytest.raises(ProtocolError, match=r"message\['obs'\]\[0\]\['obs'\]\[1\] = -inf"):
        parse_message(b'{"type":"step","obs":[{"obs":[1.0,-inf]}],"info":[{"x":1}]}', "step 1 reply")
    with pytest.raises(ProtocolError, match=r"message\['reward'\]\[0\] = NaN"):
        parse_message(b'{"type":"step","reward":[NaN]}', "step 1 reply")
    with pytest.raises(ProtocolError, match="invalid JSON"):
        parse_message(b'{"type": "step", ', "step 1 reply")
    assert parse_message(b'{"type":"step","info":[{"name":"nan inf"}]}', "x")["info"][0]["name"] == "nan inf"


def test_encode_refuses_nan_and_frames_ascii() -> None:
    with pytest.raises(EngineError, match="NaN/inf"):
        encode_message({"type": "action", "action": [{"move": [float("nan")]}]})
    data = encode_message({"type": "close", "note": "é"})
    (length,) = struct.unpack("<I", data[:4])
    assert length == len(data) - 4 and json.loads(data[4:]) == {"type": "close", "note": "é"}
    data[4:].decode("ascii")


def test_action_codecs() -> None:
    one = ActionCodec({"move": {"size": 3, "action_type": "discrete"}})
    assert one.space().n == 3 and one.encode_batch(np.array([2, 0]), 2) == [{"move": 2}, {"move": 0}]
    # the game's key order, not sorted (the plugin's ONNX decoder walks get_action_space() in order)
    multi = ActionCodec({"b": {"size": 2, "action_type": "discrete"}, "a": {"size": 4, "action_type": "discrete"}})
    assert list(multi.space().nvec) == [2, 4]
    assert multi.encode_batch(np.array([[1, 3]]), 1) == [{"b": 1, "a": 3}]
    cont = ActionCodec({"turn": {"size": 1, "action_type": "continuous"},
                        "move": {"size": 2, "action_type": "continuous"}})
    assert cont.space().shape == (3,)
    assert cont.encode_batch(np.array([[0.25, 0.5, -2.0]]), 1) == [{"turn": [0.25], "move": [0.5, -1.0]}]
    mixed = ActionCodec({"move": {"size": 1, "action_type": "continuous"},
                         "jump": {"size": 2, "action_type": "discrete"}})
    assert mixed.space().shape == (3,)
    assert mixed.encode_batch(np.array([[-0.5, 0.1, 0.9]]), 1) == [{"move": [-0.5], "jump": 1}]
    assert list(mixed.space().rlplaytest_godot_spec["action_space"]) == ["move", "jump"]
    with pytest.raises(EngineError, match="agent 0 holds nan at index 1"):
        cont.encode_batch(np.array([[0.0, np.nan, 0.0]]), 1)
    with pytest.raises(ProtocolError, match="action_type 'analog' is not supported"):
        ActionCodec({"x": {"size": 1, "action_type": "analog"}})


def test_obs_codec_dict_and_images() -> None:
    codec = ObsCodec({"obs": {"size": [2], "space": "box"}, "cam_2d": {"size": [1, 2, 1], "space": "box"}})
    assert list(codec.space().spaces) == ["cam_2d", "obs"]
    batch = codec.decode_batch([{"obs": [1, 2], "cam_2d": "00ff"}], 1, "reset reply")
    assert batch["cam_2d"].dtype == np.uint8 and batch["cam_2d"][0].ravel().tolist() == [0, 255]
    flat = ObsCodec({"obs": {"size": [2], "space": "box"}})
    assert flat.space().shape == (2,)
    with pytest.raises(ProtocolError, match="agent 0, key 'obs', index 1: 'x' is not a number"):
        flat.decode_batch([{"obs": [1, "x"]}], 1, "w")
    with pytest.raises(ProtocolError, match=r"missing \['obs'\], unexpected \['ob'\]"):
        flat.decode_batch([{"ob": [1, 2]}], 1, "w")


def test_missing_binary_is_unavailable_with_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EngineUnavailable, match="apt-get install godot3-server"):
        find_godot("/nonexistent/godot")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EngineUnavailable, match="no Godot binary on PATH"):
        find_godot(None)


def test_command_lines(tmp_path: Path) -> None:
    game = GameLocation(tmp_path, exported=False)
    g3 = GodotBinary("/usr/bin/godot3-server", "3.2.3.stable", 3, True)
    g4 = GodotBinary("/usr/bin/godot4", "4.2.1.stable", 4, False)
    cmd = build_command(g3, game, port=5, seed=9, scene="res://a.tscn", agents=16, action_repeat=2)
    assert cmd == ["/usr/bin/godot3-server", "--path", str(tmp_path), "--fixed-fps", "60", "res://a.tscn",
                   "--port=5", "--env_seed=9", "--action_repeat=2", "--agents=16"]
    assert build_command(g4, game, port=5, seed=9)[1] == "--headless"


def test_locate_game_errors(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"without project\.godot"):
        locate_game(tmp_path, PathBase.option(tmp_path))
    with pytest.raises(EngineError, match=r"'nope' \(resolved against the test file's folder .*nope\) does not exist"):
        locate_game("nope", PathBase.marker(tmp_path / "test_x.py"))
    (tmp_path / "project.godot").write_text("config_version=4\n")
    assert locate_game(".", PathBase.option(tmp_path)).project_dir == tmp_path


def test_engine_rejects_bad_options(tmp_path: Path) -> None:
    from pytest_rlplaytest.engines.base import EngineContext

    with pytest.raises(EngineError, match="unknown Godot option"):
        GodotEngine("x", EngineContext(tmp_path, 0, options={"scenes": "res://a.tscn"}))
    with pytest.raises(EngineError, match=r"scene must be a .res://\.\.\.. path"):
        GodotEngine("x", EngineContext(tmp_path, 0, options={"scene": "landing.tscn"}))
    engine = GodotEngine("x", EngineContext(tmp_path, 0, options={"env_kwargs": {"difficulty": 2},
                                                                  "max_episode_steps": 30}))
    assert engine.extra_args == ["--difficulty=2", "--max_episode_steps=30"]


def test_install_godot_addon(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no project\.godot"):
        install_godot_addon(tmp_path)
    (tmp_path / "project.godot").write_text("config_version=4\n")
    dest = install_godot_addon(tmp_path)
    assert dest == tmp_path / "addons" / "rlplaytest"
    assert {p.name for p in dest.iterdir()} >= {"sync.gd", "agent_controller.gd", "telemetry.gd", "args.gd"}
    before = project_hash(tmp_path)
    (dest / "sync.gd").write_text("changed")
    assert project_hash(tmp_path) != before
    install_godot_addon(tmp_path, force=True)  # replaces a local change
    assert project_hash(tmp_path) == before


def test_example_project_ships_the_current_addon() -> None:
    copy = EXAMPLE_PROJECT / "addons" / "rlplaytest"
    cmp = filecmp.dircmp(ADDON_SOURCE, copy, ignore=["__pycache__"])
    assert not (cmp.left_only or cmp.right_only or cmp.diff_files), (
        "example_project/godot/addons/rlplaytest differs from the packaged addon; run "
        "`rlplaytest install-godot-addon example_project/godot`"
    )


def test_describe_exit() -> None:
    assert describe_exit(-9) == "killed by SIGKILL" and describe_exit(3) == "exit code 3"


def test_startup_watch_reads_the_plugins_boot_lines() -> None:
    from pytest_rlplaytest.engines.godot.startup import GodotConnectFailed, GodotProjectError, StartupWatch

    def watch(lines: list[str], **kw: object) -> StartupWatch:
        pending = list(lines)
        w = StartupWatch("game", lambda: [pending.pop(0)] if pending else [], lambda: "(output)", **kw)  # type: ignore[arg-type]
        for _ in lines:
            w.check()
        return w

    main = ["getting command line arguments", "--port=5", "{}", "physics ticks 120 2.0 2.0 1.0"]
    w = watch([*main, "Waiting for one second to allow server to start"])
    assert w.facts.time_scale == 2.0 and w.facts.waiting_to_connect
    w = watch(main)
    w.facts.physics_ticks_at -= 5.0  # long past the grace: no Training agent
    with pytest.raises(GodotConnectFailed, match="no agent in Training mode"):
        w.check()
    w = watch(main, line_flushed=False)  # an exported build may buffer: silence proves nothing
    w.facts.physics_ticks_at -= 5.0
    w.check()
    with pytest.raises(GodotConnectFailed, match="socket status 1"):
        watch(["{}", "physics ticks 60 1 1 1", "getting command line arguments", "trying to connect to server", "01"])
    assert watch(["trying to connect to server", "02"]).facts.godot3_status == 2
    assert watch(["--fixed-fps", "60"]).facts.godot3_status is None  # (digits only count after the attempt)
    with pytest.raises(GodotProjectError, match="_global_script_classes"):
        watch(['SCRIPT ERROR: GDScript::reload: Parse Error: Unknown class: "AIController3D"'])
    with pytest.raises(GodotConnectFailed, match="human control"):
        watch(["WARNING: Couldn't connect to Python server, using human controls instead. Did you start..."])


def test_sync_node_properties_from_godot3_and_godot4_scenes(tmp_path: Path) -> None:
    from pytest_rlplaytest.engines.godot.scenefile import main_scene, sync_node_properties

    (tmp_path / "project.godot").write_text('config_version=4\n[application]\nrun/main_scene="res://a.tscn"\n')
    (tmp_path / "a.tscn").write_text(
        '[gd_scene load_steps=2 format=2]\n\n[ext_resource path="res://addons/godot_rl_agents/sync.gd" '
        'type="Script" id=2]\n\n[node name="Root" type="Spatial"]\n\n[node name="Sync" type="Node" parent="."]\n'
        'script = ExtResource( 2 )\naction_repeat = 3\nspeed_up = 2.0\n\n[node name="Other" type="Node" parent="."]\n')
    assert main_scene(tmp_path) == "res://a.tscn"
    assert sync_node_properties(tmp_path, None) == {"action_repeat": "3", "speed_up": "2.0"}
    (tmp_path / "b.tscn").write_text('[gd_scene format=3]\n\n[node name="Root" type="Node3D"]\n')
    assert sync_node_properties(tmp_path, "res://b.tscn") is None
    assert sync_node_properties(tmp_path, "res://missing.tscn") is None
