extends Node
# The RL sync node: add it to a scene (any name) to make the scene trainable/testable.
#
# It connects as a TCP client to the Python driver on 127.0.0.1:--port (pytest-rlplaytest or
# godot-rl's GodotEnv), speaks the Godot RL Agents wire protocol (u32 little-endian length + JSON)
# and runs the game in lockstep: each physics frame it blocks until the driver sends an action,
# applies it for --action_repeat frames, then replies with observations, rewards, dones and infos.
# Agents are the nodes in group "AGENT" (agent_controller.gd adds itself), in tree order.
#
# Command line: --port=P (no port: the game runs without a driver), --env_seed=S (seeds the global
# RNG and every agent's RNG), --action_repeat=K, --speedup=X, --connect_timeout=SECONDS.
# Run under --fixed-fps 60 so physics time does not depend on the wall clock.
#
# Step replies carry the engine telemetry (frame_ms, object_count, static_memory_mb) once, in the
# top-level "rlplaytest" object (the driver copies it into every agent's info). A driver that says
# "rlplaytest": {"f32": true} in its handshake (pytest-rlplaytest) gets the observations, rewards
# and telemetry of step replies as one base64 block of float32 values in "f32" (agent by agent,
# keys in sorted order, then the rewards, then frame_ms, object_count, static_memory_mb) instead of
# JSON numbers: Godot 3's JSON.print formats about one float per microsecond, which dominated the
# cost of a step. Other drivers (godot-rl) get plain JSON. A step whose observations do not match the
# declared sizes goes out as plain JSON, so the driver can name the agent and key; inside a block,
# values convert as Godot converts them to float (true -> 1.0), while reset replies are always JSON
# and fully checked by the driver.
# A driver that also says "rlplaytest": {"actions_f32": true} in its handshake may send each step's
# actions as one binary message instead of JSON: var2bytes of a PoolRealArray (u32 type 22, u32
# count, float32 values: agent by agent, the action keys in the order of get_action_space()). The
# addon accepts in env_info ("actions_f32": true) when every action key is continuous; then parsing
# the action JSON (about 14 us per 16-agent step) is gone. A JSON action message is always accepted.
# Per-step work avoids allocations it can skip: agent capabilities (has_method) are looked up once,
# the reply's arrays are reused, and the common step (no agent done, every info empty) sends its
# dones and infos as constant strings built once instead of printing them.
# A driver that also says "rlplaytest": {"step_f32": true} gets step replies as binary messages:
# var2bytes of the block's PoolRealArray (u32 type 22, u32 count, the values in the block's order),
# then, only when an agent is done or an info is not empty, the JSON text {"done": [...], "info":
# [...]}. The common step (no agent done, every info empty) is the values alone: no base64, no JSON
# text and no parsing on either side. The addon accepts in env_info ("step_f32": true) when the
# observations have a float32 layout ("f32": true); a step whose observations do not fit it is JSON.
# A game whose env_info says "recv_spin": true accepts {"type": "recv_spin", "usec": N} (no reply):
# before each blocking read it polls the socket for up to N microseconds (0: off, at most 100000).
# A blocking read that has to sleep costs a wake-up per step (tens of microseconds, more in a VM);
# the driver asks for a spin only when the machine has a core for every spinning process
# (pytest_rlplaytest/engines/godot/protocol.py, spin_plan), since the game then keeps its core busy
# while the learner computes the next action.

const ADDON_VERSION := "0.1.0"
const PROTOCOL_MAJOR := "0"
const PROTOCOL_MINOR := "7"
const Args = preload("res://addons/rlplaytest/args.gd")
const Telemetry = preload("res://addons/rlplaytest/telemetry.gd")

export var agent_group := "AGENT"
export var connect_timeout := 10.0

