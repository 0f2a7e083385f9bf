"""A model that is never available here, with its reason."""

import rnnbench
from testplugins.tiny import factory


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(arch="ghost", backend="test", family="other", factory=factory,
                                available=lambda: "needs hardware that is not here"))
