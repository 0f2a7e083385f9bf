"""The copy task: format, determinism, disjoint splits, metric and baselines."""

import math

import numpy as np
import pytest

from tasks_helpers import copy_task
from rnnbench.task_api import baseline_values


def test_format_follows_arjovsky_et_al():
    task = copy_task(delay=5, num_symbols=3, alphabet_size=4)
    b = task.batch("train", 0, 8)
    assert b.inputs.shape == b.targets.shape == b.mask.shape == (8, 5 + 6)
    assert task.shape.seq_len == 11 and task.shape.input_size == 6 and task.shape.output_size == 5
    symbols = b.inputs[:, :3]
    assert ((symbols >= 1) & (symbols <= 4)).all()
    assert (b.inputs[:, 3:7] == 0).all()  # T - 1 blanks
    assert (b.inputs[:, 7] == 5).all()  # the delimiter
    assert (b.inputs[:, 8:] == 0).all()
    assert (b.targets[:, -3:] == symbols).all() and (b.targets[:, :-3] == 0).all()
    assert (b.mask[:, -3:] == 1).all() and b.mask.sum() == 8 * 3
    assert b.inputs.dtype == np.int64 and b.mask.dtype == np.float32


def test_batches_are_deterministic_per_seed_and_index():
    a, b = copy_task(seed=3), copy_task(seed=3)
    np.testing.assert_array_equal(a.batch("train", 7, 16).inputs, b.batch("train", 7, 16).inputs)
    assert not np.array_equal(a.batch("train", 7, 16).inputs, a.batch("train", 8, 16).inputs)
    assert not np.array_equal(a.batch("train", 7, 16).inputs, copy_task(seed=4).batch("train", 7, 16).inputs)


def test_splits_never_share_a_sequence():
    # A small alphabet makes collisions likely if the splits were drawn independently.
    task = copy_task(num_symbols=4, alphabet_size=3)
    seen = {}
    for split in ("train", "valid", "test"):
        rows = np.concatenate([task.symbols(split, i, 64) for i in range(10)])
        seen[split] = {tuple(r) for r in rows}
    assert not seen["train"] & seen["test"]
    assert not seen["train"] & seen["valid"]
    assert not seen["valid"] & seen["test"]


def test_metrics_on_perfect_and_uniform_outputs():
    task = copy_task(delay=4, num_symbols=5, alphabet_size=8)
    b = task.batch("test", 0, 32)
    perfect = np.eye(9, dtype=np.float32)[b.targets] * 20
    m = task.metrics(perfect, b)
    assert m["accuracy"] == 1.0 and m["cross_entropy"] < 1e-6
    uniform_over_symbols = np.full((32, b.seq_len, 9), 0.0, np.float32)
    uniform_over_symbols[..., 0] = -1e9  # never predict blank
    m = task.metrics(uniform_over_symbols, b)
    assert m["cross_entropy"] == pytest.approx(math.log(8))


def test_half_right_predictions_score_one_half():
    task = copy_task(delay=2, num_symbols=2, alphabet_size=8)
    b = task.batch("test", 0, 10)
    outputs = np.eye(9, dtype=np.float32)[b.targets]
    outputs[:, -1] = np.eye(9, dtype=np.float32)[(b.targets[:, -1] % 8) + 1]  # always wrong
    assert task.metrics(outputs, b)["accuracy"] == pytest.approx(0.5)


def test_baselines():
    base = baseline_values(copy_task(delay=100, num_symbols=10, alphabet_size=8).baselines())
    assert base["accuracy"] == 1 / 8
    assert base["cross_entropy"] == pytest.approx(math.log(8))
    assert base["memoryless_ce_all_positions"] == pytest.approx(10 * math.log(8) / 120)


def test_bad_options_are_rejected():
    with pytest.raises(ValueError):
        copy_task(alphabet_size=1)
