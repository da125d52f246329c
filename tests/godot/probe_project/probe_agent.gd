extends "res://addons/rlplaytest/agent_controller.gd"
# A point on a plane that moves towards a random target. Faults for the driver's tests:
#   --fault=hang --fault_at=K          stop answering at step K (an endless loop)
#   --fault=script_error --fault_at=K  a GDScript runtime error in get_obs() at step K
#   --fault=quit --fault_at=K          quit with exit code 5 at step K
#   --fault=soft_error --fault_at=K    a GDScript runtime error at step K that the game survives
#   --fault=log_line --fault_at=K      the game logs "ERROR: inventory desync" at step K of every episode
# --move_size=N (default 2) sizes the "move" action (a third, second... component is ignored for
# movement); last_action() returns the action dictionary set_action last received.


var pos := Vector2()
var target := Vector2()
var noise := 0.0
var move := Vector2()
var fault := ""
var fault_at := -1
var total_steps := 0
var move_size := 2
var received = null


func _ready() -> void:
	max_steps = Args.get_int("episode_steps", 50)
	fault = Args.get_str("fault", "")
	fault_at = Args.get_int("fault_at", -1)
	move_size = Args.get_int("move_size", 2)


func get_obs() -> Dictionary:
	if total_steps == fault_at and fault == "script_error":
		call("this_method_does_not_exist")
	return {"obs": [pos.x / 10.0, pos.y / 10.0, target.x / 10.0, target.y / 10.0, noise]}


func get_action_space() -> Dictionary:
	return {"move": {"size": move_size, "action_type": "continuous"}}


func set_action(action) -> void:
	received = action
	var m = action["move"]
	move = Vector2(clamp(m[0], -1.0, 1.0), clamp(m[1], -1.0, 1.0) if m.size() > 1 else 0.0)


func last_action():
	return received


func reset_game() -> void:
	pos = Vector2(rng.randf_range(-5, 5), rng.randf_range(-5, 5))
	target = Vector2(rng.randf_range(-5, 5), rng.randf_range(-5, 5))
	noise = rng.randf()
	move = Vector2()


func _update_effects() -> void:
	# the planted soft fault: an error in a side effect, after which the game plays on
	call("this_method_does_not_exist")


func get_position():
	return pos


func _physics_process(delta: float) -> void:
	total_steps += 1
	if fault == "log_line" and n_steps + 1 == fault_at:
		push_error("inventory desync at step %d" % (n_steps + 1))
	if total_steps == fault_at:
		if fault == "hang":
			while true:
				OS.delay_msec(50)
		elif fault == "quit":
			get_tree().quit(5)
		elif fault == "soft_error":
			_update_effects()
	var before = pos.distance_to(target)
	pos += move * 6.0 * delta
	var after = pos.distance_to(target)
	add_reward(before - after)
	noise = rng.randf()
	if after < 0.5:
		add_event("target_reached")
		add_reward(1.0)
		end_episode(true)
