extends "res://scripts/world.gd"
# Locomotion: a walled 40 m x 40 m arena with pillars placed from --env_seed; all agents share it
# (they do not collide with each other: agents are on layer 2 and only see layer 1).
# A navigation grid (AStar2D over NAV_CELL m cells keeping NAV_MARGIN m from pillars and walls) is
# the level's navmesh: walkers read the shortest obstacle-free route to their waypoint from it,
# as game AI would.
#
# PLANTED, DOCUMENTED BUG (for bug hunts): the last pillar placed (GHOST_PILLAR) is built without
# its collision shape: it is drawn, it is in the level data (navmesh, obstacle list), but nothing
# stops a character, so walkers can walk into it. The walkers' debug invariant
# info["in_solid"] (a walker's centre inside level geometry) reports it.

const Build = preload("res://scripts/build.gd")
const Walker = preload("res://scripts/walker_agent.gd")
const HALF := 20.0
const NAV_CELL := 0.5
const NAV_MARGIN := 0.7
const PILLARS := 14
const GHOST_PILLAR := PILLARS - 1   # the planted bug: this pillar has no collision shape

var obstacles := []  # Vector3 centres of 2 m x 2 m pillars
var nav := AStar2D.new()


func build_level() -> void:
	Build.static_box(self, Vector3(HALF * 2, 1, HALF * 2), Vector3(0, -0.5, 0))
	for side in [-1, 1]:
		Build.static_box(self, Vector3(HALF * 2, 3, 1), Vector3(0, 1.5, side * (HALF + 0.5)))
		Build.static_box(self, Vector3(1, 3, HALF * 2), Vector3(side * (HALF + 0.5), 1.5, 0))
	for i in range(PILLARS):
		var c = Vector3(world_rng.randf_range(-HALF + 3, HALF - 3), 1.0, world_rng.randf_range(-HALF + 3, HALF - 3))
		obstacles.append(c)
		if i == GHOST_PILLAR:
			Build.mesh_box(self, Vector3(2, 2, 2), c)  # the bug: drawn, but no collision shape
		else:
			Build.static_box(self, Vector3(2, 2, 2), c)
	_build_nav()


func _build_nav() -> void:
	var n = int(HALF * 2 / NAV_CELL) + 1
	for i in range(n):
		for j in range(n):
			var p = Vector3(-HALF + i * NAV_CELL, 0.5, -HALF + j * NAV_CELL)
			if is_free(p, NAV_MARGIN):
				nav.add_point(i * n + j, Vector2(p.x, p.z))
	for i in range(n):
		for j in range(n):
			var id = i * n + j
			if not nav.has_point(id):
				continue
			var right = i + 1 < n and nav.has_point(id + n)
			var down = j + 1 < n and nav.has_point(id + 1)
			var up = j > 0 and nav.has_point(id - 1)
			if right:
				nav.connect_points(id, id + n)
			if down:
				nav.connect_points(id, id + 1)
			# diagonals only where both orthogonal neighbours are free (no corner cutting)
			if right and down and nav.has_point(id + n + 1):
				nav.connect_points(id, id + n + 1)
			if right and up and nav.has_point(id + n - 1):
				nav.connect_points(id, id + n - 1)


func route(from: Vector3, to: Vector3) -> Array:
	# The shortest obstacle-free route on the navigation grid, as Vector2 (x, z) points from
	# `from` to `to` (just [from, to] when the grid has no route).
	var out = [Vector2(from.x, from.z)]
	var path = nav.get_point_path(nav.get_closest_point(Vector2(from.x, from.z)),
			nav.get_closest_point(Vector2(to.x, to.z)))
	for k in range(1, path.size() - 1):
		out.append(path[k])
	out.append(Vector2(to.x, to.z))
	return out


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
