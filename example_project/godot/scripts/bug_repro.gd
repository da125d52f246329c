extends "res://scripts/world.gd"
# Bug repro arena with a PLANTED, DOCUMENTED BUG (for bug-hunting playtests):
#
#   BUG: the floor is built from slabs whose collision shapes do not meet along a seam at
#   x = SEAM_X .. SEAM_X + SEAM_GAP for z in SEAM_Z0 .. SEAM_Z1 (a 0.9 m gap). The visual floor
#   mesh is continuous, so nothing shows it; a character running over the seam drops through the
#   floor and falls out of the world (event "out_of_world").
#
# Elsewhere the gap is covered by a bridging slab. Walls keep characters inside the 40 m arena.

const Build = preload("res://scripts/build.gd")
const Runner = preload("res://scripts/runner_agent.gd")
const HALF := 20.0
const SEAM_X := 6.0
const SEAM_GAP := 0.9
const SEAM_Z0 := 8.0
const SEAM_Z1 := 11.0


func build_level() -> void:
	var left = SEAM_X + HALF
	var right = HALF - SEAM_X - SEAM_GAP
	Build.static_box(self, Vector3(left, 1, HALF * 2), Vector3(-HALF + left * 0.5, -0.5, 0), false)
	Build.static_box(self, Vector3(right, 1, HALF * 2), Vector3(HALF - right * 0.5, -0.5, 0), false)
	# the bridge covers the gap everywhere except SEAM_Z0..SEAM_Z1 (the bug)
	var gx = SEAM_X + SEAM_GAP * 0.5
	var south = SEAM_Z0 + HALF
	var north = HALF - SEAM_Z1
	Build.static_box(self, Vector3(SEAM_GAP, 1, south), Vector3(gx, -0.5, -HALF + south * 0.5), false)
	Build.static_box(self, Vector3(SEAM_GAP, 1, north), Vector3(gx, -0.5, HALF - north * 0.5), false)
	# the continuous visual floor (no collision)
	var floor_mesh = MeshInstance.new()
	var plane = PlaneMesh.new()
	plane.size = Vector2(HALF * 2, HALF * 2)
	floor_mesh.mesh = plane
	add_child(floor_mesh)
	for side in [-1, 1]:
		Build.static_box(self, Vector3(HALF * 2, 3, 1), Vector3(0, 1.5, side * (HALF + 0.5)))
		Build.static_box(self, Vector3(1, 3, HALF * 2), Vector3(side * (HALF + 0.5), 1.5, 0))


func make_agent(_index: int) -> Node:
	return Runner.new()
