"""An example rnnbench plugin package (see plugin.py)."""
