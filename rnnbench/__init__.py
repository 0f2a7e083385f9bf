"""rnnbench: benchmarks of recurrent models against Transformers, built on pluggy.

The public API for plugin authors is re-exported here (docs/api.md lists it, with
what is internal and the version policy)::

    import rnnbench

    @rnnbench.hookimpl
    def rnnbench_register_models(register):
        register(rnnbench.ModelSpec(arch="mylstm", backend="torch", ...))
"""

__version__ = "0.2.0"

from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.hookspecs import hookimpl, hookspec
from rnnbench.model_api import Batch, MemoryReading, Model, ModelConfig
from rnnbench.specs import ExecutorSpec, ModelSpec, TaskDefaults, TaskSpec
from rnnbench.task_api import (
    Baseline,
    Task,
    TaskShape,
    classification_metrics,
    masked_accuracy,
    masked_cross_entropy,
    masked_mse,
    row_buckets,
    sample_split,
    split_rng,
)

__all__ = [
    "__version__",
    "Baseline",
    "Batch",
    "ExecutorSpec",
    "MemoryReading",
    "Model",
    "ModelConfig",
    "ModelSpec",
    "RnnbenchError",
    "Task",
    "TaskDefaults",
    "TaskShape",
    "TaskSpec",
    "UsageError",
    "classification_metrics",
    "hookimpl",
    "hookspec",
    "masked_accuracy",
    "masked_cross_entropy",
    "masked_mse",
    "row_buckets",
    "sample_split",
    "split_rng",
]
