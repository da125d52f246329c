extends Node
# Base class for one RL agent, compatible with the Godot RL Agents controller contract
# (get_obs, get_reward, get_action_space, set_action, reset, done, needs_reset, get_info).
#
# Extend it by path (no class_name, so headless runs need no editor-generated class cache):
#     extends "res://addons/rlplaytest/agent_controller.gd"
# and override:
#     get_obs() -> {"obs": [floats]}      observations, ideally normalised to [-1, 1]
#     get_action_space() -> {"move": {"size": 2, "action_type": "continuous"}, ...}
#     set_action(action)                   action is a Dictionary keyed like get_action_space()
#     reset_game()                         put this agent's part of the game into a fresh episode,
#                                          drawing every random number from `rng`
#     get_position()                       optional: Vector3/Vector2 for heatmaps
# During play, call add_reward(x), add_event("name"), end_episode(success) from game logic.
#
# The sync node (sync.gd) resets an agent itself right after reporting its episode end, so the
# observation sent with done=true is already the first observation of the next episode; the
# terminal observation travels in info["rl_terminal_obs"]. Set max_steps for a time limit: its
# end is reported as a truncation (info["TimeLimit.truncated"] = true).

const Args = preload("res://addons/rlplaytest/args.gd")

export var max_steps := 0
export var policy_name := "shared_policy"

var done := false
var needs_reset := false
var reward := 0.0
var n_steps := 0
var truncated := false
var is_success = null
var agent_index := 0
var base_seed := 0
var episode := 0
var episode_seed := 0
var rng := RandomNumberGenerator.new()
var _events := []
var _max_steps_override := 0
# the episode seed goes out in the first info of each episode only (the driver repeats it in every
# step's info): a 10-digit integer per agent per step was a large part of Godot's JSON.print time
var _seed_reported := false
var _exact_seed_next := false


func _enter_tree() -> void:
	add_to_group("AGENT")
	base_seed = Args.get_int("env_seed", 0)
	# --max_episode_steps=N (the scenario's max_episode_steps) overrides the scene's time limit
	_max_steps_override = Args.get_int("max_episode_steps", 0)


# ---- the contract: override these --------------------------------------------------------
func get_obs() -> Dictionary:
	return {"obs": []}


func get_action_space() -> Dictionary:
	return {}


func set_action(_action) -> void:
	pass


func reset_game() -> void:
	pass


func get_position():
	return null


# ---- provided ---------------------------------------------------------------------------
func get_obs_space() -> Dictionary:
	var space = {}
	var obs = get_obs()
	for key in obs.keys():
		var value = obs[key]
		if typeof(value) == TYPE_STRING:
			push_error("rlplaytest: override get_obs_space() for image observation " + key)
			continue
		space[key] = {"size": [value.size()], "space": "box"}
	return space


func get_reward() -> float:
	return reward


func zero_reward() -> void:
	reward = 0.0


func add_reward(value: float) -> void:
	reward += value


func get_done() -> bool:
	return done


func set_done_false() -> void:
	done = false


func add_event(name: String) -> void:
	_events.append(name)


func end_episode(success: bool, time_limit: bool = false) -> void:
	# Ends the episode (once); success is reported as info["is_success"].
	if done:
		return
	done = true
	is_success = success
	truncated = time_limit


func rl_set_index(index: int) -> void:
	agent_index = index


func rl_set_seed(seed_value: int) -> void:
	# A reset with a seed restarts the episode stream from it; agent 0's next episode is seeded with
	# exactly that value, so an episode recorded with info["rl_episode_seed"] = S replays from a
	# one-agent instance reset with seed S (as Gymnasium's env.reset(seed=S) does).
	base_seed = seed_value
	episode = 0
	_exact_seed_next = true


func rl_after_step() -> void:
	# Called by the sync node once per step, before the reply is collected.
	n_steps += 1
	if max_steps > 0 and n_steps >= max_steps and not done:
		end_episode(false, true)


func reset() -> void:
	# A fresh episode: counters, the episode's own seeded RNG, then the game's reset_game().
	if _exact_seed_next and agent_index == 0:
		episode_seed = base_seed
	else:
		episode_seed = int(abs(hash([base_seed, agent_index, episode]))) % 2147483647
	_exact_seed_next = false
	episode += 1
	rng.seed = episode_seed
	done = false
	needs_reset = false
	truncated = false
	is_success = null
	reward = 0.0
	n_steps = 0
	_events = []
	_seed_reported = false
	if _max_steps_override > 0:
		max_steps = _max_steps_override
	reset_game()


func rl_auto_reset() -> void:
	reset()


func get_info() -> Dictionary:
	var info = {}
	if not _seed_reported:
		info["rl_episode_seed"] = episode_seed
		_seed_reported = true
	if _events.size() > 0:
		info["events"] = _events
		_events = []
	var pos = get_position()
	if pos is Vector3:
		info["position"] = [pos.x, pos.y, pos.z]
	elif pos is Vector2:
		info["position"] = [pos.x, pos.y]
	if done:
		info["TimeLimit.truncated"] = truncated
		if is_success != null:
			info["is_success"] = is_success
	return info
