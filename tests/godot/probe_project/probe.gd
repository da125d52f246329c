extends Spatial
# Builds --agents=N probe agents (default 2).

const Args = preload("res://addons/rlplaytest/args.gd")
const ProbeAgent = preload("res://probe_agent.gd")


func _ready() -> void:
	for i in range(Args.get_int("agents", 2)):
		var agent = ProbeAgent.new()
		agent.name = "Agent%d" % i
		add_child(agent)
		agent.reset()
