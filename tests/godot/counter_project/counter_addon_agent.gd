extends "res://addons/rlplaytest/agent_controller.gd"
# The counter game on rlplaytest's addon (the addon resets an agent itself when its episode ends).

var t := 0
var start := 0.0
var action := {}
var episode_frames := 80


func _ready():
	episode_frames = Args.get_int("episode_frames", 80)


func value() -> float:
	for key in action:
		var v = action[key]
		return float(v[0]) if typeof(v) == TYPE_ARRAY else float(v)
	return 0.0


func get_obs() -> Dictionary:
	return {"obs": [t / 100.0, float(agent_index), start, value()]}


func get_action_space() -> Dictionary:
	return {"move": {"size": 3, "action_type": "discrete"}}


func set_action(a) -> void:
	action = a


func reset_game() -> void:
	t = 0
	start = rng.randf()
	action = {}


func get_path_text() -> String:
	return str(get_path())


func _physics_process(_delta):
	t += 1
	add_reward(value())
	if t >= episode_frames:
		end_episode(false)
