"""What the tasks on real data share: the optional packages they need, and finite splits.

The packages (aeon, statsmodels, scikit-learn) are heavy, so they are the extra
``rnnbench[data]``; a task module imports them only when a case is built, so that
``rnnbench list`` works without them and a run says in one line what to install.
"""

from __future__ import annotations

import importlib
import importlib.util

import numpy as np

from rnnbench.task_api import SPLITS, Baseline
from rnnbench.extras import install_hint

INSTALL_HINT = install_hint("data")


def missing(*modules: str) -> str | None:
    """``None`` when every module can be imported, else the line that says what to install."""
    absent = [name for name in modules if importlib.util.find_spec(name) is None]
    return f"needs {', '.join(absent)}: {INSTALL_HINT}" if absent else None


def require(module: str):
    """Import ``module``, or raise ``ValueError`` with the install line (a usage error, exit 2)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValueError(f"needs {module}: {INSTALL_HINT}") from None


def eval_positions(split: str, index: int, batch_size: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Example ids and a counted flag for batch ``index`` of a finite evaluation split of ``count`` examples.

    Batches walk through the split in order; batch ``index`` is batch ``index mod n`` of the
    ``n = ceil(count / batch_size)`` that cover it once, the last padded with example 0, not counted.
    """
    if split not in SPLITS or split == "train":
        raise ValueError(f"not an evaluation split: {split!r}")
    if index < 0:
        raise ValueError(f"batch index must be >= 0, got {index}")
    covering = -(-count // batch_size)
    positions = (index % covering) * batch_size + np.arange(batch_size)
    counted = positions < count
    return np.where(counted, positions, 0), counted


def covering_batches(count: int, batch_size: int) -> int:
    """How many batches of ``batch_size`` cover ``count`` examples once."""
    return -(-count // batch_size)


def finite_batch_ids(split: str, index: int, batch_size: int, count: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Example ids and counted flags of a batch of a finite split: train samples with replacement
    (``rng``, the batch's own generator), valid and test walk through in order (:func:`eval_positions`)."""
    if split == "train":
        return rng.integers(0, count, size=batch_size), np.ones(batch_size, bool)
    return eval_positions(split, index, batch_size, count)


def class_prior_baselines(train: np.ndarray, test: np.ndarray, classes: int, detail: str) -> dict[str, Baseline]:
    """The majority class of ``train`` scored on ``test`` (ties: the mean over the tied classes), and
    the cross-entropy of ``train``'s add-one smoothed class frequencies on ``test``."""
    counts = np.bincount(train, minlength=classes)
    prior = (counts + 1) / (counts.sum() + classes)
    tied = np.flatnonzero(counts == counts.max())
    return {
        "accuracy": Baseline(float(np.mean([np.mean(test == c) for c in tied])), "majority class", detail),
        "cross_entropy": Baseline(float(-np.log(prior[test]).mean()), "chance", "training class frequencies"),
    }
