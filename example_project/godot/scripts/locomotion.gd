extends "res://scripts/world.gd"
# Locomotion: a walled 40 m x 40 m arena with pillars placed from --env_seed; all agents share it
# (they do not collide with each other: agents are on layer 2 and only see layer 1).

const Build = preload("res://scripts/build.gd")
const Walker = preload("res://scripts/walker_agent.gd")
const HALF := 20.0

var obstacles := []  # Vector3 centres of 2 m x 2 m pillars


func build_level() -> void:
	Build.static_box(self, Vector3(HALF * 2, 1, HALF * 2), Vector3(0, -0.5, 0))
	for side in [-1, 1]:
		Build.static_box(self, Vector3(HALF * 2, 3, 1), Vector3(0, 1.5, side * (HALF + 0.5)))
		Build.static_box(self, Vector3(1, 3, HALF * 2), Vector3(side * (HALF + 0.5), 1.5, 0))
	for _i in range(14):
		var c = Vector3(world_rng.randf_range(-HALF + 3, HALF - 3), 1.0, world_rng.randf_range(-HALF + 3, HALF - 3))
		obstacles.append(c)
		Build.static_box(self, Vector3(2, 2, 2), c)


func is_free(p: Vector3, margin: float) -> bool:
	if abs(p.x) > HALF - margin or abs(p.z) > HALF - margin:
		return false
	for c in obstacles:
		if abs(p.x - c.x) < 1.0 + margin and abs(p.z - c.z) < 1.0 + margin:
			return false
	return true


func make_agent(_index: int) -> Node:
	var agent = Walker.new()
	agent.world = self
	return agent
