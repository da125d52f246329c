extends "res://scripts/world.gd"
# Voxel stress: endless procedural voxel terrain (OpenSimplexNoise seeded from --env_seed) built in
# CHUNK x CHUNK column chunks around the moving players. Each chunk gets a SurfaceTool mesh plus a
# trimesh collision shape, which costs real milliseconds: at most BUILD_BUDGET chunks are built per
# frame, and chunks far from every player are freed. The per-frame cost is what the test measures.

const Walker = preload("res://scripts/voxel_agent.gd")
const CHUNK := 16
const VIEW := 2            # chunks kept loaded within this radius (in chunks) of each player
const UNLOAD := 4          # chunks farther than this from every player are freed
const BUILD_BUDGET := 2    # chunk builds per physics frame
const SPREAD := 400.0      # players start this far apart

var noise := OpenSimplexNoise.new()
var chunks := {}           # Vector2 chunk coordinate -> StaticBody
var chunks_built := 0
var first_served := 0       # the round robin's first player this frame (rotates every frame)


func build_level() -> void:
	noise.seed = world_rng.randi()
	noise.octaves = 3
	noise.period = 48.0
	noise.persistence = 0.5


func make_agent(index: int) -> Node:
	var agent = Walker.new()
	agent.world = self
	agent.home = Vector2(index * SPREAD, 0)
	return agent


func height_at(x: int, z: int) -> int:
	return int(round(6.0 + 6.0 * noise.get_noise_2d(x, z)))


func chunk_of(p: Vector3) -> Vector2:
	return Vector2(floor(p.x / CHUNK), floor(p.z / CHUNK))


func missing_around(center: Vector2, radius: int) -> Array:
	var out = []
	for dz in range(-radius, radius + 1):
		for dx in range(-radius, radius + 1):
			var c = center + Vector2(dx, dz)
			if not chunks.has(c):
				out.append(c)
	return out


func _physics_process(_delta: float) -> void:
	# Build missing chunks near players (nearest first, round robin over players), then unload.
	var budget = BUILD_BUDGET
	var count = agents.size()
	for n in range(count):
		if budget <= 0:
			break
		var agent = agents[(first_served + n) % count]
		var center = chunk_of(agent.get_position())
		for ring in range(VIEW + 1):
			var todo = missing_around(center, ring)
			if todo.size() > 0:
				var started = OS.get_ticks_usec()
				_build_chunk(todo[0])
				agent.charge_build((OS.get_ticks_usec() - started) / 1000.0)
				budget -= 1
				break
	first_served = (first_served + 1) % int(max(1, agents.size()))
	if Engine.get_physics_frames() % 30 == 0:
		_unload_far()


func _unload_far() -> void:
	var centers = []
	for agent in agents:
		centers.append(chunk_of(agent.get_position()))
	for c in chunks.keys():
		var near = false
		for center in centers:
			if max(abs(c.x - center.x), abs(c.y - center.y)) <= UNLOAD:
				near = true
				break
		if not near:
			chunks[c].queue_free()
			chunks.erase(c)


func _quad(st: SurfaceTool, a: Vector3, b: Vector3, c: Vector3, d: Vector3, normal: Vector3) -> void:
	st.add_normal(normal)
	st.add_vertex(a)
	st.add_normal(normal)
	st.add_vertex(b)
	st.add_normal(normal)
	st.add_vertex(c)
	st.add_normal(normal)
	st.add_vertex(a)
	st.add_normal(normal)
	st.add_vertex(c)
	st.add_normal(normal)
	st.add_vertex(d)


func _build_chunk(c: Vector2) -> void:
	var st = SurfaceTool.new()
	st.begin(Mesh.PRIMITIVE_TRIANGLES)
	var x0 = int(c.x) * CHUNK
	var z0 = int(c.y) * CHUNK
	for z in range(z0, z0 + CHUNK):
		for x in range(x0, x0 + CHUNK):
			var h = height_at(x, z)
			_quad(st, Vector3(x, h, z), Vector3(x + 1, h, z), Vector3(x + 1, h, z + 1), Vector3(x, h, z + 1), Vector3.UP)
			var east = height_at(x + 1, z)
			if east < h:
				_quad(st, Vector3(x + 1, h, z), Vector3(x + 1, east, z), Vector3(x + 1, east, z + 1), Vector3(x + 1, h, z + 1), Vector3.RIGHT)
			elif east > h:
				_quad(st, Vector3(x + 1, h, z + 1), Vector3(x + 1, east, z + 1), Vector3(x + 1, east, z), Vector3(x + 1, h, z), Vector3.LEFT)
			var south = height_at(x, z + 1)
			if south < h:
				_quad(st, Vector3(x + 1, h, z + 1), Vector3(x + 1, south, z + 1), Vector3(x, south, z + 1), Vector3(x, h, z + 1), Vector3.BACK)
			elif south > h:
				_quad(st, Vector3(x, h, z + 1), Vector3(x, south, z + 1), Vector3(x + 1, south, z + 1), Vector3(x + 1, h, z + 1), Vector3.FORWARD)
	var mesh = st.commit()
	var body = StaticBody.new()
	body.collision_layer = 1
	body.collision_mask = 0
	var view = MeshInstance.new()
	view.mesh = mesh
	body.add_child(view)
	var shape = CollisionShape.new()
	shape.shape = mesh.create_trimesh_shape()
	body.add_child(shape)
	add_child(body)
	chunks[c] = body
	chunks_built += 1
