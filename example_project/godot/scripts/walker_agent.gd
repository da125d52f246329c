extends "res://addons/rlplaytest/agent_controller.gd"
# A kinematic character that must reach a random waypoint without touching anything.
#   action "move" (continuous, 2): desired velocity on x and z (x SPEED m/s).
#   obs (24): waypoint offset (/15), distance (/15), velocity (/SPEED), the unit direction of the
#   route (the level's navigation grid, GUIDE_AHEAD points ahead), route length left (/15), and
#   RAYS ray distances (/RAY).
#   success: within REACH m of the waypoint before the time limit -> "waypoint_reached";
#   touching a pillar or wall ends the episode -> "collided".
#   reward: progress along the route (its remaining length shrinking), -0.005 per step, +10 reached, -COLLISION_COST collided, plus a
#   potential-based term for clearance: coming within CAUTION m of a pillar or wall costs up to
#   CAUTION_COST, moving away again gives it back (it steers exploration away from contacts
#   without changing which policy is optimal).

const Build = preload("res://scripts/build.gd")
const SPEED := 5.0
const RAY := 5.0
const REACH := 1.0
const RADIUS := 0.4
const RAYS := 16
const CAUTION := 1.5
const COLLISION_COST := 5.0
const GUIDE_AHEAD := 4     # route points (NAV_CELL m apart) ahead of the nearest one
const REPLAN := 1.5        # farther than this from the route: plan a new one from here
const CAUTION_COST := 1.0

var world
var body: KinematicBody
var rays := []
var waypoint := Vector3()
var move := Vector2()
var velocity := Vector3()
var prev_distance := 0.0
var prev_clearance_potential := 0.0
var ray_obs := []
var route := []            # Vector2 points from the start to the waypoint
var route_left := []       # remaining route length from each point
var route_k := 0           # the route point the walker is nearest to


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
	rays = Build.ray_ring(body, RAYS, RAY, 1)


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
	_plan()
	prev_distance = _route_distance()
	_sense()
	prev_clearance_potential = _clearance_potential()


func _sense() -> void:
	# ray distances (normalised) from the current position; read by get_obs and the shaping
	ray_obs = Build.ray_distances(rays, RAY)


func _clearance_potential() -> float:
	var nearest = RAY
	for d in ray_obs:
		nearest = min(nearest, d * RAY)
	return -CAUTION_COST * max(0.0, CAUTION - nearest) / CAUTION


func _plan() -> void:
	route = world.route(body.global_transform.origin, waypoint)
	route_left = []
	route_left.resize(route.size())
	route_left[route.size() - 1] = 0.0
	for k in range(route.size() - 2, -1, -1):
		route_left[k] = route_left[k + 1] + route[k].distance_to(route[k + 1])
	route_k = 0


func _track() -> void:
	# advance route_k to the nearest route point a few points ahead; replan when off the route
	var p = _flat_position()
	var best = route_k
	var best_d = p.distance_to(route[route_k])
	for k in range(route_k + 1, int(min(route_k + 8, route.size()))):
		var d = p.distance_to(route[k])
		if d < best_d:
			best = k
			best_d = d
	route_k = best
	if best_d > REPLAN:
		_plan()


func _route_distance() -> float:
	# length of the route still to walk: to the nearest route point, then along the route
	return _flat_position().distance_to(route[route_k]) + route_left[route_k]


func _guide() -> Vector2:
	var target = route[int(min(route_k + GUIDE_AHEAD, route.size() - 1))]
	var d = target - _flat_position()
	return d.normalized() if d.length() > 0.001 else Vector2()


func _flat_position() -> Vector2:
	var p = body.global_transform.origin
	return Vector2(p.x, p.z)


func _flat_distance() -> float:
	var o = waypoint - body.global_transform.origin
	return Vector2(o.x, o.z).length()


func get_action_space() -> Dictionary:
	return {"move": {"size": 2, "action_type": "continuous"}}


func set_action(action) -> void:
	move = Vector2(clamp(action["move"][0], -1.0, 1.0), clamp(action["move"][1], -1.0, 1.0))


func get_obs() -> Dictionary:
	var o = waypoint - body.global_transform.origin
	var guide = _guide()
	var obs = [o.x / 15.0, o.z / 15.0, _flat_distance() / 15.0, velocity.x / SPEED, velocity.z / SPEED,
			guide.x, guide.y, _route_distance() / 15.0]
	obs += ray_obs
	return {"obs": obs}


func get_position():
	return body.global_transform.origin


func get_info() -> Dictionary:
	var info = .get_info()
	# debug invariant (as a dev build would check it): a walker's centre inside level geometry
	# means it went through something solid
	info["in_solid"] = not world.is_free(body.global_transform.origin, 0.0)
	return info


func _physics_process(_delta: float) -> void:
	if done or body == null:
		return
	velocity = Vector3(move.x, 0, move.y) * SPEED
	velocity = body.move_and_slide(velocity, Vector3.UP)
	var origin = body.global_transform.origin
	if origin.y != 0.5:  # stay on the walking plane
		body.global_transform.origin = Vector3(origin.x, 0.5, origin.z)
	_track()
	var distance = _route_distance()
	add_reward(prev_distance - distance - 0.005)
	prev_distance = distance
	_sense()
	var clearance_potential = _clearance_potential()
	add_reward(clearance_potential - prev_clearance_potential)
	prev_clearance_potential = clearance_potential
	if body.get_slide_count() > 0:
		add_event("collided")
		add_reward(-COLLISION_COST)
		end_episode(false)
	elif _flat_distance() < REACH:
		add_event("waypoint_reached")
		add_reward(10.0)
		end_episode(true)
