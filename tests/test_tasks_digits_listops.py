"""digits (sequential and permuted 8x8 digits) and listops (the ListOps grammar): shapes, splits, baselines."""

import numpy as np
import pytest

from rnnbench.task_api import baseline_entries
from rnnbench.tasks import listops
from tasks_helpers import assert_disjoint, split_rows


def digits_task(permuted=False, seed=0):
    pytest.importorskip("sklearn")
    from rnnbench.tasks import digits

    return digits.DigitsTask(permuted=permuted, seed=seed)


def test_digits_one_pixel_per_step_class_at_the_end():
    task = digits_task()
    b = task.batch("test", 0, 16)
    assert b.inputs.shape == (16, 64, 1) and b.inputs.dtype == np.float32 and 0 <= b.inputs.min() <= b.inputs.max() <= 1
    assert (b.mask[:, -1] == 1).all() and b.mask.sum() == 16
    image = task.data.pixels["test"][0]
    assert np.array_equal(b.inputs[0, :, 0], image)  # row-major
    assert b.targets[0, -1] == task.data.labels["test"][0]


def test_digits_permutation_fixed_and_the_same_for_every_seed():
    plain, a, b = digits_task(), digits_task(True, seed=0), digits_task(True, seed=5)
    assert np.array_equal(a.order, b.order) and sorted(a.order) == list(range(64)) and not np.array_equal(a.order, plain.order)
    x, y = plain.batch("test", 1, 8), a.batch("test", 1, 8)
    assert np.array_equal(y.inputs[:, :, 0], x.inputs[:, a.order, 0])


def test_digits_splits_disjoint_cover_every_image_and_are_deterministic():
    task = digits_task()
    sizes = {split: len(labels) for split, labels in task.data.labels.items()}
    assert sum(sizes.values()) == 1797 and sizes["test"] > 100
    assert_disjoint(split_rows(task, batches=4, batch_size=64))
    assert np.array_equal(task.batch("train", 3, 8).inputs, digits_task().batch("train", 3, 8).inputs)


def test_digits_baselines_recomputed():
    task = digits_task()
    counts = np.bincount(task.data.labels["train"], minlength=10)
    tied = np.flatnonzero(counts == counts.max())
    expected = np.mean([np.mean(task.data.labels["test"] == c) for c in tied])
    assert baseline_entries(task.baselines())["accuracy"].value == pytest.approx(expected)


def test_digits_contract(registry):
    pytest.importorskip("sklearn")
    from rnnbench.testing import check_task

    check_task(registry.tasks["digits"], options={"permuted": True}, batch_size=32, batches=4)


def _evaluate(tokens):
    """A reference evaluator over the token list, independent of the generator's recursion."""
    stack = []
    for token in tokens:
        if token == listops.CLOSE:
            args = []
            while not isinstance(stack[-1], str):
                args.append(stack.pop())
            stack.append(listops.apply(stack.pop(), args[::-1]))
        elif token >= listops.FIRST_OP:
            stack.append(listops.OPERATORS[token - listops.FIRST_OP])
        elif token >= listops.FIRST_DIGIT:
            stack.append(token - listops.FIRST_DIGIT)
    return stack.pop()


def test_listops_answers_lengths_and_mask():
    task = listops.ListOpsTask(max_len=32, max_depth=10, max_args=5, seed=0)
    b = task.batch("train", 0, 64)
    assert b.inputs.shape == (64, 32) and b.inputs.max() < listops.VOCABULARY
    lengths = b.mask.argmax(axis=1) + 1
    assert (b.mask.sum(axis=1) == 1).all() and (lengths >= 16).all() and (lengths <= 32).all()
    for row in range(64):
        tokens = b.inputs[row, :lengths[row]]
        assert (b.inputs[row, lengths[row]:] == listops.PAD).all() and tokens[-1] == listops.CLOSE
        assert b.targets[row, 0] == _evaluate(tokens.tolist())


def test_listops_median_and_sum_mod_10():
    assert listops.apply("MED", [1, 2, 9, 8]) == 5 and listops.apply("SM", [9, 8, 7]) == 4


def test_listops_contract_and_baseline(registry):
    from rnnbench.testing import check_task

    report = check_task(registry.tasks["listops"], seq_len=24, batch_size=16, batches=4)
    assert any("disjoint" in line for line in report.checked)
    accuracy = baseline_entries(listops.ListOpsTask(24, 10, 5, 0).baselines())["accuracy"]
    assert accuracy.kind == "majority class" and 0.09 < accuracy.value < 0.2


def test_listops_too_short_is_refused():
    with pytest.raises(ValueError, match="at least 8"):
        listops.check_options({"max_depth": 10, "max_args": 5}, 4)
