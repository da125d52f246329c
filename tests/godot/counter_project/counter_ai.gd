extends AIController3D
# The counter game's controller on the godot3-branch API (extends the class by name, as games do).


func get_obs() -> Dictionary:
	return {"obs": [_player.t / 100.0, float(_player.index), _player.start, _player.value()]}


func get_action_space() -> Dictionary:
	return {"move": {"size": 3, "action_type": "discrete"}}


func set_action(action) -> void:
	_player.action = action


func get_path_text() -> String:
	return str(get_path())
