"""``callengine bench``: the engine's speed, measured (see cli.py)."""
