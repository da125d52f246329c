"""Small Gymnasium games of the example project (the Godot game lives in ../godot)."""
