"""A model whose factory raises: its cases must become error rows, nothing more."""

import rnnbench


def factory(config):
    raise RuntimeError("this factory always fails")


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(arch="broken", backend="test", family="other", factory=factory))
