"""Multi-query associative recall: format, query placement, targets, determinism, splits, metrics, options."""

import math

import numpy as np
import pytest

from rnnbench.errors import UsageError
from rnnbench.request.run_request import parse_layer
from rnnbench.request.options import RunRequest
from rnnbench.request.sweep import expand
from tasks_helpers import assert_disjoint, associative_recall_task, split_rows
from rnnbench.task_api import baseline_values


def test_shapes_and_dtypes():
    task = associative_recall_task(length=32, num_pairs=6, num_queries=4, num_keys=16, num_values=16)
    b = task.batch("train", 0, 8)
    assert b.inputs.shape == b.targets.shape == b.mask.shape == (8, 32)
    assert b.inputs.dtype == np.int64 and b.targets.dtype == np.int64 and b.mask.dtype == np.float32
    assert (task.shape.input_size, task.shape.output_size, task.shape.seq_len) == (33, 16, 32)


def test_pairs_then_queries_and_each_target_is_the_value_of_its_key():
    K, N, Q = 16, 6, 4
    task = associative_recall_task(length=32, num_pairs=N, num_queries=Q, num_keys=K, num_values=16)
    b = task.batch("test", 1, 64)
    for row in range(64):
        keys, values = b.inputs[row, 0:2 * N:2], b.inputs[row, 1:2 * N:2]
        assert ((keys >= 1) & (keys <= K)).all() and len(set(keys)) == N  # distinct keys
        assert ((values > K) & (values <= 2 * K)).all()
        rest = b.inputs[row, 2 * N:]
        slots = np.flatnonzero(rest) + 2 * N
        assert len(slots) == Q and (rest[rest != 0] <= K).all()  # Q queries among filler
        queried = b.inputs[row, slots]
        assert len(set(queried)) == Q and set(queried) <= set(keys)  # each key at most once
        value_of = dict(zip(keys, values - 1 - K))
        np.testing.assert_array_equal(b.targets[row, slots], [value_of[k] for k in queried])
        assert set(np.flatnonzero(b.mask[row])) == set(slots)


def test_batches_are_deterministic_per_seed_and_index():
    a, b = associative_recall_task(seed=5), associative_recall_task(seed=5)
    np.testing.assert_array_equal(a.batch("test", 2, 16).inputs, b.batch("test", 2, 16).inputs)
    assert not np.array_equal(a.batch("test", 2, 16).inputs, a.batch("test", 3, 16).inputs)
    other_seed = associative_recall_task(seed=6)
    assert not np.array_equal(a.batch("test", 2, 16).inputs, other_seed.batch("test", 2, 16).inputs)


def test_splits_never_share_a_sequence():
    # 12·11 key pairs · 4² values · 2 queried keys · 2 slots = 8,448 sequences: draws would collide.
    rows = [split_rows(associative_recall_task(length=6, num_pairs=2, num_queries=1, num_keys=12,
                                               num_values=4, seed=s)) for s in (0, 1)]
    merged = {split: rows[0][split] | rows[1][split] for split in rows[0]}
    assert len(merged["train"]) < 2 * 640
    assert_disjoint(merged)


def test_metrics_against_hand_computed_values():
    task = associative_recall_task(length=10, num_pairs=3, num_queries=2, num_keys=12, num_values=8)
    b = task.batch("test", 0, 1)
    slots = np.flatnonzero(b.mask[0])
    outputs = np.zeros((1, 10, 8), np.float32)
    outputs[0, slots[0], b.targets[0, slots[0]]] = 5.0  # first query right, second wrong
    outputs[0, slots[1], (b.targets[0, slots[1]] + 1) % 8] = 5.0
    m = task.metrics(outputs, b)
    assert m["accuracy"] == pytest.approx(0.5)
    right = -math.log(math.exp(5) / (math.exp(5) + 7))
    wrong = -math.log(1 / (math.exp(5) + 7))
    assert m["cross_entropy"] == pytest.approx((right + wrong) / 2)


def test_baselines_are_chance_over_the_values():
    base = baseline_values(associative_recall_task(num_values=16).baselines())
    assert base == {"accuracy": pytest.approx(1 / 16), "cross_entropy": pytest.approx(math.log(16))}


@pytest.mark.parametrize("options,seq_len,message", [
    ([], 20, r"at least 24, got 20"),
    (["associative_recall.num_queries=9"], 64, "num_queries=9 is more than num_pairs=8"),
    (["associative_recall.num_keys=4"], 64, "num_keys=4 cannot give num_pairs=8 distinct keys"),
    (["associative_recall.num_values=1"], 64, "num_values must be at least 2"),
    (["associative_recall.num_pairs=0"], 64, "must be at least 1"),
    (["associative_recall.num_pairs=2", "associative_recall.num_queries=2", "associative_recall.num_keys=2",
      "associative_recall.num_values=2"], 64, "too few to split"),
])
def test_impossible_options_are_refused_before_running(registry, options, seq_len, message):
    axes = RunRequest(models=["lstm"], tasks=["associative_recall"], seq_len=[seq_len],
                     task_opt=parse_layer({"task_opt": options})["task_opt"])
    with pytest.raises(UsageError, match=f"task 'associative_recall' at --seq-len {seq_len}: .*{message}"):
        expand(axes, registry, cuda_probe=lambda: False)


def test_two_layers_by_default_for_every_model(registry):
    cases = expand(RunRequest(models=["lstm", "transformer"], tasks=["associative_recall"]), registry,
                   cuda_probe=lambda: False).cases
    assert {(c.model, c.layers, c.hidden) for c in cases} == {("lstm@torch", 2, 128), ("transformer@torch", 2, 128)}
    [case] = expand(RunRequest(models=["lstm"], tasks=["associative_recall"], layers=[1]), registry,
                    cuda_probe=lambda: False).cases
    assert case.layers == 1  # --layers wins
