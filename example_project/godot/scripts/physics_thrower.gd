extends "res://addons/rlplaytest/agent_controller.gd"
# A thrower on the rim of the physics-stress pit: every step it throws one rigid body.
#   action "throw" (continuous, 3): aim yaw (+-45 degrees around the pit's centre; the thrower
#   also walks along the rim that way, up to WALK radians a step), pitch (0..60 degrees up) and
#   speed (4..16 m/s); boxes and spheres alternate.
#   obs (6): its position on the rim (/15), the last aim, its live bodies (/MAX_BODIES) and how
#   many of them are still moving (/MAX_BODIES).
#   reward: the fraction of its bodies still moving (a pile that keeps colliding costs the most).
#   info: "bodies" (this agent's live bodies), "moving_bodies", "position" (the thrower).

const MAX_BODIES := 24
const RIM := 13.0
const WALK := 0.02

var world
var home_angle := 0.0     # where on the rim this thrower starts its episodes
var angle := 0.0
var aim := Vector3()
var bodies := []
var thrown := 0


func _init() -> void:
	max_steps = 100


func reset_game() -> void:
	# free() at once (not queue_free): the object count reported right after the reset is exact
	for body in bodies:
		body.free()
	bodies = []
	thrown = 0
	aim = Vector3()
	angle = home_angle + rng.randf_range(-0.3, 0.3)


func origin() -> Vector3:
	return Vector3(cos(angle) * RIM, 3.0, sin(angle) * RIM)


func get_action_space() -> Dictionary:
	return {"throw": {"size": 3, "action_type": "continuous"}}


func set_action(action) -> void:
	var a = action["throw"]
	aim = Vector3(clamp(a[0], -1.0, 1.0), clamp(a[1], -1.0, 1.0), clamp(a[2], -1.0, 1.0))
	angle += aim.x * WALK
	_throw()


func _throw() -> void:
	if bodies.size() >= MAX_BODIES:
		bodies.pop_front().free()
	var body = RigidBody.new()
	var shape = CollisionShape.new()
	if thrown % 2 == 0:
		var box = BoxShape.new()
		box.extents = Vector3(0.3, 0.3, 0.3)
		shape.shape = box
	else:
		var sphere = SphereShape.new()
		sphere.radius = 0.3
		shape.shape = sphere
	body.add_child(shape)
	body.mass = 1.0
	world.add_child(body)
	body.global_transform = Transform(Basis(), origin())
	var yaw = angle + PI + aim.x * PI / 4.0
	var pitch = (aim.y + 1.0) * PI / 6.0
	var speed = 10.0 + aim.z * 6.0
	body.linear_velocity = Vector3(cos(yaw) * cos(pitch), sin(pitch), sin(yaw) * cos(pitch)) * speed
	bodies.append(body)
	thrown += 1


func _moving() -> int:
	var n = 0
	for body in bodies:
		if not body.sleeping and body.linear_velocity.length() > 0.1:
			n += 1
	return n


func get_obs() -> Dictionary:
	var p = origin()
	return {"obs": [p.x / 15.0, p.z / 15.0, aim.x, aim.y, float(bodies.size()) / MAX_BODIES,
			float(_moving()) / MAX_BODIES]}


func get_position():
	return origin()


func _physics_process(_delta: float) -> void:
	if not done:
		add_reward(float(_moving()) / MAX_BODIES / 10.0)


func get_info() -> Dictionary:
	var info = .get_info()
	info["bodies"] = bodies.size()
	info["moving_bodies"] = _moving()
	return info
