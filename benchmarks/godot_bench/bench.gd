extends Node
# Builds --agents=N trivial agents (default 1) before the sync node collects them.

const Args = preload("res://addons/rlplaytest/args.gd")
const BenchAgent = preload("res://bench_agent.gd")


func _ready() -> void:
	for i in range(Args.get_int("agents", 1)):
		var agent = BenchAgent.new()
		agent.name = "Agent%d" % i
		add_child(agent)
		agent.reset()
