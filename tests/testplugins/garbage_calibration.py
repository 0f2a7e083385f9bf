"""An ``rnnbench_environment`` hook that sets the key rnnbench keeps its calibration under to a string."""

import rnnbench


@rnnbench.hookimpl
def rnnbench_environment(env):
    env["calibration"] = "garbage"
