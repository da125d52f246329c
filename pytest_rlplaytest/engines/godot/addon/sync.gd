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
		OS.delay_msec(5)
	return false


func _collect_agents() -> void:
	agents = get_tree().get_nodes_in_group(agent_group)
	for i in range(agents.size()):
		if agents[i].has_method("rl_set_index"):
			agents[i].rl_set_index(i)
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
	var body = JSON.print(message).to_utf8()
	var n = body.size()
	var packet = PoolByteArray([n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >> 24) & 255])
	packet.append_array(body)
	stream.put_data(packet)


func _recv():
	# Blocks until a whole message arrives. Returns null when the connection is gone.
	var head = stream.get_data(4)
	if head[0] != OK or head[1].size() != 4:
		return null
	var b = head[1]
	var n = b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)
	var body = stream.get_data(n)
	if body[0] != OK:
		return null
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
		var kind = message.get("type", "")
		if kind == "handshake":
			if str(message.get("major_version", "")) != PROTOCOL_MAJOR:
				printerr("rlplaytest: driver speaks protocol major version ", message.get("major_version"))
		elif kind == "env_info":
			_send(_env_info())
		elif kind == "reset":
			_reset_all(message)
			_send({"type": "reset", "obs": _collect_obs(), "info": _collect_reset_info()})
		elif kind == "call":
			var returns = []
			var method = str(message.get("method", ""))
			for agent in agents:
				returns.append(agent.call(method) if agent.has_method(method) else null)
			_send({"type": "call", "returns": returns})
		elif kind == "action":
			_apply_actions(message.get("action", []))
			repeat_left = action_repeat
			telemetry.step_begin()
			return
		elif kind == "close":
			quitting = true
			get_tree().quit(0)
			return
		else:
			printerr("rlplaytest: unknown message type '", kind, "'")
			_send({"type": "error", "message": "unknown message type '%s'" % kind})


func _env_info() -> Dictionary:
	var obs_spaces = []
	var action_spaces = []
	var policies = []
	for agent in agents:
		obs_spaces.append(agent.get_obs_space())
		action_spaces.append(agent.get_action_space())
		policies.append(agent.get("policy_name") if agent.get("policy_name") != null else "shared_policy")
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
		},
	}


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
	for agent in agents:
		infos.append(agent.get_info() if agent.has_method("get_info") else {})
	return infos


func _apply_actions(actions) -> void:
	if typeof(actions) != TYPE_ARRAY or actions.size() != agents.size():
		if not warned_actions:
			printerr("rlplaytest: expected one action per agent (%d); ignoring such messages" % agents.size())
			warned_actions = true
		return
	for i in range(agents.size()):
		agents[i].set_action(actions[i])


func _send_step_reply() -> void:
	steps += 1
	var frame = telemetry.snapshot()
	var obs = []
	var rewards = []
	var dones = []
	var infos = []
	for agent in agents:
		if agent.has_method("rl_after_step"):
			agent.rl_after_step()
		var o = agent.get_obs()
		var r = agent.get_reward()
		if agent.has_method("zero_reward"):
			agent.zero_reward()
		var d = agent.get_done() if agent.has_method("get_done") else bool(agent.get("done"))
		var info = agent.get_info() if agent.has_method("get_info") else {}
		for key in frame.keys():
			info[key] = frame[key]
		if d:
			if agent.has_method("set_done_false"):
				agent.set_done_false()
			if agent.has_method("rl_auto_reset"):
				info["rl_terminal_obs"] = o
				agent.rl_auto_reset()
				o = agent.get_obs()
		obs.append(o)
		rewards.append(r)
		dones.append(d)
		infos.append(info)
	_send({"type": "step", "obs": obs, "reward": rewards, "done": dones, "info": infos})
