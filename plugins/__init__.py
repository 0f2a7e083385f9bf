"""rnnbench's built-in model plugins (installed as ``rnnbench.plugins``).

They are registered through the ``rnnbench`` entry-point group, exactly as a
third-party plugin package registers its own; the core never imports them.
"""
