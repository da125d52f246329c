extends "res://addons/rlplaytest/agent_controller.gd"
# A settings menu made of real Godot Control nodes, driven without a pointer or physics: the
# controller moves keyboard focus (grab_focus), presses buttons by emitting their "pressed" signal,
# toggles the checkbox and steps the slider by setting their values (which emit "toggled" and
# "value_changed"), so a run is deterministic. Each agent's menu lives in its own Viewport.
#
#   Main panel:      Play, Settings, Quit (Quit is disabled)
#   Settings panel:  a nested panel with a Volume HSlider (0..100, step 10) and a Fullscreen
#                    CheckBox, then Apply and Back.
#   Task: open Settings, change the volume, Apply, Back (event "task_done", success, +1).
#
#   action "ui" (discrete, 5): 0 focus next, 1 focus previous, 2 press (a button) / toggle (the
#   checkbox), 3 slider right, 4 slider left (when the slider has focus; otherwise nothing happens).
#   obs (23): for each element in ELEMENTS [visible, enabled, focused], the volume (/100) and the
#   checkbox state.
#   info: "ui_element" (the focused element's name), "ui_screen" ("main" / "settings"),
#   "position" [screen, focus index, checkbox, volume / 50] (the UI state, for bug hunts' novelty);
#   events "pressed", "toggled", "value_changed", "opened_settings", "applied", "back",
#   "pressed_disabled", "task_done" and "unresponsive": a press that no handler answered.
#
# PLANTED, DOCUMENTED BUG: after the Fullscreen checkbox is toggled, pressing Apply twice with no
# other press in between makes the second Apply "re-bind" the display settings and drop the Back
# button's "pressed" connection: Back then does nothing (event "unresponsive") until the episode
# resets. The shortest trigger from a reset is 9 actions:
#   next, press (Settings), next, press (toggle), next, press, press (Apply x2), next, press (Back).

const ELEMENTS := ["Play", "Settings", "Quit", "Volume", "Fullscreen", "Apply", "Back"]
const START_VOLUME := 50.0

var viewport: Viewport
var main_panel: Panel
var settings_panel: Panel
var controls := {}          # element name -> Control
var focus_index := 0        # index into the visible elements
var handled := false        # set by every handler: a press nobody answered is "unresponsive"
var applied_volume := START_VOLUME
var applies_after_toggle := 0
var toggle_armed := false
var opened_once := false
var changed_once := false
var applied_once := false


func _init() -> void:
	max_steps = 60


func _ready() -> void:
	viewport = Viewport.new()
	viewport.size = Vector2(320, 240)
	viewport.usage = Viewport.USAGE_2D
	viewport.render_target_update_mode = Viewport.UPDATE_DISABLED
	add_child(viewport)
	main_panel = _panel(viewport, "MainPanel")
	var main_box = _box(main_panel, VBoxContainer.new())
	for name in ["Play", "Settings", "Quit"]:
		_add(main_box, Button.new(), name)
	controls["Quit"].disabled = true
	settings_panel = _panel(viewport, "SettingsPanel")
	var outer = _box(settings_panel, VBoxContainer.new())
	var audio = _panel(outer, "AudioPanel")      # a panel nested in the settings panel
	audio.rect_min_size = Vector2(300, 80)
	var audio_box = _box(audio, VBoxContainer.new())
	var slider = HSlider.new()
	slider.min_value = 0
	slider.max_value = 100
	slider.step = 10
	_add(audio_box, slider, "Volume")
	_add(audio_box, CheckBox.new(), "Fullscreen")
	var buttons = _box(outer, HBoxContainer.new())
	_add(buttons, Button.new(), "Apply")
	_add(buttons, Button.new(), "Back")
	controls["Play"].connect("pressed", self, "_on_play")
	controls["Settings"].connect("pressed", self, "_on_settings")
	controls["Apply"].connect("pressed", self, "_on_apply")
	controls["Volume"].connect("value_changed", self, "_on_volume")
	controls["Fullscreen"].connect("toggled", self, "_on_fullscreen")


func _panel(parent: Node, name: String) -> Panel:
	var panel = Panel.new()
	panel.name = name
	panel.rect_size = Vector2(320, 240)
	parent.add_child(panel)
	return panel


func _box(parent: Node, box: BoxContainer) -> BoxContainer:
	parent.add_child(box)
	return box


func _add(parent: Node, control: Control, name: String) -> void:
	control.name = name
	control.focus_mode = Control.FOCUS_ALL
	if control is Button:
		control.text = name
	parent.add_child(control)
	controls[name] = control


