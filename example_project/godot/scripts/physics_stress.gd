extends "res://scripts/world.gd"
# Physics stress: a walled 30 m pit; each agent (physics_thrower.gd) stands on the rim and throws
# rigid bodies (boxes and spheres) into it, so the bodies pile up and collide. Every body an agent
# throws belongs to it: at most MAX_BODIES live at once (the oldest is freed first) and all of them
# are freed when its episode resets, so the world's object count right after a reset must not grow
# from episode to episode (the test's leak check).

const Build = preload("res://scripts/build.gd")
const Thrower = preload("res://scripts/physics_thrower.gd")
const HALF := 15.0


func build_level() -> void:
	Build.static_box(self, Vector3(HALF * 2, 1, HALF * 2), Vector3(0, -0.5, 0), false)
	for side in [-1, 1]:
		Build.static_box(self, Vector3(HALF * 2, 4, 1), Vector3(0, 2, side * (HALF + 0.5)), false)
		Build.static_box(self, Vector3(1, 4, HALF * 2), Vector3(side * (HALF + 0.5), 2, 0), false)


func make_agent(index: int) -> Node:
	var agent = Thrower.new()
	agent.world = self
	agent.home_angle = index * 2.399963  # golden-angle spread of the throwers around the rim
	return agent
