extends "res://addons/rlplaytest/agent_controller.gd"
# One seat of the duel (duel.gd): a point that moves at up to SPEED m/s in the arena's plane.
#   action "move" (continuous, 2): the velocity direction (clipped to length 1) x SPEED.
#   obs (5), ego-centric so one policy fits either seat: coin - me (x, y) / 8,
#   opponent - me (x, y) / 8, time left.
#   reward: +1 won, -1 lost, 0 draw or time limit; plus 0.1 x the metres gained towards the coin.
#   info at the episode end: "seat" ("A"/"B"), "winner" ("A", "B" or "draw"), "is_success" (won).
# The time limit (max_steps) is judged by the arena for both seats at once (rl_after_step), and the
# terminal observation is kept before seat A's reset redraws the round for both seats.

var seat := "A"
var world = null
var arena := 0
var pos := Vector2()
var direction := Vector2()
var winner := ""
var prev_dist := 0.0
var end_obs = null


func _init() -> void:
	max_steps = 90


func get_action_space() -> Dictionary:
	return {"move": {"size": 2, "action_type": "continuous"}}


func set_action(action) -> void:
	direction = Vector2(float(action["move"][0]), float(action["move"][1]))
	if direction.length() > 1.0:
		direction = direction.normalized()


func reset_game() -> void:
	if seat == "A":
		world.new_round(arena, rng)
	direction = Vector2()
	winner = ""
	end_obs = null
	prev_dist = pos.distance_to(world.coin_of(self))


func move(step: float, half: float) -> void:
	pos += direction * step
	pos.x = clamp(pos.x, -half, half)
	pos.y = clamp(pos.y, -half, half)


func shape_reward(coin: Vector2) -> void:
	var dist = pos.distance_to(coin)
	add_reward(0.1 * (prev_dist - dist))
	prev_dist = dist


func finish(who: String, time_limit: bool) -> void:
	if done:
		return
	winner = who
	if who == seat:
		add_reward(1.0)
	elif who != "draw":
		add_reward(-1.0)
	end_obs = _obs()
	end_episode(who == seat, time_limit)


func rl_after_step() -> void:
	n_steps += 1
	if max_steps > 0 and n_steps >= max_steps and not done:
		world.end_round(arena, "draw", true)


func _obs() -> Dictionary:
	var me = pos
	var coin = world.coin_of(self)
	var other = world.opponent_of(self)
	var them = other.pos if other != null else me
	var left = 1.0 - float(n_steps) / max(1, max_steps)
	return {"obs": [(coin.x - me.x) / 8.0, (coin.y - me.y) / 8.0, (them.x - me.x) / 8.0, (them.y - me.y) / 8.0, left]}


func get_obs() -> Dictionary:
	if done and end_obs != null:
		return end_obs
	return _obs()


func get_position():
	var origin = Vector2(20.0 * arena, 0)
	return Vector3(origin.x + pos.x, 0, pos.y)


func get_info() -> Dictionary:
	var info = .get_info()
	if done:
		info["seat"] = seat
		info["winner"] = winner
	return info
