"""Tests of the example plugin, through rnnbench's real machinery (see docs/plugins.md)."""

import numpy as np
import pytest

from rnnbench.manager import load_registry
from rnnbench.execution.runner import RunSettings, run_case
from rnnbench.request.sweep import SweepAxes, expand
from rnnbench.execution.timing import TimerSettings

PLUGIN = "rnnbench_example.plugin"


@pytest.fixture(scope="module")
def registry():
    return load_registry([PLUGIN])


def test_registers_cleanly(registry):
    assert "conv@example" in registry.models and "reverse" in registry.tasks
    assert not registry.problems


def test_reverse_task_targets_and_disjoint_splits(registry):
    task = registry.tasks["reverse"].factory({"alphabet_size": 4}, 5, 0)
    batch = task.batch("train", 0, 16)
    assert (batch.targets[:, 6:] == batch.inputs[:, 4::-1]).all()
    train = {tuple(r) for i in range(20) for r in task.batch("train", i, 64).inputs[:, :5]}
    test = {tuple(r) for i in range(20) for r in task.batch("test", i, 64).inputs[:, :5]}
    assert not train & test


def test_conv_model_is_causal(registry):
    from rnnbench.model_api import Batch, ModelConfig

    model = registry.models["conv@example"].factory(ModelConfig(
        input_kind="tokens", input_size=10, output_kind="classes", output_size=9, hidden=16, layers=1,
        max_seq_len=12))
    inputs = np.random.default_rng(0).integers(0, 10, size=(2, 12))
    changed = inputs.copy()
    changed[:, 8:] = (changed[:, 8:] + 1) % 10
    zeros = np.zeros((2, 12), np.int64), np.ones((2, 12), np.float32)
    a = model.predict(model.to_device(Batch(inputs, *zeros)))
    b = model.predict(model.to_device(Batch(changed, *zeros)))
    np.testing.assert_allclose(a[:, :8], b[:, :8])  # the past does not see the future
    assert not np.allclose(a[:, 8:], b[:, 8:])


def test_runs_a_case_end_to_end(registry):
    [case] = expand(SweepAxes(models=["conv@example"], tasks=["reverse"], steps=[30], hidden=[16]),
                    registry).cases
    result = run_case(case, registry, RunSettings(timer=TimerSettings(min_run_time=0.05)))
    assert result.status == "ok", result.error
    assert result.metric("train", "eval_accuracy").value is not None
    assert result.metric("forward", "latency_s").samples