var stream: StreamPeerTCP = null
var agents := []
var agents_collected := false
var action_repeat := 1
var repeat_left := 0
var env_seed := 0
var telemetry = Telemetry.new()
var quitting := false
var steps := 0
var warned_actions := false
# per agent, looked up once: [rl_after_step, zero_reward, get_done, get_info, set_done_false, rl_auto_reset]
var caps := []
# the driver accepts float32 blocks (see the header)
var f32_ok := false
# [key, size] of the observation keys in sorted order, when every key is a flat numeric box
var f32_layout := []
var f32_width := 0
# the one observation key when there is just one (the common case gets a shorter loop)
var f32_key := ""
# the driver offered binary action blocks; [key, size] of the action keys when the addon accepted
var bin_offered := false
# the driver reads binary step replies (its handshake's "step_f32") and the layout allows them
var step_bin_offered := false
var step_bin := false
var bin_layout := []
var bin_width := 0
var head_buf := PoolByteArray([0, 0, 0, 0])
# microseconds _recv polls before it blocks (set by the driver's recv_spin message)
var spin_usec := 0
# the step reply's arrays, reused every step (sized once, when the agents are collected)
var step_obs := []
var step_rewards := []
var step_dones := []
var step_infos := []
# the JSON of the common step: no agent done, every info empty (built once: no per-step printing)
var all_false_text := "[]"
var all_empty_text := "[]"


func _ready() -> void:
	process_priority = -1000000
	pause_mode = Node.PAUSE_MODE_PROCESS
	env_seed = Args.get_int("env_seed", 0)
	seed(env_seed)
	action_repeat = int(max(1, Args.get_int("action_repeat", 1)))
	var speedup = Args.get_float("speedup", 1.0)
	if speedup > 0.0 and speedup != 1.0:
		Engine.iterations_per_second = int(round(60 * speedup))
		Engine.time_scale = speedup
	var port = Args.get_int("port", -1)
	if port < 0:
		print("rlplaytest: no --port given; the game runs without an RL driver")
		return
	connect_timeout = Args.get_float("connect_timeout", connect_timeout)
	if not _connect(port):
		printerr("rlplaytest: could not connect to the RL driver on 127.0.0.1:%d within %.1f s" % [port, connect_timeout])
		quitting = true
		get_tree().quit(3)


func _connect(port: int) -> bool:
	var deadline = OS.get_ticks_msec() + int(connect_timeout * 1000.0)
	stream = StreamPeerTCP.new()
	while OS.get_ticks_msec() < deadline:
		var status = stream.get_status()
		if status == StreamPeerTCP.STATUS_CONNECTED:
			stream.set_no_delay(true)
			return true
		if status == StreamPeerTCP.STATUS_NONE or status == StreamPeerTCP.STATUS_ERROR:
			stream.disconnect_from_host()
			stream.connect_to_host("127.0.0.1", port)
		# (StreamPeerTCP has no blocking connect; a local connect completes within microseconds)
		OS.delay_usec(200)
	return false


func _collect_agents() -> void:
	agents = get_tree().get_nodes_in_group(agent_group)
	caps = []
	for i in range(agents.size()):
		var a = agents[i]
		if a.has_method("rl_set_index"):
			a.rl_set_index(i)
		caps.append([a.has_method("rl_after_step"), a.has_method("zero_reward"), a.has_method("get_done"),
				a.has_method("get_info"), a.has_method("set_done_false"), a.has_method("rl_auto_reset")])
	var n = agents.size()
	for buf in [step_obs, step_rewards, step_dones, step_infos]:
		buf.resize(n)
	var falses = PoolStringArray()
	var empties = PoolStringArray()
	for _i in range(n):
		falses.append("false")
		empties.append("{}")
	all_false_text = "[" + falses.join(",") + "]"
	all_empty_text = "[" + empties.join(",") + "]"
	agents_collected = true


func _physics_process(_delta: float) -> void:
	if stream == null or quitting:
		return
	telemetry.frame_begin()
	if not agents_collected:
		_collect_agents()
	if repeat_left > 0:
		repeat_left -= 1
		if repeat_left > 0:
			telemetry.release()
			return
		_send_step_reply()
	_serve()
	telemetry.release()


