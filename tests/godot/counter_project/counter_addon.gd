extends Spatial
# Builds --agents=N counter agents (default 2) on rlplaytest's addon.

const Args = preload("res://addons/rlplaytest/args.gd")
const Agent = preload("res://counter_addon_agent.gd")


func _ready() -> void:
	for i in range(Args.get_int("agents", 2)):
		var agent = Agent.new()
		agent.name = "Agent%d" % i
		add_child(agent)
		agent.reset()
