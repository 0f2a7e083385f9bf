"""``digits``: sequential digit classification on scikit-learn's 8x8 handwritten digits.

The UCI "Optical Recognition of Handwritten Digits" test set (Alpaydin & Kaynak 1998; 1,797
images of 8x8 pixels, 17 grey levels) that scikit-learn ships. Each image is read one pixel per
step in row-major order, 64 steps of one feature (the pixel divided by 16), and the class is
read at the last step: the sequential-MNIST protocol of Le, Jaitly & Hinton 2015 at 8x8.
``permuted=true`` reads the pixels in one fixed random order (permutation seed 0, the same for
every run seed), the pMNIST protocol, which spreads each stroke over the whole sequence.

The split is by the hash of each image's pixels (80 / 10 / 10, tasks/_splits.py), so an image
that occurs twice lands in one split; the test split is scored whole. Baselines: the majority
class of the training split (accuracy) and its class frequencies (cross-entropy).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from rnnbench.tasks._data import class_prior_baselines, covering_batches, finite_batch_ids, missing, require
from rnnbench.tasks._splits import SPLIT_BUCKETS, row_buckets, split_rng

import rnnbench
from rnnbench.specs import TaskDefaults
from rnnbench.task_api import Baseline, TaskShape, classification_metrics

PIXELS = 64
PERMUTATION_SEED = 0
PACKAGES = ("sklearn",)


@dataclass(frozen=True)
class Split:
    pixels: dict[str, np.ndarray]  # split -> [N, 64] float32 in [0, 1], row-major
    labels: dict[str, np.ndarray]


@functools.lru_cache(maxsize=1)
def load() -> Split:
    digits = require("sklearn.datasets").load_digits()
    images = digits.data.astype(np.float32) / 16.0
    buckets = row_buckets(digits.data.astype(np.int64))  # by the image alone: duplicates share a split
    pixels, labels = {}, {}
    for split, chosen in SPLIT_BUCKETS.items():
        keep = np.isin(buckets, chosen)
        pixels[split], labels[split] = images[keep], digits.target[keep].astype(np.int64)
    return Split(pixels, labels)


def permutation() -> np.ndarray:
    """The fixed pixel order of ``permuted=true``."""
    return np.random.default_rng(PERMUTATION_SEED).permutation(PIXELS)


class DigitsTask(rnnbench.Task):
    primary_metric = "accuracy"
    higher_is_better = True

    def __init__(self, permuted: bool, seed: int):
        self.permuted, self.seed = permuted, seed
        self.data = load()
        self.order = permutation() if permuted else np.arange(PIXELS)
        self.shape = TaskShape(input_kind="features", input_size=1, output_kind="classes", output_size=10,
                               seq_len=PIXELS)

    def batch(self, split: str, index: int, batch_size: int) -> rnnbench.Batch:
        rng = split_rng(self.seed, split, index)
        count = len(self.data.labels[split])
        ids, counted = finite_batch_ids(split, index, batch_size, count, rng)
        inputs = self.data.pixels[split][ids][:, self.order, None]
        targets = np.repeat(self.data.labels[split][ids][:, None], PIXELS, axis=1)
        mask = np.zeros((batch_size, PIXELS), dtype=np.float32)
        mask[:, -1] = counted
        return rnnbench.Batch(np.ascontiguousarray(inputs), targets, mask)

    def test_batches(self, batch_size: int) -> int:
        return covering_batches(len(self.data.labels["test"]), batch_size)

    def metrics(self, outputs: np.ndarray, batch: rnnbench.Batch) -> dict[str, float]:
        return classification_metrics(outputs, batch)

    def baselines(self) -> dict[str, Baseline]:
        return class_prior_baselines(self.data.labels["train"], self.data.labels["test"], 10, "of the training split")


def check_options(options: dict, seq_len: int) -> None:
    if seq_len != PIXELS:
        raise ValueError(f"digits has one step per pixel of an 8x8 image: --seq-len must be {PIXELS}, got {seq_len}")
    reason = missing(*PACKAGES)
    if reason:
        raise ValueError(reason)


def factory(options: dict, seq_len: int, seed: int) -> DigitsTask:
    return DigitsTask(permuted=options["permuted"], seed=seed)


@rnnbench.hookimpl
def rnnbench_register_tasks(register):
    register(rnnbench.TaskSpec(
        name="digits", factory=factory, check_options=check_options,
        options={"permuted": False},
        defaults=TaskDefaults(seq_len=PIXELS, batch_size=64, steps=400, lr=2e-3),
        seq_len_meaning="64, one step per pixel (fixed)",
        description="sequential 8x8 digits, pixel by pixel (permuted=true: pMNIST's fixed permutation)",
        source="scikit-learn: bundled UCI digits; hashed 80/10/10 split",
        available=lambda: missing(*PACKAGES),
    ))