func reset_game() -> void:
	# (signal handlers off while the menu is put back, so a reset emits no events)
	controls["Volume"].set_block_signals(true)
	controls["Fullscreen"].set_block_signals(true)
	controls["Volume"].value = START_VOLUME
	controls["Fullscreen"].pressed = false
	controls["Volume"].set_block_signals(false)
	controls["Fullscreen"].set_block_signals(false)
	if not controls["Back"].is_connected("pressed", self, "_on_back"):
		controls["Back"].connect("pressed", self, "_on_back")
	applied_volume = START_VOLUME
	applies_after_toggle = 0
	toggle_armed = false
	opened_once = false
	changed_once = false
	applied_once = false
	_show(main_panel, "Play")


func _show(panel: Panel, focus: String) -> void:
	main_panel.visible = panel == main_panel
	settings_panel.visible = panel == settings_panel
	var names = _visible_names()
	focus_index = names.find(focus)
	controls[focus].grab_focus()


func _visible_names() -> Array:
	var names = []
	for name in ELEMENTS:
		if controls[name].is_visible_in_tree():
			names.append(name)
	return names


func focused_name() -> String:
	return _visible_names()[focus_index]


func get_action_space() -> Dictionary:
	return {"ui": {"size": 5, "action_type": "discrete"}}


func set_action(action) -> void:
	var a = action["ui"]
	if typeof(a) == TYPE_ARRAY:
		a = a[0]
	_act(int(a))


func _act(a: int) -> void:
	var names = _visible_names()
	if a == 0 or a == 1:
		focus_index = (focus_index + (1 if a == 0 else -1) + names.size()) % names.size()
		controls[names[focus_index]].grab_focus()
	elif a == 2:
		_press(names[focus_index])
	elif (a == 3 or a == 4) and names[focus_index] == "Volume":
		var slider = controls["Volume"]
		slider.value = slider.value + (slider.step if a == 3 else -slider.step)


func _press(name: String) -> void:
	var control = controls[name]
	if not control is BaseButton:
		return  # the slider: pressing it does nothing
	if control.disabled:
		add_event("pressed_disabled")
		return
	if name != "Apply":
		toggle_armed = name == "Fullscreen"
		applies_after_toggle = 0
	add_event("pressed")
	handled = false
	if control is CheckBox:
		control.pressed = not control.pressed    # emits "toggled"
	else:
		control.emit_signal("pressed")
	if not handled:
		add_event("unresponsive")


func _on_play() -> void:
	handled = true


func _on_settings() -> void:
	handled = true
	add_event("opened_settings")
	if not opened_once:
		opened_once = true
		add_reward(0.1)
	_show(settings_panel, "Volume")


func _on_volume(value: float) -> void:
	add_event("value_changed")
	if value != applied_volume and not changed_once:
		changed_once = true
		add_reward(0.1)


func _on_fullscreen(_pressed: bool) -> void:
	handled = true
	add_event("toggled")


func _on_apply() -> void:
	handled = true
	add_event("applied")
	applied_volume = controls["Volume"].value
	if applied_volume != START_VOLUME and not applied_once:
		applied_once = true
		add_reward(0.2)
	if toggle_armed:
		applies_after_toggle += 1
		if applies_after_toggle == 2:
			# THE PLANTED BUG: re-applying the display mode re-binds the menu and loses Back
			controls["Back"].disconnect("pressed", self, "_on_back")


func _on_back() -> void:
	handled = true
	add_event("back")
	_show(main_panel, "Settings")
	if applied_volume != START_VOLUME:
		add_event("task_done")
		add_reward(1.0)
		end_episode(true)


func get_obs() -> Dictionary:
	var obs = []
	var current = focused_name()
	for name in ELEMENTS:
		var c = controls[name]
		obs.append(1.0 if c.is_visible_in_tree() else 0.0)
		obs.append(0.0 if c is BaseButton and c.disabled else 1.0)
		obs.append(1.0 if name == current and c.has_focus() else 0.0)
	obs.append(controls["Volume"].value / 100.0)
	obs.append(1.0 if controls["Fullscreen"].pressed else 0.0)
	return {"obs": obs}


func get_info() -> Dictionary:
	var info = .get_info()
	info["ui_element"] = focused_name()
	info["ui_screen"] = "main" if main_panel.visible else "settings"
	info["position"] = [0.0 if main_panel.visible else 1.0, float(focus_index),
			1.0 if controls["Fullscreen"].pressed else 0.0, controls["Volume"].value / 50.0]
	return info
