"""rnnbench's built-in studies (installed as ``rnnbench.studies``), registered through the
``rnnbench`` entry-point group exactly as a third-party study would be."""
