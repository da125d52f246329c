extends "res://scripts/world.gd"
# UI interaction scenario: every agent owns a small menu of real Godot Control nodes in its own
# Viewport (so each has its own keyboard focus); see ui_agent.gd for the menu, the actions and the
# PLANTED BUG (Back stops responding after Apply is pressed twice following a checkbox toggle).

const Menu = preload("res://scripts/ui_agent.gd")


func make_agent(_index: int) -> Node:
	return Menu.new()
