extends Reference
# Helpers to build level geometry from code (scenes stay small text files).


static func static_box(parent: Node, size: Vector3, origin: Vector3, with_mesh: bool = true) -> StaticBody:
	var body = StaticBody.new()
	body.collision_layer = 1
	body.collision_mask = 0
	var shape = CollisionShape.new()
	var box = BoxShape.new()
	box.extents = size * 0.5
	shape.shape = box
	body.add_child(shape)
	if with_mesh:
		var mesh = MeshInstance.new()
		var cube = CubeMesh.new()
		cube.size = size
		mesh.mesh = cube
		body.add_child(mesh)
	parent.add_child(body)
	body.translation = origin
	return body


static func mesh_box(parent: Node, size: Vector3, origin: Vector3) -> MeshInstance:
	# A drawn box with no collision at all.
	var mesh = MeshInstance.new()
	var cube = CubeMesh.new()
	cube.size = size
	mesh.mesh = cube
	mesh.translation = origin
	parent.add_child(mesh)
	return mesh


static func ray_ring(parent: Spatial, count: int, length: float, mask: int = 1) -> Array:
	# count horizontal RayCasts evenly around the parent, colliding with `mask` only.
	var rays = []
	for i in range(count):
		var angle = TAU * i / count
		var ray = RayCast.new()
		ray.enabled = true
		ray.cast_to = Vector3(cos(angle), 0, sin(angle)) * length
		ray.collision_mask = mask
		parent.add_child(ray)
		rays.append(ray)
	return rays


static func ray_distances(rays: Array, length: float) -> Array:
	# Normalised hit distances (1.0 = nothing within range).
	var out = []
	for ray in rays:
		ray.force_raycast_update()
		if ray.is_colliding():
			out.append(ray.global_transform.origin.distance_to(ray.get_collision_point()) / length)
		else:
			out.append(1.0)
	return out
