extends "res://scripts/world.gd"
# Landing: every agent flies its own rigid-body lander in its own lane (x = 60 m * index).

const Build = preload("res://scripts/build.gd")
const Lander = preload("res://scripts/lander_agent.gd")
const LANE := 60.0


func build_level() -> void:
	var count = max(1, Args.get_int("agents", default_agents))
	var width = LANE * count + 60.0
	Build.static_box(self, Vector3(width, 1, 20), Vector3(width * 0.5 - 30.0, -0.5, 0))


func make_agent(index: int) -> Node:
	var agent = Lander.new()
	agent.pad = Vector3(LANE * index, 0, 0)
	return agent
