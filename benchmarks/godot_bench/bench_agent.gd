extends "res://addons/rlplaytest/agent_controller.gd"
# Trivial game logic: a point moves on a plane with the action; 8 observations, 2 continuous actions,
# an episode ends after 200 steps (a time limit, so resets and truncation are exercised too).

var pos := Vector2()
var vel := Vector2()


func _ready() -> void:
	max_steps = 200


func get_obs() -> Dictionary:
	return {"obs": [pos.x, pos.y, vel.x, vel.y, 0.5, -0.5, 0.25, 1.0]}


func get_action_space() -> Dictionary:
	return {"move": {"size": 2, "action_type": "continuous"}}


func set_action(action) -> void:
	var m = action["move"]
	vel = Vector2(m[0], m[1])


func reset_game() -> void:
	pos = Vector2(rng.randf_range(-1, 1), rng.randf_range(-1, 1))
	vel = Vector2()


func _physics_process(delta: float) -> void:
	pos += vel * delta
	add_reward(-0.01)
