extends Spatial
# Two teams of counter agents on rlplaytest's addon: --agents=N agents (default 2), even ones train
# policy "red", odd ones "blue" (the agents' policy_name; the addon sends it as agent_policy_names).

const Args = preload("res://addons/rlplaytest/args.gd")
const Agent = preload("res://counter_addon_agent.gd")


func _ready() -> void:
	for i in range(Args.get_int("agents", 2)):
		var agent = Agent.new()
		agent.name = "Agent%d" % i
		agent.policy_name = "red" if i % 2 == 0 else "blue"
		add_child(agent)
		agent.reset()
