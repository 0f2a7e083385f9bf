"""A plugin that registers an invalid spec, a duplicate name and a valid one."""

import rnnbench
from testplugins.tiny import factory


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(arch="odd", backend="test", family="weird", factory=factory))
    register(rnnbench.ModelSpec(arch="lstm", backend="torch", family="recurrent", factory=factory))
    register(rnnbench.ModelSpec(arch="fine", backend="test", family="other", factory=factory))
