extends Spatial
# The counter game's player, written the way the Godot RL Agents docs tell a game to be written
# (godot_rl_agents v0.8.2 docs/CUSTOM_ENV.md:148-156): game over sets done and needs_reset on the
# AIController, and the player resets its level when it sees needs_reset.
#   t: physics frames since the level reset; start: drawn from the global RNG at every reset;
#   reward: the current action's value, added every frame; game over after --episode_frames frames.

export var index := 0

var t := 0
var start := 0.0
var action := {}
var episode_frames := 80
onready var ai = $AIController3D


func _ready():
	ai.init(self)
	for argument in OS.get_cmdline_args():
		if argument.begins_with("--episode_frames="):
			episode_frames = int(argument.split("=")[1])
	start = randf()


func value() -> float:
	for key in action:
		var v = action[key]
		return float(v[0]) if typeof(v) == TYPE_ARRAY else float(v)
	return 0.0


func _physics_process(_delta):
	if ai.needs_reset:
		t = 0
		start = randf()
		ai.reset()
		return
	t += 1
	ai.reward += value()
	if t >= episode_frames:
		ai.done = true
		ai.needs_reset = true
