extends "res://addons/rlplaytest/agent_controller.gd"
# A rigid-body lander (Bullet physics, rotation locked, moving in the x-y plane).
#   action "thrust" (continuous, 2): [main engine -1..1 -> 0..MAIN_ACCEL up, lateral -1..1]
#   obs (6): offset to the pad centre and height (/10), velocity (/5), time left, main engine.
#   success: touchdown within PAD_RADIUS m of the pad centre at under SAFE_SPEED m/s -> "landed";
#   a faster or off-pad touchdown, or leaving the area -> "crashed" (the episode ends either way).
#   reward: potential-based shaping on the distance to the pad and on how far the velocity is from
#   a safe approach (see _potential), -0.01 per step and -0.01 x main engine (fuel: hovering to the
#   time limit is not free), +10 landed; a crash costs 2 + 0.5 x impact speed + 0.3 per metre off
#   the pad (graded, so softer and nearer touchdowns are learnt first), leaving the area -5.

const MAIN_ACCEL := 20.0
const SIDE_ACCEL := 6.0
const PAD_RADIUS := 2.0
const SAFE_SPEED := 2.0
const HALF_HEIGHT := 0.25

var pad := Vector3()
var body: RigidBody
var thrust := Vector2()
var prev_speed := 0.0
var prev_potential := 0.0


func _init() -> void:
	max_steps = 600


func _ready() -> void:
	_make_body()


func _make_body() -> void:
	if body != null:
		return
	body = RigidBody.new()
	body.mass = 1.0
	body.can_sleep = false
	body.collision_layer = 2
	body.collision_mask = 1
	body.axis_lock_angular_x = true
	body.axis_lock_angular_y = true
	body.axis_lock_angular_z = true
	body.axis_lock_linear_z = true
	var shape = CollisionShape.new()
	var box = BoxShape.new()
	box.extents = Vector3(0.5, HALF_HEIGHT, 0.5)
	shape.shape = box
	body.add_child(shape)
	var mesh = MeshInstance.new()
	var cube = CubeMesh.new()
	cube.size = Vector3(1, HALF_HEIGHT * 2, 1)
	mesh.mesh = cube
	body.add_child(mesh)
	add_child(body)


func get_action_space() -> Dictionary:
	return {"thrust": {"size": 2, "action_type": "continuous"}}


func set_action(action) -> void:
	thrust = Vector2(clamp(action["thrust"][0], -1.0, 1.0), clamp(action["thrust"][1], -1.0, 1.0))


func reset_game() -> void:
	_make_body()
	var start = pad + Vector3(rng.randf_range(-8, 8), rng.randf_range(10, 15), 0)
	body.global_transform = Transform(Basis(), start)
	body.linear_velocity = Vector3(rng.randf_range(-2, 2), rng.randf_range(-2, 0), 0)
	body.angular_velocity = Vector3()
	body.sleeping = false
	thrust = Vector2()
	prev_speed = body.linear_velocity.length()
	prev_potential = _potential()


func _offset() -> Vector3:
	return body.global_transform.origin - pad


func _potential() -> float:
	# Distance to the pad plus how far the velocity is from a safe approach: towards the pad
	# centre sideways, and descending at a speed that shrinks with height (about 1 m/s near the
	# ground). Rewarding the change of this potential keeps the optimal policy unchanged.
	var o = _offset()
	var v = body.linear_velocity
	var height = max(o.y - HALF_HEIGHT, 0.0)
	var want_vx = clamp(-0.5 * o.x, -3.0, 3.0)
	var want_vy = -clamp(0.4 * height + 0.8, 0.8, 4.0)
	return -(abs(o.x) / 5.0 + height / 10.0 + (abs(v.x - want_vx) + abs(v.y - want_vy)) / 3.0)


func get_obs() -> Dictionary:
	var o = _offset()
	var v = body.linear_velocity
	var left = 1.0 - float(n_steps) / max(1, max_steps)
	return {"obs": [o.x / 10.0, (o.y - HALF_HEIGHT) / 10.0, v.x / 5.0, v.y / 5.0, left, (thrust.x + 1.0) * 0.5]}


func get_position():
	return body.global_transform.origin


func get_info() -> Dictionary:
	var info = .get_info()
	info["speed"] = body.linear_velocity.length()
	return info


func _physics_process(delta: float) -> void:
	if done or body == null:
		return
	var main = (thrust.x + 1.0) * 0.5
	body.apply_central_impulse(Vector3(thrust.y * SIDE_ACCEL, main * MAIN_ACCEL, 0) * delta * body.mass)
	add_reward(-0.01 * main - 0.01)  # fuel, and time: hovering until the time limit costs 6
	var o = _offset()
	var speed = body.linear_velocity.length()
	var potential = _potential()
	add_reward(potential - prev_potential)
	prev_potential = potential
	if o.y - HALF_HEIGHT <= 0.05:
		var impact = max(speed, prev_speed)
		if abs(o.x) <= PAD_RADIUS and impact < SAFE_SPEED:
			add_event("landed")
			add_reward(10.0)
			end_episode(true)
		else:
			# graded: a softer touchdown nearer the pad is a smaller failure (gives a gradient)
			add_event("crashed")
			add_reward(-2.0 - 0.5 * impact - 0.3 * max(abs(o.x) - PAD_RADIUS, 0.0))
			end_episode(false)
	elif abs(o.x) > 25.0 or o.y > 30.0:
		add_event("crashed")
		add_event("left_area")
		add_reward(-5.0)
		end_episode(false)
	prev_speed = speed
