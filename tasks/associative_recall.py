"""``associative_recall``: multi-query associative recall, MQAR (Arora et al. 2023,
"Zoology: Measuring and Improving Recall in Efficient Language Models", section 3).

A sequence of ``T`` tokens starts with ``N`` key–value pairs ``k1 v1 k2 v2 … kN vN``
(keys distinct, from a key vocabulary of ``K``; values from a value vocabulary of ``V``,
repeats allowed). The rest of the sequence is filler (token 0) with ``Q`` queries at
random positions: each query is one of the pair keys (each key queried at most once, in
random order), and at a query the model must output the value that key was paired
with. Token ids: 0 filler, ``1..K`` keys, ``K+1..K+V`` values; the output classes are
the ``V`` values.

``--seq-len`` is ``T``, the total length: a query may come up to ``T - 2`` positions
after its pair, so it is how far the dependency reaches. It must hold ``2N + Q``.

Metric: accuracy on the queried values (and their cross-entropy). Baseline: chance,
``1/V`` (cross-entropy ``ln V``). A model that only remembers which values occurred,
not with which key, gets about ``1/N``; solving the task needs recall by content,
which attention does in two layers (an induction head) and a fixed-size recurrent
state does only while the ``N`` pairs fit into it.
"""

from __future__ import annotations

import math

import numpy as np
from rnnbench.tasks._splits import sample_split, split_rng

import rnnbench
from rnnbench.specs import TaskDefaults
from rnnbench.task_api import TaskShape, classification_metrics
from rnnbench.tasks._bounds import check_count, check_vocabulary

#: a split needs members; below this many distinct examples the hash split is refused
MIN_DISTINCT_EXAMPLES = 1_000


class AssociativeRecallTask(rnnbench.Task):
    primary_metric = "accuracy"
    higher_is_better = True

    def __init__(self, length: int, num_pairs: int, num_queries: int, num_keys: int, num_values: int,
                 seed: int):
        check_options({"num_pairs": num_pairs, "num_queries": num_queries, "num_keys": num_keys,
                       "num_values": num_values}, length)
        self.length, self.num_pairs, self.num_queries = length, num_pairs, num_queries
        self.num_keys, self.num_values, self.seed = num_keys, num_values, seed
        self.shape = TaskShape(input_kind="tokens", input_size=1 + num_keys + num_values,
                               output_kind="classes", output_size=num_values, seq_len=length)

    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        T, N, Q, K, V = self.length, self.num_pairs, self.num_queries, self.num_keys, self.num_values
        keys = np.argsort(rng.random((n, K)), axis=1)[:, :N] + 1  # N distinct keys per row
        values = rng.integers(0, V, size=(n, N))  # value classes 0..V-1
        asked = np.argsort(rng.random((n, N)), axis=1)[:, :Q]  # which pairs are queried, in order
        slots = np.sort(np.argsort(rng.random((n, T - 2 * N)), axis=1)[:, :Q], axis=1) + 2 * N
        inputs = np.zeros((n, T), dtype=np.int64)
        inputs[:, 0:2 * N:2] = keys
        inputs[:, 1:2 * N:2] = values + 1 + K
        np.put_along_axis(inputs, slots, np.take_along_axis(keys, asked, axis=1), axis=1)
        answers = np.take_along_axis(values, asked, axis=1)
        return inputs, slots, answers

    def batch(self, split: str, index: int, batch_size: int) -> rnnbench.Batch:
        inputs, slots, answers = sample_split(split, split_rng(self.seed, split, index), batch_size,
                                              self._generate)
        targets = np.zeros_like(inputs)
        np.put_along_axis(targets, slots, answers, axis=1)
        mask = np.zeros(inputs.shape, dtype=np.float32)
        np.put_along_axis(mask, slots, 1.0, axis=1)
        return rnnbench.Batch(inputs, targets, mask)

    def metrics(self, outputs: np.ndarray, batch: rnnbench.Batch) -> dict[str, float]:
        return classification_metrics(outputs, batch)

    def baselines(self) -> dict[str, rnnbench.Baseline]:
        return {"accuracy": rnnbench.Baseline(1.0 / self.num_values),
                "cross_entropy": rnnbench.Baseline(math.log(self.num_values))}


def check_options(options: dict, seq_len: int) -> None:
    N, Q, K, V = (options[k] for k in ("num_pairs", "num_queries", "num_keys", "num_values"))
    check_count("num_pairs", N)
    check_count("num_queries", Q)
    check_vocabulary("num_keys", K, low=1)
    check_vocabulary("num_values", V)
    if K < N:
        raise ValueError(f"num_keys={K} cannot give num_pairs={N} distinct keys")
    if Q > N:
        raise ValueError(f"num_queries={Q} is more than num_pairs={N} (each key is queried at most once)")
    if seq_len < 2 * N + Q:
        raise ValueError(f"--seq-len must hold {N} pairs and {Q} queries: at least {2 * N + Q}, got {seq_len}")
    # log of K!/(K-N)! · V^N, the distinct pair prefixes (queries only add to it)
    log_space = math.lgamma(K + 1) - math.lgamma(K - N + 1) + N * math.log(V)
    if log_space < math.log(MIN_DISTINCT_EXAMPLES):
        raise ValueError(
            f"only about {math.exp(log_space):.0f} distinct key-value prefixes, too few to split into"
            f" disjoint train/valid/test (need {MIN_DISTINCT_EXAMPLES}); raise num_pairs, num_keys or num_values")


def factory(options: dict, seq_len: int, seed: int) -> AssociativeRecallTask:
    return AssociativeRecallTask(length=seq_len, num_pairs=options["num_pairs"],
                                 num_queries=options["num_queries"], num_keys=options["num_keys"],
                                 num_values=options["num_values"], seed=seed)


@rnnbench.hookimpl
def rnnbench_register_tasks(register):
    register(rnnbench.TaskSpec(
        name="associative_recall", factory=factory, check_options=check_options,
        options={"num_pairs": 8, "num_queries": 8, "num_keys": 32, "num_values": 32},
        defaults=TaskDefaults(seq_len=64, batch_size=64, steps=300, lr=2e-3, layers=2),
        seq_len_meaning="total length T; a query comes up to T - 2 positions after its key-value pair",
        description="multi-query associative recall, MQAR (Arora et al. 2023): values of queried keys",
    ))
