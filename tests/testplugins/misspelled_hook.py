"""A plugin that misspells a hook name."""

import rnnbench


@rnnbench.hookimpl
def rnnbench_register_model(register):  # missing the final "s"
    pass
