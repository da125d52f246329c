extends Reference
# Command-line arguments of the form --key=value, as passed by pytest-rlplaytest or godot-rl.
# Use from any script:  const Args = preload("res://addons/rlplaytest/args.gd")
#                       var agents = Args.get_int("agents", 16)


static func all() -> Dictionary:
	var found = {}
	for arg in OS.get_cmdline_args():
		if arg.begins_with("--") and arg.find("=") > 2:
			var eq = arg.find("=")
			found[arg.substr(2, eq - 2)] = arg.substr(eq + 1, arg.length() - eq - 1)
	return found


static func has(name: String) -> bool:
	return all().has(name)


static func get_str(name: String, default: String = "") -> String:
	var found = all()
	if found.has(name):
		return found[name]
	return default


static func get_int(name: String, default: int = 0) -> int:
	var text = get_str(name, "")
	if text == "" or not text.is_valid_integer():
		return default
	return int(text)


static func get_float(name: String, default: float = 0.0) -> float:
	var text = get_str(name, "")
	if text == "" or not text.is_valid_float():
		return default
	return float(text)
