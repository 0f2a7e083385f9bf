"""A task whose defaults set a learning rate per model family (and a width and depth)."""

import rnnbench
from rnnbench.specs import TaskDefaults
from rnnbench.tasks.copy import factory as copy_factory


@rnnbench.hookimpl
def rnnbench_register_tasks(register):
    register(rnnbench.TaskSpec(
        name="family_lr", factory=copy_factory, options={"num_symbols": 3, "alphabet_size": 4},
        defaults=TaskDefaults(seq_len=5, steps=3, lr=2e-3, hidden=16, layers=3,
                              lr_by_family={"recurrent": 3e-3, "attention": 1e-3}),
    ))
    register(rnnbench.TaskSpec(
        name="bad_family", factory=copy_factory,
        defaults=TaskDefaults(seq_len=5, lr_by_family={"convolutional": 1e-3}),
    ))
