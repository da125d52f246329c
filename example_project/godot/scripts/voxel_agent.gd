extends "res://addons/rlplaytest/agent_controller.gd"
# A fast flyer skimming the voxel terrain; it is rewarded for the frame cost it causes.
#   action "move" (continuous, 2): velocity on x and z (x SPEED m/s).
#   obs (8): offset from its start (/200), last velocity (/SPEED), and for +x, -x, +z, -z the
#   fraction of not-yet-built chunks in the ring just outside the loaded area.
#   reward: the milliseconds of chunk building this agent triggered (/ 10) -> frame-cost spikes;
#   event "frame_spike" when one build took longer than a 60 fps frame (16.7 ms).
#   info: "chunk_build_ms" and "chunks_built" (this agent's share of the chunk builds this step;
#   the count does not depend on the machine's speed), "chunks_loaded" (in the whole world).

const SPEED := 12.0
const SPIKE_MS := 16.7

var world
var home := Vector2()
var pos := Vector3()
var move := Vector2()
var build_ms := 0.0
var build_count := 0


func _init() -> void:
	max_steps = 300


func reset_game() -> void:
	pos = Vector3(home.x + rng.randf_range(-50, 50), 0, home.y + rng.randf_range(-50, 50))
	pos.y = world.height_at(int(floor(pos.x)), int(floor(pos.z))) + 2.0
	move = Vector2()
	build_ms = 0.0
	build_count = 0


func charge_build(ms: float) -> void:
	build_ms += ms
	build_count += 1
	add_reward(ms / 10.0)
	if ms > SPIKE_MS:
		add_event("frame_spike")


func get_action_space() -> Dictionary:
	return {"move": {"size": 2, "action_type": "continuous"}}


func set_action(action) -> void:
	move = Vector2(clamp(action["move"][0], -1.0, 1.0), clamp(action["move"][1], -1.0, 1.0))


func _unbuilt_fraction(center: Vector2, axis: Vector2) -> float:
	var ring = world.VIEW + 1
	var missing = 0
	for k in range(-ring, ring + 1):
		var c = center + axis * ring + Vector2(axis.y, axis.x) * k
		if not world.chunks.has(c):
			missing += 1
	return float(missing) / (2 * ring + 1)


func get_obs() -> Dictionary:
	var center = world.chunk_of(pos)
	return {"obs": [
		(pos.x - home.x) / 200.0, (pos.z - home.y) / 200.0, move.x, move.y,
		_unbuilt_fraction(center, Vector2(1, 0)), _unbuilt_fraction(center, Vector2(-1, 0)),
		_unbuilt_fraction(center, Vector2(0, 1)), _unbuilt_fraction(center, Vector2(0, -1)),
	]}


func get_position():
	return pos


func get_info() -> Dictionary:
	var info = .get_info()
	info["chunk_build_ms"] = build_ms
	info["chunks_built"] = build_count
	info["chunks_loaded"] = world.chunks.size()
	build_ms = 0.0
	build_count = 0
	return info


func _physics_process(delta: float) -> void:
	if done:
		return
	pos.x += move.x * SPEED * delta
	pos.z += move.y * SPEED * delta
	pos.y = world.height_at(int(floor(pos.x)), int(floor(pos.z))) + 2.0
