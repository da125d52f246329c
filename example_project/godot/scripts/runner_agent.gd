extends "res://addons/rlplaytest/agent_controller.gd"
# A fast kinematic runner under gravity that explores the bug-repro arena.
#   action "move" (continuous, 2): desired velocity on x and z (x SPEED m/s).
#   obs (10): position (/20), height (/5), velocity (/SPEED, vertical /10), 4 wall rays (/RAY)...
#   reward: +EXPLORE_REWARD for each new 2 m cell visited in the episode (exploration),
#   +SINK_REWARD per metre of new sinking depth below the walking height (a generic "the floor let
#   me through" signal: near misses over a hole are remembered), +10 when the character falls out
#   of the world (event "out_of_world").
# Falling out of the world ends the episode, or, with --respawn=1 (env_kwargs={"respawn": 1}),
# puts the runner back where the episode started and play goes on, as a game's kill plane does
# (bug hunts use it: one episode can run into the bug again, and is recorded whole).

const Build = preload("res://scripts/build.gd")
const SPEED := 8.0
const GRAVITY := 20.0
const RAY := 10.0
const RADIUS := 0.4
const OUT_OF_WORLD_Y := -5.0
const EXPLORE_REWARD := 0.02
const SINK_REWARD := 20.0

var body: KinematicBody
var rays := []
var move := Vector2()
var velocity := Vector3()
var visited := {}
var deepest := 0.0          # how far below its walking height the runner has sunk this episode
var respawn := false
var start := Vector3()


func _init() -> void:
	max_steps = 400
	respawn = Args.get_int("respawn", 0) == 1


func _ready() -> void:
	body = KinematicBody.new()
	body.collision_layer = 2
	body.collision_mask = 1
	var shape = CollisionShape.new()
	var sphere = SphereShape.new()
	sphere.radius = RADIUS
	shape.shape = sphere
	body.add_child(shape)
	add_child(body)
	rays = Build.ray_ring(body, 4, RAY, 1)


func reset_game() -> void:
	start = Vector3(rng.randf_range(-17, 17), RADIUS, rng.randf_range(-17, 17))
	body.global_transform = Transform(Basis(), start)
	move = Vector2()
	velocity = Vector3()
	visited = {}
	deepest = 0.0


func get_action_space() -> Dictionary:
	return {"move": {"size": 2, "action_type": "continuous"}}


func set_action(action) -> void:
	move = Vector2(clamp(action["move"][0], -1.0, 1.0), clamp(action["move"][1], -1.0, 1.0))


func get_obs() -> Dictionary:
	var p = body.global_transform.origin
	var obs = [p.x / 20.0, p.z / 20.0, p.y / 5.0, velocity.x / SPEED, velocity.y / 10.0, velocity.z / SPEED]
	obs += Build.ray_distances(rays, RAY)
	return {"obs": obs}


func get_position():
	return body.global_transform.origin


func _physics_process(delta: float) -> void:
	if done or body == null:
		return
	velocity.x = move.x * SPEED
	velocity.z = move.y * SPEED
	velocity.y -= GRAVITY * delta
	velocity = body.move_and_slide(velocity, Vector3.UP)
	var p = body.global_transform.origin
	var cell = Vector2(floor(p.x / 2.0), floor(p.z / 2.0))
	if p.y > -0.5 and not visited.has(cell):
		visited[cell] = true
		add_reward(EXPLORE_REWARD)
	# a generic bug-hunting signal: sinking below the walking height (the floor should not let
	# anything through) earns its new depth record, so near misses over a hole are remembered
	var depth = RADIUS - p.y
	if depth > deepest + 0.01:
		add_reward(SINK_REWARD * (depth - deepest))
		deepest = depth
	if p.y < OUT_OF_WORLD_Y:
		add_event("out_of_world")
		add_reward(10.0)
		if respawn:
			body.global_transform = Transform(Basis(), start)
			velocity = Vector3()
			deepest = 0.0
		else:
			end_episode(true)