# ---- wire ---------------------------------------------------------------------------------
func _send(message: Dictionary) -> void:
	_send_text(JSON.print(message))


func _send_text(text: String) -> void:
	_send_bytes(text.to_utf8())


func _send_bytes(body: PoolByteArray) -> void:
	# one write per message (the length and the body together: one TCP segment with no_delay)
	var n = body.size()
	head_buf[0] = n & 255
	head_buf[1] = (n >> 8) & 255
	head_buf[2] = (n >> 16) & 255
	head_buf[3] = (n >> 24) & 255
	var packet = head_buf
	packet.append_array(body)
	stream.put_data(packet)


func _recv():
	# Blocks until a whole message arrives. Returns null when the connection is gone.
	if spin_usec > 0 and stream.get_available_bytes() == 0:
		var spin_end = OS.get_ticks_usec() + spin_usec
		while stream.get_available_bytes() == 0 and OS.get_ticks_usec() < spin_end:
			pass
	var head = stream.get_data(4)
	if head[0] != OK or head[1].size() != 4:
		return null
	var b = head[1]
	var n = b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)
	var body = stream.get_data(n)
	if body[0] != OK:
		return null
	if bin_width > 0 and n > 0 and body[1][0] == 22:  # a binary action block ('{' starts JSON)
		return bytes2var(body[1])
	var parsed = JSON.parse(body[1].get_string_from_utf8())
	if parsed.error != OK or typeof(parsed.result) != TYPE_DICTIONARY:
		printerr("rlplaytest: the driver sent a message that is not a JSON object: ", parsed.error_string)
		return {}
	return parsed.result


func _serve() -> void:
	# Answer messages until an action arrives (then the frame goes on) or the driver leaves.
	while true:
		var message = _recv()
		if message == null:
			printerr("rlplaytest: the RL driver closed the connection; quitting")
			quitting = true
			get_tree().quit(0)
			return
		if typeof(message) == TYPE_REAL_ARRAY:  # a binary action block: the common step
			_apply_bin_actions(message)
			repeat_left = action_repeat
			telemetry.step_begin()
			return
		var kind = message.get("type", "")
		if kind == "action":  # the per-step message first
			_apply_actions(message.get("action", []))
			repeat_left = action_repeat
			telemetry.step_begin()
			return
		elif kind == "handshake":
			if str(message.get("major_version", "")) != PROTOCOL_MAJOR:
				printerr("rlplaytest: driver speaks protocol major version ", message.get("major_version"))
			var ext = message.get("rlplaytest", null)
			f32_ok = typeof(ext) == TYPE_DICTIONARY and ext.get("f32", false) == true
			bin_offered = typeof(ext) == TYPE_DICTIONARY and ext.get("actions_f32", false) == true
			step_bin_offered = typeof(ext) == TYPE_DICTIONARY and ext.get("step_f32", false) == true
		elif kind == "env_info":
			var info = _env_info()
			info["rlplaytest"]["actions_f32"] = _accept_bin_actions()
			_send(info)
		elif kind == "reset":
			_reset_all(message)
			_send({"type": "reset", "obs": _collect_obs(), "info": _collect_reset_info()})
		elif kind == "recv_spin":
			spin_usec = int(clamp(float(message.get("usec", 0)), 0.0, 100000.0))
		elif kind == "call":
			var returns = []
			var method = str(message.get("method", ""))
			for agent in agents:
				returns.append(agent.call(method) if agent.has_method(method) else null)
			_send({"type": "call", "returns": returns})
		elif kind == "close":
			quitting = true
			get_tree().quit(0)
			return
		else:
			printerr("rlplaytest: unknown message type '", kind, "'")
			_send({"type": "error", "message": "unknown message type '%s'" % kind})


