extends Reference
# Per-step engine telemetry for the info dict (keys: frame_ms, object_count, static_memory_mb).
#
# frame_ms is the game's own work per physics frame, measured with OS.get_ticks_usec(): the time
# from the moment the sync node stops talking to the driver in frame N (release) to the moment it
# starts again in frame N+1 (frame_begin). It covers every other node's _physics_process, the
# physics server step and the idle frame, and EXCLUDES the time spent blocked on the socket.
# Over a step of several frames (action_repeat > 1) the worst frame is reported.
# (Performance.TIME_PHYSICS_PROCESS refreshes only once per wall-clock second: useless here.)

var _release_usec := -1
var _step_max_usec := 0
var _step_frames := 0
var frames_total := 0


func frame_begin() -> void:
	if _release_usec >= 0:
		var work = OS.get_ticks_usec() - _release_usec
		if work > _step_max_usec:
			_step_max_usec = work
		_step_frames += 1
		frames_total += 1


func release() -> void:
	_release_usec = OS.get_ticks_usec()


func step_begin() -> void:
	_step_max_usec = 0
	_step_frames = 0


func values() -> Array:
	# [frame_ms, object_count, static_memory_mb], in the order of the float32 block (sync.gd)
	return [_step_max_usec / 1000.0, Performance.get_monitor(Performance.OBJECT_COUNT),
			Performance.get_monitor(Performance.MEMORY_STATIC) / 1048576.0]


func snapshot() -> Dictionary:
	return {
		"frame_ms": _step_max_usec / 1000.0,
		"object_count": Performance.get_monitor(Performance.OBJECT_COUNT),
		"static_memory_mb": Performance.get_monitor(Performance.MEMORY_STATIC) / 1048576.0,
	}
