"""rnnbench: benchmarks of recurrent models against Transformers, built on pluggy.

The public API for plugin authors is re-exported here (docs/api.md lists it, with
what is internal and the version policy)::

    import rnnbench

    @rnnbench.hookimpl
    def rnnbench_register_models(register):
        register(rnnbench.ModelSpec(arch="mylstm", backend="torch", ...))
"""

__version__ = "0.2.0"

# The public names load on first use (PEP 562), not at ``import rnnbench``: every ``rnnbench.*``
# import runs this file first, and the console script imports ``rnnbench.cli`` before its
# ``main()`` can turn a Ctrl-C into one line. Eager imports here (numpy through model_api)
# made that window about 0.3 s, in which a Ctrl-C printed a traceback.
_PUBLIC = {
    "rnnbench.errors": ("RnnbenchError", "UsageError"),
    "rnnbench.hookspecs": ("hookimpl", "hookspec"),
    "rnnbench.model_api": ("Batch", "MemoryReading", "Model", "ModelConfig"),
    "rnnbench.specs": ("ExecutorSpec", "ModelSpec", "TaskDefaults", "TaskSpec"),
    "rnnbench.task_api": ("Baseline", "Task", "TaskShape", "classification_metrics", "masked_accuracy",
                          "masked_cross_entropy", "masked_mse", "row_buckets", "sample_split", "split_rng"),
}
_MODULE_OF = {name: module for module, names in _PUBLIC.items() for name in names}


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'rnnbench' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))


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
