"""The hooks of the example plugin: one model, one task (the entry point names this module)."""

import rnnbench
from rnnbench_example.model import MODEL_SPEC
from rnnbench_example.task import TASK_SPEC


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(MODEL_SPEC)


@rnnbench.hookimpl
def rnnbench_register_tasks(register):
    register(TASK_SPEC)
