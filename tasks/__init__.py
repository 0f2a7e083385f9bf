"""rnnbench's built-in task plugins (installed as ``rnnbench.tasks``).

Registered through the ``rnnbench`` entry-point group, like any third-party task.
"""
