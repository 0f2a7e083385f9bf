"""``parity``: the running parity of a bit string, at every position.

Position t's target is the XOR of bits 1..t: a recurrent model needs one bit of
state, flipped by every 1. Splits are disjoint: each bit string belongs to train,
valid or test by its hash (``rnnbench.sample_split``).
"""

from __future__ import annotations

import math

import numpy as np

import rnnbench

#: below 2^8 possible strings the 10% valid and test shares are too small to sample from
MIN_BITS = 8


class ParityTask(rnnbench.Task):
    primary_metric = "accuracy"
    higher_is_better = True

    def __init__(self, length: int, seed: int):
        check_options({}, length)
        self.seed = seed
        self.shape = rnnbench.TaskShape(input_kind="tokens", input_size=2,
                                        output_kind="classes", output_size=2, seq_len=length)

    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray]:
        return (rng.integers(0, 2, size=(n, self.shape.seq_len)),)

    def batch(self, split: str, index: int, batch_size: int) -> rnnbench.Batch:
        rng = rnnbench.split_rng(self.seed, split, index)
        (bits,) = rnnbench.sample_split(split, rng, batch_size, self._generate)
        targets = np.cumsum(bits, axis=1) % 2
        mask = np.ones(bits.shape, np.float32)  # every position's parity counts
        return rnnbench.Batch(bits.astype(np.int64), targets.astype(np.int64), mask)

    def metrics(self, outputs: np.ndarray, batch: rnnbench.Batch) -> dict[str, float]:
        return rnnbench.classification_metrics(outputs, batch)

    def baselines(self) -> dict[str, rnnbench.Baseline]:
        return {"accuracy": rnnbench.Baseline(0.5, "chance"), "cross_entropy": rnnbench.Baseline(math.log(2), "chance")}


def check_options(options: dict, seq_len: int) -> None:
    if seq_len < MIN_BITS:
        raise ValueError(f"parity needs --seq-len >= {MIN_BITS} (2^{seq_len} strings are too few to split)")


TASK_SPEC = rnnbench.TaskSpec(
    name="parity",
    factory=lambda options, seq_len, seed: ParityTask(seq_len, seed),
    check_options=check_options,
    defaults=rnnbench.TaskDefaults(seq_len=16, batch_size=64, steps=300, lr=1e-2, hidden=64),
    seq_len_meaning="number of bits",
    description="running parity of a bit string (example plugin)",
)
