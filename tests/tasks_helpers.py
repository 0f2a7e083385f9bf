"""Small helpers for building built-in tasks directly in tests."""

from rnnbench.tasks.copy import CopyTask


def copy_task(delay=10, num_symbols=10, alphabet_size=8, seed=0):
    return CopyTask(delay=delay, num_symbols=num_symbols, alphabet_size=alphabet_size, seed=seed)


def adding_task(length=20, seed=0):
    from rnnbench.tasks.adding import AddingTask

    return AddingTask(length=length, seed=seed)


def selective_copy_task(region=16, num_tokens=4, alphabet_size=8, seed=0):
    from rnnbench.tasks.selective_copy import SelectiveCopyTask

    return SelectiveCopyTask(region=region, num_tokens=num_tokens, alphabet_size=alphabet_size, seed=seed)


def associative_recall_task(length=32, num_pairs=6, num_queries=4, num_keys=16, num_values=16, seed=0):
    from rnnbench.tasks.associative_recall import AssociativeRecallTask

    return AssociativeRecallTask(length=length, num_pairs=num_pairs, num_queries=num_queries,
                                 num_keys=num_keys, num_values=num_values, seed=seed)


def split_rows(task, batches=10, batch_size=64):
    """The input rows each split produced over a few batches, as sets of bytes."""
    return {split: {row.tobytes() for i in range(batches) for row in task.batch(split, i, batch_size).inputs}
            for split in ("train", "valid", "test")}


def assert_disjoint(rows):
    assert not rows["train"] & rows["valid"]
    assert not rows["train"] & rows["test"]
    assert not rows["valid"] & rows["test"]


def regression_batch():
    """A fixed regression batch (the last position's target is a scaled sum of the first
    feature), for checking that a model trains on the masked MSE."""
    import numpy as np

    from rnnbench.model_api import Batch

    rng = np.random.default_rng(0)
    inputs = rng.random((8, 12, 2)).astype(np.float32)
    targets = np.zeros((8, 12, 1), np.float32)
    targets[:, -1, 0] = inputs[:, :, 0].sum(axis=1) / 6
    mask = np.zeros((8, 12), np.float32)
    mask[:, -1] = 1
    return Batch(inputs, targets, mask)
