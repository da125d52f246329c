extends Spatial
# Shared scene root: builds the level (build_level) and --agents=N agents (make_agent).

const Args = preload("res://addons/rlplaytest/args.gd")

export var default_agents := 16

var world_rng := RandomNumberGenerator.new()
var agents := []


func _ready() -> void:
	world_rng.seed = Args.get_int("env_seed", 0)
	build_level()
	for i in range(max(1, Args.get_int("agents", default_agents))):
		var agent = make_agent(i)
		agent.name = "Agent%d" % i
		add_child(agent)
		agents.append(agent)
		agent.rl_set_index(i)
		agent.reset()


func build_level() -> void:
	pass


func make_agent(_index: int) -> Node:
	return null
