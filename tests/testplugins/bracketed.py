"""A model whose availability reason and description hold square brackets (rich markup syntax)."""

import rnnbench
from testplugins.tiny import factory


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(arch="bracketed", backend="test", family="other", factory=factory,
                                available=lambda: "install rnnbench-mymodel[gpu]",
                                description="a [bold]literal[/bold] description"))
