"""A plugin whose registration hook raises."""

import rnnbench


@rnnbench.hookimpl
def rnnbench_register_models(register):
    raise RuntimeError("registration exploded")
