extends "res://addons/rlplaytest/agent_controller.gd"
# A kinematic character that must reach a random waypoint without touching anything.
#   action "move" (continuous, 2): desired velocity on x and z (x SPEED m/s).
#   obs (13): waypoint offset (/15), distance (/15), velocity (/SPEED), 8 ray distances (/RAY).
#   success: within REACH m of the waypoint before the time limit -> "waypoint_reached";
#   touching a pillar or wall ends the episode -> "collided".
#   reward: progress towards the waypoint, -0.005 per step, +10 reached, -2 collided.

const Build = preload("res://scripts/build.gd")
const SPEED := 5.0
const RAY := 5.0
const REACH := 1.0
const RADIUS := 0.4

var world
var body: KinematicBody
var rays := []
var waypoint := Vector3()
var move := Vector2()
var velocity := Vector3()
var prev_distance := 0.0


func _init() -> void:
	max_steps = 400


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
	rays = Build.ray_ring(body, 8, RAY, 1)


func _random_free_point(margin: float) -> Vector3:
	for _i in range(200):
		var p = Vector3(rng.randf_range(-18, 18), 0.5, rng.randf_range(-18, 18))
		if world.is_free(p, margin):
			return p
	return Vector3(0, 0.5, 0)


func reset_game() -> void:
	var start = _random_free_point(1.0)
	body.global_transform = Transform(Basis(), start)
	for _i in range(200):
		waypoint = _random_free_point(1.0)
		var d = waypoint.distance_to(start)
		if d > 5.0 and d < 14.0:
			break
	move = Vector2()
	velocity = Vector3()
	prev_distance = _flat_distance()


func _flat_distance() -> float:
	var o = waypoint - body.global_transform.origin
	return Vector2(o.x, o.z).length()


func get_action_space() -> Dictionary:
	return {"move": {"size": 2, "action_type": "continuous"}}


func set_action(action) -> void:
	move = Vector2(clamp(action["move"][0], -1.0, 1.0), clamp(action["move"][1], -1.0, 1.0))


func get_obs() -> Dictionary:
	var o = waypoint - body.global_transform.origin
	var obs = [o.x / 15.0, o.z / 15.0, _flat_distance() / 15.0, velocity.x / SPEED, velocity.z / SPEED]
	obs += Build.ray_distances(rays, RAY)
	return {"obs": obs}


func get_position():
	return body.global_transform.origin


func _physics_process(_delta: float) -> void:
	if done or body == null:
		return
	velocity = Vector3(move.x, 0, move.y) * SPEED
	velocity = body.move_and_slide(velocity, Vector3.UP)
	var origin = body.global_transform.origin
	if origin.y != 0.5:  # stay on the walking plane
		body.global_transform.origin = Vector3(origin.x, 0.5, origin.z)
	var distance = _flat_distance()
	add_reward(prev_distance - distance - 0.005)
	prev_distance = distance
	if body.get_slide_count() > 0:
		add_event("collided")
		add_reward(-2.0)
		end_episode(false)
	elif distance < REACH:
		add_event("waypoint_reached")
		add_reward(10.0)
		end_episode(true)
