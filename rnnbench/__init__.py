"""rnnbench: benchmarks of recurrent models against Transformers, built on pluggy.

The public API for plugin authors is re-exported here::

    import rnnbench

    @rnnbench.hookimpl
    def rnnbench_register_models(register):
        register(rnnbench.ModelSpec(arch="mylstm", backend="torch", ...))
"""

__version__ = "0.1.0"

from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.hookspecs import hookimpl, hookspec
from rnnbench.model_api import Batch, MemoryReading, Model, ModelConfig
from rnnbench.specs import ExecutorSpec, ModelSpec, TaskSpec
from rnnbench.task_api import Task, TaskShape

__all__ = [
    "__version__",
    "Batch",
    "ExecutorSpec",
    "MemoryReading",
    "Model",
    "ModelConfig",
    "ModelSpec",
    "RnnbenchError",
    "Task",
    "TaskShape",
    "TaskSpec",
    "UsageError",
    "hookimpl",
    "hookspec",
]
