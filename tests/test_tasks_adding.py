"""The adding problem: format, markers, targets, determinism, disjoint splits, metric and baseline."""

import numpy as np
import pytest

from rnnbench.errors import UsageError
from rnnbench.request.options import RunRequest
from rnnbench.request.sweep import expand
from tasks_helpers import adding_task, assert_disjoint, split_rows
from rnnbench.task_api import baseline_values


def test_shapes_and_dtypes():
    task = adding_task(length=20)
    b = task.batch("train", 0, 8)
    assert b.inputs.shape == (8, 20, 2) and b.inputs.dtype == np.float32
    assert b.targets.shape == (8, 20, 1) and b.targets.dtype == np.float32
    assert b.mask.shape == (8, 20) and b.mask.dtype == np.float32
    assert (task.shape.input_kind, task.shape.input_size) == ("features", 2)
    assert (task.shape.output_kind, task.shape.output_size, task.shape.seq_len) == ("regression", 1, 20)


@pytest.mark.parametrize("length", [2, 7, 20, 101])
def test_one_marker_in_each_half_and_values_in_unit_interval(length):
    b = adding_task(length=length).batch("test", 3, 64)
    values, markers = b.inputs[..., 0], b.inputs[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(np.unique(markers)) <= {0.0, 1.0}
    half = length // 2
    assert (markers[:, :half].sum(axis=1) == 1).all()
    assert (markers[:, half:].sum(axis=1) == 1).all()


def test_target_is_the_sum_of_the_marked_values_at_the_last_step_only():
    b = adding_task(length=30).batch("train", 5, 32)
    for row in range(32):
        marked = np.flatnonzero(b.inputs[row, :, 1])
        expected = b.inputs[row, marked, 0].astype(np.float64).sum()
        assert b.targets[row, -1, 0] == pytest.approx(expected, abs=1e-6)
    assert (b.targets[:, :-1] == 0).all()
    assert (b.mask[:, -1] == 1).all() and b.mask.sum() == 32


def test_batches_are_deterministic_per_seed_and_index():
    a, b = adding_task(seed=3), adding_task(seed=3)
    np.testing.assert_array_equal(a.batch("train", 7, 16).inputs, b.batch("train", 7, 16).inputs)
    assert not np.array_equal(a.batch("train", 7, 16).inputs, a.batch("train", 8, 16).inputs)
    assert not np.array_equal(a.batch("train", 7, 16).inputs, adding_task(seed=4).batch("train", 7, 16).inputs)


def test_splits_never_share_a_sequence():
    # Rows are hashed into splits, so the same row drawn under another seed lands in the same split.
    rows = [split_rows(adding_task(length=4, seed=s), batches=4) for s in (0, 1)]
    assert_disjoint({split: rows[0][split] | rows[1][split] for split in rows[0]})


def test_mse_against_hand_computed_values():
    task = adding_task(length=4)
    b = task.batch("test", 0, 2)
    b.targets[:, -1, 0] = [1.0, 0.5]
    outputs = np.zeros((2, 4, 1), np.float32)
    outputs[:, :-1, 0] = 99.0  # unmasked positions do not count
    outputs[:, -1, 0] = [1.5, 0.25]
    assert task.metrics(outputs, b)["mse"] == pytest.approx((0.5 ** 2 + 0.25 ** 2) / 2)


def test_baseline_is_the_mse_of_always_predicting_one():
    task = adding_task(length=50)
    assert baseline_values(task.baselines()) == {"mse": pytest.approx(1 / 6)}
    b = task.batch("test", 0, 4000)
    ones = np.ones(b.targets.shape, np.float32)
    assert task.metrics(ones, b)["mse"] == pytest.approx(1 / 6, abs=0.01)  # 4000 samples: se ≈ 0.003


def test_too_short_sequences_are_refused(registry):
    with pytest.raises(ValueError, match="--seq-len >= 2"):
        adding_task(length=1)
    with pytest.raises(UsageError, match="task 'adding' at --seq-len 1: .*--seq-len >= 2"):
        expand(RunRequest(models=["lstm"], tasks=["adding"], seq_len=[1]), registry, cuda_probe=lambda: False)