func _f32_layout_of(space) -> Array:
	# [[key, size], ...] in sorted key order when every key is a flat numeric box, else []
	if typeof(space) != TYPE_DICTIONARY or space.empty():
		return []
	var keys = space.keys()
	keys.sort()
	var layout = []
	for key in keys:
		var entry = space[key]
		if typeof(key) != TYPE_STRING or "2d" in key or typeof(entry) != TYPE_DICTIONARY:
			return []
		if str(entry.get("space", "box")) != "box":
			return []
		var size = entry.get("size", null)
		if typeof(size) == TYPE_ARRAY and size.size() == 1:
			size = size[0]
		if typeof(size) != TYPE_INT and typeof(size) != TYPE_REAL:
			return []
		layout.append([key, int(size)])
	return layout


func _env_info() -> Dictionary:
	var obs_spaces = []
	var action_spaces = []
	var policies = []
	for agent in agents:
		obs_spaces.append(agent.get_obs_space())
		action_spaces.append(agent.get_action_space())
		policies.append(agent.get("policy_name") if agent.get("policy_name") != null else "shared_policy")
	f32_layout = []
	f32_width = 0
	if f32_ok and obs_spaces.size() > 0:
		f32_layout = _f32_layout_of(obs_spaces[0])
		for i in range(1, obs_spaces.size()):
			if obs_spaces[i].hash() != obs_spaces[0].hash():
				f32_layout = []
		for entry in f32_layout:
			f32_width += entry[1]
		f32_key = f32_layout[0][0] if f32_layout.size() == 1 else ""
	step_bin = step_bin_offered and not f32_layout.empty()
	return {
		"type": "env_info",
		"observation_space": obs_spaces,
		"action_space": action_spaces,
		"n_agents": agents.size(),
		"agent_policy_names": policies,
		"rlplaytest": {
			"addon_version": ADDON_VERSION,
			"godot_version": Engine.get_version_info().string,
			"physics_fps": Engine.iterations_per_second,
			"action_repeat": action_repeat,
			"env_seed": env_seed,
			"auto_reset": true,
			"f32": not f32_layout.empty(),
			"step_f32": step_bin,
			"telemetry": "rlplaytest",
			"recv_spin": true,
		},
	}


func _accept_bin_actions() -> bool:
	# binary action blocks when the driver offered them and every action key is continuous
	bin_layout = []
	bin_width = 0
	if not bin_offered or agents.empty():
		return false
	var space = agents[0].get_action_space()
	for i in range(1, agents.size()):
		if agents[i].get_action_space().hash() != space.hash():
			return false
	for key in space.keys():
		var entry = space[key]
		if typeof(entry) != TYPE_DICTIONARY or str(entry.get("action_type", "")) != "continuous":
			bin_layout = []
			return false
		var size = entry.get("size", null)
		if typeof(size) == TYPE_ARRAY and size.size() == 1:
			size = size[0]
		if typeof(size) != TYPE_INT and typeof(size) != TYPE_REAL or int(size) < 1:
			bin_layout = []
			return false
		bin_layout.append([key, int(size)])
	for entry in bin_layout:
		bin_width += entry[1]
	return bin_width > 0


func _reset_all(message: Dictionary) -> void:
	if message.has("seed") and message["seed"] != null:
		env_seed = int(message["seed"])
		seed(env_seed)
		for agent in agents:
			if agent.has_method("rl_set_seed"):
				agent.rl_set_seed(env_seed)
	for agent in agents:
		agent.reset()
		if agent.has_method("zero_reward"):
			agent.zero_reward()


func _collect_obs() -> Array:
	var obs = []
	for agent in agents:
		obs.append(agent.get_obs())
	return obs


func _collect_reset_info() -> Array:
	var infos = []
	for i in range(agents.size()):
		infos.append(agents[i].get_info() if caps[i][3] else {})
	return infos


func _apply_actions(actions) -> void:
	if typeof(actions) != TYPE_ARRAY or actions.size() != agents.size():
		if not warned_actions:
			printerr("rlplaytest: expected one action per agent (%d); ignoring such messages" % agents.size())
			warned_actions = true
		return
	for i in range(agents.size()):
		agents[i].set_action(actions[i])


