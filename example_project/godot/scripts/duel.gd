extends "res://scripts/world.gd"
# Duel: a two-player race to the coin. Agents come in pairs: agent 2k is seat A and agent 2k+1 is
# seat B of arena k (arenas sit 20 m apart on x and never interact). Each round the coin and both
# starts are drawn uniformly in the 8 x 8 m arena (seat A's episode RNG draws the round, so the
# addon's per-episode seeds reproduce it); the first seat within COIN_RADIUS of the coin wins, both
# in the same frame (or the time limit) is a draw. Both seats use the same policy_name.
# With an odd agent count the last seat A plays alone (its opponent's offset in the observation is 0).
# The game logic runs here, once per frame for both seats, so both seats' episodes end together.

const Duelist = preload("res://scripts/duelist_agent.gd")
const SPACING := 20.0
const HALF := 4.0
const SPEED := 8.0
const COIN_RADIUS := 0.6

var arenas := []  # [{"a": agent, "b": agent, "coin": Vector2, "origin": Vector2}]


func _init() -> void:
	default_agents = 2


func make_agent(index: int) -> Node:
	var agent = Duelist.new()
	agent.seat = "A" if index % 2 == 0 else "B"
	agent.world = self
	var k = index / 2
	if index % 2 == 0:
		arenas.append({"a": agent, "b": null, "coin": Vector2(), "origin": Vector2(SPACING * k, 0)})
	else:
		arenas[k]["b"] = agent
	agent.arena = k
	return agent


func new_round(k: int, rng: RandomNumberGenerator) -> void:
	# called by seat A's reset: draw the coin and both starts
	var arena = arenas[k]
	arena["coin"] = Vector2(rng.randf_range(-HALF, HALF), rng.randf_range(-HALF, HALF))
	arena["a"].pos = Vector2(rng.randf_range(-HALF, HALF), rng.randf_range(-HALF, HALF))
	var b = arena["b"]
	var b_start = Vector2(rng.randf_range(-HALF, HALF), rng.randf_range(-HALF, HALF))
	if b != null:
		b.pos = b_start


func opponent_of(agent) -> Node:
	var arena = arenas[agent.arena]
	return arena["b"] if agent.seat == "A" else arena["a"]


func coin_of(agent) -> Vector2:
	return arenas[agent.arena]["coin"]


func end_round(k: int, winner: String, time_limit: bool) -> void:
	var arena = arenas[k]
	for agent in [arena["a"], arena["b"]]:
		if agent != null:
			agent.finish(winner, time_limit)


func _physics_process(delta: float) -> void:
	for k in range(arenas.size()):
		var arena = arenas[k]
		var a = arena["a"]
		var b = arena["b"]
		if a.done or (b != null and b.done):
			continue
		var coin = arena["coin"]
		a.move(delta * SPEED, HALF)
		a.shape_reward(coin)
		var a_in = a.pos.distance_to(coin) <= COIN_RADIUS
		var b_in = false
		if b != null:  # (an odd agent count leaves the last seat A alone: it races the clock)
			b.move(delta * SPEED, HALF)
			b.shape_reward(coin)
			b_in = b.pos.distance_to(coin) <= COIN_RADIUS
		if a_in and b_in:
			end_round(k, "draw", false)
		elif a_in:
			end_round(k, "A", false)
		elif b_in:
			end_round(k, "B", false)
