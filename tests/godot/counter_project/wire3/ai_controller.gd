extends Node
class_name AIController
# The agent base class of the godot3 branch of Godot RL Agents (5b6e1bf,
# addons/godot_rl_agents/controller/ai_controller.gd), written anew for our tests: the same members,
# defaults and behaviour (not a copy of its code).

export var reset_after := 1000  # ai_controller.gd:5

var heuristic := "human"  # :7
var done := false  # :8
var reward := 0.0  # :9
var n_steps := 0  # :10
var needs_reset := false  # :12


func _ready():
	add_to_group("AGENT")  # :14-15


func get_obs() -> Dictionary:  # :18-20 (games override it)
	return {"obs": []}


func get_reward() -> float:  # :22-24
	return reward


func get_action_space() -> Dictionary:  # :26-37
	return {}


func set_action(_action) -> void:  # :39-40
	pass


func _physics_process(_delta):
	# :43-46: counts physics frames; past reset_after it only flags needs_reset (never done)
	n_steps += 1
	if n_steps > reset_after:
		needs_reset = true


func get_obs_space():
	# :48-56: one box key, sized from the current observation
	return {"obs": {"size": [len(get_obs()["obs"])], "space": "box"}}


func reset():  # :58-60 (done and reward untouched)
	n_steps = 0
	needs_reset = false


func set_heuristic(h):  # :66-68
	heuristic = h


func get_done():  # :70-71
	return done


func set_done_false():  # :73-74
	done = false


func zero_reward():  # :76-77
	reward = 0.0
