"""pytest-benchmark benchmarks of every built-in model's forward and training step.

Opt-in (tests/conftest.py leaves this folder out of a plain ``pytest``)::

    pytest tests/benchmarks --benchmark-autosave       # store .benchmarks/<machine>/0001_*.json
    pytest-benchmark compare 0001 0002                  # compare two saved runs
    pytest tests/benchmarks --benchmark-compare --benchmark-compare-fail=median:10%

The shape is CI-sized (copy task, delay 16, batch 16, width 64, one layer), and the
thread count is fixed (``RNNBENCH_BENCH_THREADS``, default 1), as
torch.utils.benchmark does, so numbers from different runners stay comparable.
"""

import os
from importlib import metadata

import pytest

from rnnbench.manager import ENTRY_POINT_GROUP, load_registry
from rnnbench.execution.runner import build_model, build_task, seed_everything, thread_limit
from rnnbench.records import CaseConfig

THREADS = int(os.environ.get("RNNBENCH_BENCH_THREADS", "1"))
SHAPE = dict(task="copy", seq_len=16, batch_size=16, hidden=64, layers=1)


def _builtin_models() -> list[str]:
    """Models registered by the rnnbench distribution itself, available on this machine's CPU."""
    builtin_plugins = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
                       if ep.dist is not None and ep.dist.name == "rnnbench"}
    registry = load_registry()
    return sorted(name for name, spec in registry.models.items()
                  if registry.owners.get(name) in builtin_plugins and "cpu" in spec.devices
                  and "float32" in spec.dtypes and spec.unavailable_reason() is None)


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _build(registry, model_name):
    config = CaseConfig(model=model_name, task=SHAPE["task"], task_options=tuple(sorted(
        registry.tasks[SHAPE["task"]].options.items())), seq_len=SHAPE["seq_len"], batch_size=SHAPE["batch_size"],
        hidden=SHAPE["hidden"], layers=SHAPE["layers"], device="cpu", dtype="float32", seed=0, steps=1, lr=2e-3)
    seed_everything(0)
    task = build_task(config, registry)
    model = build_model(config, registry, task)
    return model, model.to_device(task.batch("train", 0, config.batch_size))


@pytest.mark.parametrize("model_name", _builtin_models())
def test_forward(benchmark, registry, model_name):
    model, batch = _build(registry, model_name)
    benchmark.group = "forward"
    benchmark.extra_info.update(threads=THREADS, **SHAPE)
    with thread_limit(THREADS):
        out = benchmark(lambda: (model.forward(batch), model.synchronize())[0])
    assert tuple(out.shape)[:2] == (SHAPE["batch_size"], batch.inputs.shape[1])


@pytest.mark.parametrize("model_name", _builtin_models())
def test_train_step(benchmark, registry, model_name):
    model, batch = _build(registry, model_name)
    benchmark.group = "train step"
    benchmark.extra_info.update(threads=THREADS, **SHAPE)
    with thread_limit(THREADS):
        loss = benchmark(model.train_step, batch)
    assert loss == loss and loss > 0  # finite (not NaN) cross-entropy