func _apply_bin_actions(values: PoolRealArray) -> void:
	# one action dictionary per agent, as the JSON message would give it ({key: [floats]})
	var n = agents.size()
	if values.size() != n * bin_width:
		if not warned_actions:
			printerr("rlplaytest: expected %d action values (%d agents x %d); ignoring such messages"
					% [n * bin_width, n, bin_width])
			warned_actions = true
		return
	var j = 0
	if bin_layout.size() == 1 and bin_width <= 3:  # one action key of 1-3 values: literals (a third faster)
		var key = bin_layout[0][0]
		if bin_width == 1:
			for agent in agents:
				agent.set_action({key: [values[j]]})
				j += 1
		elif bin_width == 2:
			for agent in agents:
				agent.set_action({key: [values[j], values[j + 1]]})
				j += 2
		else:
			for agent in agents:
				agent.set_action({key: [values[j], values[j + 1], values[j + 2]]})
				j += 3
		return
	for i in range(n):
		var action = {}
		for entry in bin_layout:
			var v = []
			v.resize(entry[1])
			for k in range(entry[1]):
				v[k] = values[j]
				j += 1
			action[entry[0]] = v
		agents[i].set_action(action)


func _send_step_reply() -> void:
	# (the common step, no agent done and every info empty, prints no JSON: constant strings)
	steps += 1
	var obs = step_obs
	var rewards = step_rewards
	var dones = step_dones
	var infos = step_infos
	var any_done = false
	var any_info = false
	for i in range(agents.size()):
		var agent = agents[i]
		var cap = caps[i]
		if cap[0]:
			agent.rl_after_step()
		var o = agent.get_obs()
		rewards[i] = agent.get_reward()
		if cap[1]:
			agent.zero_reward()
		var d = agent.get_done() if cap[2] else bool(agent.get("done"))
		var info = agent.get_info() if cap[3] else {}
		if d:
			any_done = true
			if cap[4]:
				agent.set_done_false()
			if cap[5]:
				info["rl_terminal_obs"] = o
				agent.rl_auto_reset()
				o = agent.get_obs()
		if not info.empty():
			any_info = true
		obs[i] = o
		dones[i] = d
		infos[i] = info
	var values = _f32_values(obs, rewards) if f32_width > 0 else null
	if typeof(values) == TYPE_NIL:
		_send({"type": "step", "obs": obs, "reward": rewards, "done": dones, "info": infos,
				"rlplaytest": telemetry.snapshot()})
	elif step_bin:  # the values, then dones and infos as JSON only where one is not the default
		var body = var2bytes(values)
		if any_done or any_info:
			body.append_array(('{"done":' + (JSON.print(dones) if any_done else all_false_text) + ',"info":'
					+ (JSON.print(infos) if any_info else all_empty_text) + '}').to_utf8())
		_send_bytes(body)
	else:
		# (spliced by hand: base64 needs no escaping, and JSON.print escapes a long string slowly)
		_send_text('{"type":"step","f32":"' + Marshalls.raw_to_base64(var2bytes(values)) + '","done":'
				+ (JSON.print(dones) if any_done else all_false_text)
				+ ',"info":' + (JSON.print(infos) if any_info else all_empty_text) + '}')


func _f32_values(obs: Array, rewards: Array):
	# float32 [obs of agent 0 (keys sorted), obs of agent 1, ..., rewards, telemetry], or null when an
	# observation does not match the declared layout (then plain JSON goes out and the driver reports
	# the exact problem)
	var values = PoolRealArray()
	if f32_key != "":
		for o in obs:
			var v = o.get(f32_key) if o is Dictionary and o.size() == 1 else null
			if not (v is Array or v is PoolRealArray or v is PoolIntArray) or v.size() != f32_width:
				return null
			values.append_array(v)
	else:
		for o in obs:
			if not o is Dictionary or o.size() != f32_layout.size():
				return null
			for entry in f32_layout:
				var v = o.get(entry[0])
				if not (v is Array or v is PoolRealArray or v is PoolIntArray) or v.size() != entry[1]:
					return null
				values.append_array(v)
	values.append_array(rewards)
	values.append_array(telemetry.values())
	return values
