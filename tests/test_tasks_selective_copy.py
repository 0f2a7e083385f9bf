"""Selective copying: format, data placement, targets, determinism, disjoint splits, metrics, options."""

import math

import numpy as np
import pytest

from rnnbench.errors import UsageError
from rnnbench.request.run_request import parse_layer
from rnnbench.request.options import RunRequest
from rnnbench.request.sweep import expand
from tasks_helpers import assert_disjoint, selective_copy_task, split_rows
from rnnbench.task_api import baseline_values


def test_shapes_and_dtypes():
    task = selective_copy_task(region=16, num_tokens=4, alphabet_size=8)
    b = task.batch("train", 0, 8)
    assert b.inputs.shape == b.targets.shape == b.mask.shape == (8, 20)
    assert b.inputs.dtype == np.int64 and b.targets.dtype == np.int64 and b.mask.dtype == np.float32
    assert (task.shape.input_size, task.shape.output_size, task.shape.seq_len) == (10, 9, 20)


def test_k_data_tokens_among_noise_then_markers_and_targets_in_order():
    task = selective_copy_task(region=16, num_tokens=4, alphabet_size=8)
    b = task.batch("test", 2, 64)
    region = b.inputs[:, :16]
    assert (b.inputs[:, 16:] == 9).all()  # the recall markers
    for row in range(64):
        data = region[row][region[row] != 0]
        assert len(data) == 4 and ((data >= 1) & (data <= 8)).all()
        np.testing.assert_array_equal(b.targets[row, 16:], data)  # in order of appearance
    assert (b.targets[:, :16] == 0).all()
    assert (b.mask[:, 16:] == 1).all() and b.mask.sum() == 64 * 4
    # the data really are scattered: not always at the same positions
    assert len({tuple(np.flatnonzero(r)) for r in region}) > 30


def test_batches_are_deterministic_per_seed_and_index():
    a, b = selective_copy_task(seed=1), selective_copy_task(seed=1)
    np.testing.assert_array_equal(a.batch("valid", 4, 16).inputs, b.batch("valid", 4, 16).inputs)
    assert not np.array_equal(a.batch("valid", 4, 16).inputs, a.batch("valid", 5, 16).inputs)
    assert not np.array_equal(a.batch("train", 0, 16).inputs, selective_copy_task(seed=2).batch("train", 0, 16).inputs)


def test_splits_never_share_a_sequence():
    # 3,584 distinct sequences only: independent draws would collide across splits.
    rows = [split_rows(selective_copy_task(region=8, num_tokens=3, alphabet_size=4, seed=s)) for s in (0, 1)]
    merged = {split: rows[0][split] | rows[1][split] for split in rows[0]}
    assert len(merged["train"]) < 2 * 640  # collisions happen within a split...
    assert_disjoint(merged)  # ...but never across splits


def test_metrics_against_hand_computed_values():
    task = selective_copy_task(region=8, num_tokens=2, alphabet_size=8)
    b = task.batch("test", 0, 2)
    b.targets[:, -2:] = [[1, 2], [3, 4]]
    outputs = np.zeros((2, 10, 9), np.float32)
    outputs[0, -2, 1] = outputs[0, -1, 2] = 10.0  # row 0 right twice
    outputs[1, -2, 3] = 10.0  # row 1 right once; its last position is uniform over 9 classes
    m = task.metrics(outputs, b)
    assert m["accuracy"] == pytest.approx(3 / 4)  # ties break to class 0, which is wrong
    confident = -math.log(math.exp(10) / (math.exp(10) + 8))
    assert m["cross_entropy"] == pytest.approx((3 * confident + math.log(9)) / 4)


def test_baselines_are_chance():
    base = baseline_values(selective_copy_task(alphabet_size=16).baselines())
    assert base == {"accuracy": pytest.approx(1 / 16), "cross_entropy": pytest.approx(math.log(16))}


@pytest.mark.parametrize("options,seq_len,message", [
    (["selective_copy.num_tokens=5"], 4, "cannot hold num_tokens=5"),
    (["selective_copy.num_tokens=0"], 32, "num_tokens must be at least 1"),
    (["selective_copy.alphabet_size=1"], 32, "alphabet_size must be at least 2"),
    (["selective_copy.num_tokens=2", "selective_copy.alphabet_size=2"], 8, "too few to split"),
])
def test_impossible_options_are_refused_before_running(registry, options, seq_len, message):
    axes = RunRequest(models=["lstm"], tasks=["selective_copy"], seq_len=[seq_len],
                     task_opt=parse_layer({"task_opt": options})["task_opt"])
    with pytest.raises(UsageError, match=f"task 'selective_copy' at --seq-len {seq_len}: .*{message}"):
        expand(axes, registry, cuda_probe=lambda: False)


def test_options_are_typed_and_unknown_ones_named(registry):
    with pytest.raises(UsageError, match="selective_copy.tokens: unknown option for task 'selective_copy'.*num_tokens"):
        expand(RunRequest(models=["lstm"], tasks=["selective_copy"], task_opt={"selective_copy": {"tokens": "3"}}),
               registry, cuda_probe=lambda: False)
    with pytest.raises(UsageError, match="selective_copy.num_tokens: 'x' is not a valid int"):
        expand(RunRequest(models=["lstm"], tasks=["selective_copy"],
                         task_opt={"selective_copy": {"num_tokens": "x"}}), registry, cuda_probe=lambda: False)
    [case] = expand(RunRequest(models=["lstm"], tasks=["selective_copy"],
                              task_opt={"selective_copy": {"num_tokens": "6"}}),
                    registry, cuda_probe=lambda: False).cases
    assert case.options == {"num_tokens": 6, "alphabet_size": 8}
