"""An ``rnnbench_environment`` hook that adds values JSON cannot store (a set, a NaN)."""

import rnnbench


@rnnbench.hookimpl
def rnnbench_environment(env):
    env["odd"] = {1, 2}
    env["ratio"] = float("nan")
