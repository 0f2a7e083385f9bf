"""``copy``: the copy memory task (Arjovsky, Shah & Bengio 2016, "Unitary Evolution RNNs").

A sequence of ``T + 2S`` tokens: ``S`` symbols drawn from an alphabet of ``A``
(tokens 1..A), then ``T - 1`` blanks (token 0), a delimiter (token A + 1), and
``S`` more blanks during which the model must output the ``S`` symbols in order.
``--seq-len`` is the delay ``T``: how far the dependency reaches.

Loss and metrics count only the ``S`` recall positions. A model without memory can
do no better than guessing: accuracy ``1/A`` and cross-entropy ``ln A`` per recalled
symbol; over all ``T + 2S`` positions (the paper's loss, where the blanks are free)
that is ``S·ln A / (T + 2S)``, reported as ``memoryless_ce_all_positions``.
"""

from __future__ import annotations

import math

import numpy as np
from rnnbench.tasks._splits import SPLIT_BUCKETS, row_buckets, sample_split, split_rng

import rnnbench
from rnnbench.specs import TaskDefaults
from rnnbench.task_api import SPLITS, TaskShape, classification_metrics
from rnnbench.tasks._bounds import check_count, check_vocabulary

#: symbol strings at or below this count are enumerated, and each split samples from its share
_MAX_POOL = 200_000


class CopyTask(rnnbench.Task):
    primary_metric = "accuracy"
    higher_is_better = True

    def __init__(self, delay: int, num_symbols: int, alphabet_size: int, seed: int):
        _check_sizes(num_symbols, alphabet_size, delay)
        self.delay, self.num_symbols, self.alphabet_size, self.seed = delay, num_symbols, alphabet_size, seed
        self.blank, self.delimiter = 0, alphabet_size + 1
        self.shape = TaskShape(
            input_kind="tokens", input_size=alphabet_size + 2,
            output_kind="classes", output_size=alphabet_size + 1,
            seq_len=delay + 2 * num_symbols,
        )

    def symbols(self, split: str, index: int, batch_size: int) -> np.ndarray:
        """The symbol strings of one batch; the split of a string is the hash of its row (tasks/_splits.py)."""
        rng = split_rng(self.seed, split, index)
        pool = self._small_space_pool(split)
        if pool is not None:  # few possible sequences: sample from this split's share of them
            return pool[rng.integers(0, len(pool), size=batch_size)]

        def generate(rng: np.random.Generator, n: int) -> tuple[np.ndarray]:
            return (rng.integers(1, self.alphabet_size + 1, size=(n, self.num_symbols)),)

        return sample_split(split, rng, batch_size, generate)[0]

    def _small_space_pool(self, split: str) -> np.ndarray | None:
        # compared in logs: alphabet_size ** num_symbols itself can be a number of thousands of digits
        if self.num_symbols * math.log(self.alphabet_size) > math.log(_MAX_POOL):
            return None
        space = self.alphabet_size ** self.num_symbols
        if not hasattr(self, "_pools"):
            grid = np.indices((self.alphabet_size,) * self.num_symbols).reshape(self.num_symbols, -1).T + 1
            buckets = row_buckets(grid)
            self._pools = {name: grid[np.isin(buckets, b)] for name, b in SPLIT_BUCKETS.items()}
        pool = self._pools[split]
        if len(pool) == 0:
            raise ValueError(
                f"copy: {space} possible sequences ({self.alphabet_size}^{self.num_symbols}) are too few"
                f" to give the {split} split any; use more symbols or a larger alphabet"
            )
        return pool

    def batch(self, split: str, index: int, batch_size: int) -> rnnbench.Batch:
        S, T = self.num_symbols, self.delay
        symbols = self.symbols(split, index, batch_size)
        inputs = np.full((batch_size, T + 2 * S), self.blank, dtype=np.int64)
        inputs[:, :S] = symbols
        inputs[:, S + T - 1] = self.delimiter
        targets = np.full_like(inputs, self.blank)
        targets[:, -S:] = symbols
        mask = np.zeros(inputs.shape, dtype=np.float32)
        mask[:, -S:] = 1.0
        return rnnbench.Batch(inputs, targets, mask)

    def metrics(self, outputs: np.ndarray, batch: rnnbench.Batch) -> dict[str, float]:
        return classification_metrics(outputs, batch)

    def baselines(self) -> dict[str, rnnbench.Baseline]:
        A, S, T = self.alphabet_size, self.num_symbols, self.delay
        return {
            "accuracy": rnnbench.Baseline(1.0 / A),
            "cross_entropy": rnnbench.Baseline(math.log(A)),
            "memoryless_ce_all_positions": rnnbench.Baseline(S * math.log(A) / (T + 2 * S), "memoryless"),
        }


def _check_sizes(num_symbols: int, alphabet_size: int, delay: int) -> None:
    if delay < 1:
        raise ValueError(f"the delay (--seq-len) must be at least 1, got {delay}")
    check_count("num_symbols", num_symbols)
    check_vocabulary("alphabet_size", alphabet_size)


def check_options(options: dict, seq_len: int) -> None:
    """Bounds first, then build the task once: a symbol space too small for every split fails here."""
    _check_sizes(options["num_symbols"], options["alphabet_size"], seq_len)
    task = CopyTask(delay=seq_len, num_symbols=options["num_symbols"],
                    alphabet_size=options["alphabet_size"], seed=0)
    for split in SPLITS:
        task._small_space_pool(split)  # raises when the split would have no sequence


def factory(options: dict, seq_len: int, seed: int) -> CopyTask:
    return CopyTask(delay=seq_len, num_symbols=options["num_symbols"],
                    alphabet_size=options["alphabet_size"], seed=seed)


@rnnbench.hookimpl
def rnnbench_register_tasks(register):
    register(rnnbench.TaskSpec(
        name="copy", factory=factory, check_options=check_options,
        options={"num_symbols": 10, "alphabet_size": 8},
        defaults=TaskDefaults(seq_len=10, batch_size=64, steps=2000, lr=2e-3),
        seq_len_meaning="delay T between the symbols and the recall",
        description="copy memory task (Arjovsky et al. 2016): recall S symbols after a delay",
    ))
