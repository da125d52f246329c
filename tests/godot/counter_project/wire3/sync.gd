extends Node
# The Sync node of the godot3 branch of Godot RL Agents (edbeeching/godot_rl_agents_plugin at
# 5b6e1bf, addons/godot_rl_agents/sync.gd, cited as sync.gd:N), written anew for pytest-rlplaytest's
# tests so that the real Godot 3 engine runs a game that behaves on the wire as an unchanged
# godot3-branch game does. Reproduced: the start (pause, one connection attempt after a 1 s delay,
# its status printed, a silent fall-back to human control), the arguments (--speedup read before
# they are parsed, --action_repeat or the constant 8, --env_seed seeding the global RNG once),
# env_info (agent 0's spaces as single dicts, every AGENT node counted, no policy names), replies
# without info, the reset that only flags needs_reset, call on every agent, close.
# Two knobs that are ours: --wire_port_offset=N connects to port + N (the fall-back tests), and
# --wire_connect_delay_ms=N replaces the 1000 ms wait before connecting (faster tests).

export var action_repeat := 8  # sync.gd:3 (overwritten at start, :129-130)
export(float) var speed_up = 1.0  # sync.gd:4

const MAJOR_VERSION := "0"  # sync.gd:8
const MINOR_VERSION := "3"  # sync.gd:9
const DEFAULT_PORT := 11008  # sync.gd:10
const DEFAULT_SEED := 1  # sync.gd:11
const DEFAULT_ACTION_REPEAT := 8  # sync.gd:12

var client: StreamPeerTCP = null
var connected := false
var agents := []
var args := {}  # sync.gd:19: still empty when the speedup is read
var need_to_send_obs := false
var just_reset := false
var n_action_steps := 0


func _ready():
	yield(get_tree().root, "ready")  # sync.gd:23
	get_tree().set_pause(true)  # :24
	_start()
	yield(get_tree().create_timer(1.0), "timeout")  # :26
	get_tree().set_pause(false)  # :27


func _start():
	# sync.gd:136-153, in that order
	agents = get_tree().get_nodes_in_group("AGENT")  # :29-30
	var speedup = _speedup()
	Engine.iterations_per_second = speedup * 60  # :138
	Engine.time_scale = _speedup() * 1.0  # :139
	prints("physics ticks", Engine.iterations_per_second, Engine.time_scale, _speedup(), speed_up)  # :140
	args = _parse_args()  # :142
	connected = _connect()  # :143
	for agent in agents:  # :144-149
		agent.set_heuristic("model" if connected else "human")
	if connected:
		_handshake()  # :146
		_send_env_info()  # :147
	seed(int(args.get("env_seed", DEFAULT_SEED)))  # :125-127, :151
	action_repeat = int(args.get("action_repeat", DEFAULT_ACTION_REPEAT))  # :129-130, :152


func _speedup():
	print(args)  # :119
	return int(args.get("speedup", speed_up))  # :120


func _parse_args() -> Dictionary:
	# sync.gd:103-116: every argument; key=value split at "=" (second piece), others -> ""
	print("getting command line arguments")
	var found = {}
	for argument in OS.get_cmdline_args():
		if argument.find("=") > -1:
			var parts = argument.split("=")
			found[parts[0].lstrip("--")] = parts[1]
		else:
			found[argument.lstrip("--")] = ""
	return found


func _connect() -> bool:
	# sync.gd:88-101: one attempt, the status read once right away (no poll loop)
	print("Waiting for one second to allow server to start")
	OS.delay_msec(int(_own_arg("wire_connect_delay_ms", "1000")))
	print("trying to connect to server")
	client = StreamPeerTCP.new()
	var port = int(args.get("port", DEFAULT_PORT)) + int(args.get("wire_port_offset", 0))
	var err = client.connect_to_host("127.0.0.1", port)
	print(err, client.get_status())  # :99: the error and the status glued, e.g. "02"
	client.set_no_delay(true)
	return client.get_status() == 2


func _own_arg(key: String, default: String) -> String:
	# (our test knobs are read before the plugin's parsing happens; not part of the reproduction)
	for argument in OS.get_cmdline_args():
		if argument.begins_with("--" + key + "="):
			return argument.split("=")[1]
	return default


func _read():
	# sync.gd:50-69: wait for bytes; a closed connection prints and quits
	while client.get_available_bytes() == 0:
		if client.get_status() == 3:
			print("server disconnected status 3, closing")
			get_tree().quit()
			return null
		if not client.is_connected_to_host():
			print("server disconnected, closing")
			get_tree().quit()
			return null
		OS.delay_usec(10)
	return JSON.parse(client.get_string()).result


func _write(message: Dictionary):
	client.put_string(to_json(message))  # sync.gd:71-72


func _handshake():
	# sync.gd:36-48: read and compare, no reply (both warnings say "major")
	print("performing handshake")
	var message = _read()
	if message["major_version"] != MAJOR_VERSION:
		print("WARNING: major verison mismatch ", message["major_version"], " ", MAJOR_VERSION)
	if message["minor_version"] != MINOR_VERSION:
		print("WARNING: major verison mismatch ", message["minor_version"], " ", MINOR_VERSION)
	print("handshake complete")


func _send_env_info():
	# sync.gd:74-85
	_read()
	_write({"type": "env_info", "observation_space": agents[0].get_obs_space(),
			"action_space": agents[0].get_action_space(), "n_agents": len(agents)})


func _physics_process(_delta):
	# sync.gd:155-198
	if n_action_steps % action_repeat != 0:
		n_action_steps += 1
		return
	n_action_steps += 1
	if not connected:
		for agent in agents:  # :197-198, :254-257
			if agent.get_done():
				agent.set_done_false()
		return
	get_tree().set_pause(true)
	if just_reset:  # :167-178
		just_reset = false
		_write({"type": "reset", "obs": _observations()})
		get_tree().set_pause(false)
		return
	if need_to_send_obs:  # :180-194: reward, then done, then obs
		need_to_send_obs = false
		var rewards = []
		var dones = []
		for agent in agents:
			rewards.append(agent.get_reward())
			agent.zero_reward()
		for agent in agents:
			var d = agent.get_done()
			if d:
				agent.set_done_false()
			dones.append(d)
		_write({"type": "step", "obs": _observations(), "reward": rewards, "done": dones})
	_handle()


func _observations() -> Array:
	var out = []
	for agent in agents:
		out.append(agent.get_obs())
	return out


func _handle():
	# sync.gd:200-244
	var message = _read()
	if message == null:
		return
	var kind = message["type"]
	if kind == "close":
		print("received close message, closing game")
		get_tree().quit()
		get_tree().set_pause(false)
	elif kind == "reset":
		print("resetting all agents")
		for agent in agents:  # :259-262: only flags it
			agent.needs_reset = true
		just_reset = true
		get_tree().set_pause(false)
	elif kind == "call":
		var returns = []
		for agent in agents:  # :246-251
			returns.append(agent.call(message["method"]))
		_write({"type": "call", "returns": returns})
		print("calling method from Python")
		_handle()
	elif kind == "action":
		var actions = message["action"]
		for i in range(len(actions)):  # :285-287
			agents[i].set_action(actions[i])
		need_to_send_obs = true
		get_tree().set_pause(false)
	else:
		print("message was not handled")
