extends AIController
class_name AIController3D
# godot3 branch controller/ai_controller_3d.gd:1-8: the base plus the player it controls.

var _player: Spatial


func init(player: Spatial):
	_player = player
