"""What all built-in tasks share: hash splits, per-task defaults for width, depth and learning rate."""

import numpy as np
import pytest

from rnnbench.manager import load_registry
from rnnbench.request.options import RunRequest
from rnnbench.request.sweep import expand
from rnnbench.tasks._splits import SPLIT_BUCKETS, row_buckets, sample_split, split_rng

NEW_TASKS = ("adding", "selective_copy", "associative_recall", "lm")


def test_row_buckets_depend_on_the_row_only():
    rows = np.arange(4000, dtype=np.int64).reshape(1000, 4)
    buckets = row_buckets(rows)
    np.testing.assert_array_equal(buckets, row_buckets(rows.copy()))
    np.testing.assert_array_equal(buckets[::-1], row_buckets(rows[::-1]))
    counts = np.bincount(buckets, minlength=10)
    assert counts.min() > 60 and counts.max() < 140  # about 100 each: the hash spreads
    assert row_buckets(np.zeros((3, 5), np.uint8)).tolist() == [row_buckets(np.zeros((1, 5), np.uint8))[0]] * 3


def test_sample_split_keeps_only_rows_of_its_split():
    def generate(rng, n):  # only 1000 distinct rows: the splits must still be disjoint
        rows = rng.integers(0, 10, size=(n, 3))
        return rows, rows.sum(axis=1)

    seen = {}
    for split in ("train", "valid", "test"):
        rows, sums = sample_split(split, split_rng(0, split, 0), 500, generate)
        assert rows.shape == (500, 3) and (rows.sum(axis=1) == sums).all()  # parts stay aligned
        assert np.isin(row_buckets(rows), SPLIT_BUCKETS[split]).all()
        seen[split] = {tuple(r) for r in rows}
    assert not seen["train"] & seen["valid"] and not seen["train"] & seen["test"]
    assert not seen["valid"] & seen["test"]


def test_split_rng_rejects_unknown_splits():
    with pytest.raises(ValueError, match="unknown split 'eval'"):
        split_rng(0, "eval", 0)


def test_new_tasks_are_registered_with_defaults_and_meaning(registry):
    for name in NEW_TASKS:
        spec = registry.tasks[name]
        assert spec.seq_len_meaning != "sequence length" and spec.description
        assert spec.check_options is not None
        assert registry.owners[name] == name  # from its own entry point


def test_every_new_task_runs_through_the_default_options(registry):
    for name in NEW_TASKS:
        spec = registry.tasks[name]
        task = spec.factory(dict(spec.options), spec.defaults.seq_len, 0)
        task.shape.validate()
        b = task.batch("test", 0, 4)
        assert b.inputs.shape[:2] == b.targets.shape[:2] == b.mask.shape == (4, task.shape.seq_len)
        outputs = np.zeros((4, task.shape.seq_len, task.shape.output_size), np.float32)
        metrics = task.metrics(outputs, b)
        assert task.primary_metric in metrics and task.primary_metric in task.baselines()


def test_learning_rate_by_family_and_task_width_and_depth():
    registry = load_registry(["testplugins.family_lr_task"])
    cases = expand(RunRequest(models=["lstm", "transformer"], tasks=["family_lr"]), registry,
                   cuda_probe=lambda: False).cases
    assert {(c.model, c.lr, c.hidden, c.layers) for c in cases} == {
        ("lstm@torch", 3e-3, 16, 3), ("transformer@torch", 1e-3, 16, 3)}
    cases = expand(RunRequest(models=["lstm", "transformer"], tasks=["family_lr"], lr=[5e-4], hidden=[8]),
                   registry, cuda_probe=lambda: False).cases
    assert {(c.lr, c.hidden) for c in cases} == {(5e-4, 8)}  # --lr and --hidden win for every family


def test_unknown_family_in_defaults_is_a_plugin_problem():
    registry = load_registry(["testplugins.family_lr_task"])
    assert "bad_family" not in registry.tasks
    assert any("lr_by_family" in str(p) and "convolutional" in str(p) for p in registry.problems)
