"""An example rnnbench plugin package: minGRU and a parity task (see plugin.py)."""
