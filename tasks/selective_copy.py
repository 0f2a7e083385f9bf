"""``selective_copy``: the selective copying task (Gu & Dao 2023, "Mamba: Linear-Time
Sequence Modeling with Selective State Spaces", section 3.1 and figure 2).

A region of ``L`` positions holds ``k`` data tokens (drawn uniformly from an alphabet
of ``A``, tokens ``1..A``) at random positions, in order of appearance; every other
position is the noise token 0. Then come ``k`` recall positions, each the marker token
``A + 1``, at which the model must output the data tokens in the order they appeared.
Unlike ``copy`` the data do not sit at fixed positions, so the model must pick them out
by content: time-invariant mixing (a fixed convolution, a fixed attention offset) fails.

``--seq-len`` is ``L``, the length of the noisy region; the first data token may lie up to
``L + k - 1`` positions before its recall. The total length is ``L + k``.

Metric: accuracy over the ``k`` recalled tokens (and their cross-entropy). Baseline:
chance, ``1/A`` (cross-entropy ``ln A``); no model that ignores the region can beat it.
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


class SelectiveCopyTask(rnnbench.Task):
    primary_metric = "accuracy"
    higher_is_better = True

    def __init__(self, region: int, num_tokens: int, alphabet_size: int, seed: int):
        check_options({"num_tokens": num_tokens, "alphabet_size": alphabet_size}, region)
        self.region, self.num_tokens, self.alphabet_size, self.seed = region, num_tokens, alphabet_size, seed
        self.noise, self.marker = 0, alphabet_size + 1
        self.shape = TaskShape(input_kind="tokens", input_size=alphabet_size + 2,
                               output_kind="classes", output_size=alphabet_size + 1,
                               seq_len=region + num_tokens)

    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        L, k = self.region, self.num_tokens
        # k distinct positions per row, uniformly: the first k of a random permutation, sorted
        positions = np.sort(np.argsort(rng.random((n, L)), axis=1)[:, :k], axis=1)
        data = rng.integers(1, self.alphabet_size + 1, size=(n, k))
        inputs = np.full((n, L + k), self.noise, dtype=np.int64)
        np.put_along_axis(inputs, positions, data, axis=1)
        inputs[:, L:] = self.marker
        return inputs, data

    def batch(self, split: str, index: int, batch_size: int) -> rnnbench.Batch:
        inputs, data = sample_split(split, split_rng(self.seed, split, index), batch_size, self._generate)
        k = self.num_tokens
        targets = np.zeros_like(inputs)
        targets[:, -k:] = data
        mask = np.zeros(inputs.shape, dtype=np.float32)
        mask[:, -k:] = 1.0
        return rnnbench.Batch(inputs, targets, mask)

    def metrics(self, outputs: np.ndarray, batch: rnnbench.Batch) -> dict[str, float]:
        return classification_metrics(outputs, batch)

    def baselines(self) -> dict[str, rnnbench.Baseline]:
        return {"accuracy": rnnbench.Baseline(1.0 / self.alphabet_size),
                "cross_entropy": rnnbench.Baseline(math.log(self.alphabet_size))}


def check_options(options: dict, seq_len: int) -> None:
    k, A = options["num_tokens"], options["alphabet_size"]
    check_count("num_tokens", k)
    check_vocabulary("alphabet_size", A)
    if seq_len < k:
        raise ValueError(f"the noisy region (--seq-len {seq_len}) cannot hold num_tokens={k} data tokens")
    # log of C(L, k) · A^k, the number of distinct inputs
    log_space = math.lgamma(seq_len + 1) - math.lgamma(k + 1) - math.lgamma(seq_len - k + 1) + k * math.log(A)
    if log_space < math.log(MIN_DISTINCT_EXAMPLES):
        raise ValueError(
            f"only about {math.exp(log_space):.0f} distinct sequences (C({seq_len},{k})·{A}^{k}), too few to"
            f" split into disjoint train/valid/test (need {MIN_DISTINCT_EXAMPLES}); raise --seq-len,"
            " num_tokens or alphabet_size")


def factory(options: dict, seq_len: int, seed: int) -> SelectiveCopyTask:
    return SelectiveCopyTask(region=seq_len, num_tokens=options["num_tokens"],
                             alphabet_size=options["alphabet_size"], seed=seed)


@rnnbench.hookimpl
def rnnbench_register_tasks(register):
    register(rnnbench.TaskSpec(
        name="selective_copy", factory=factory, check_options=check_options,
        options={"num_tokens": 4, "alphabet_size": 8},
        defaults=TaskDefaults(seq_len=32, batch_size=64, steps=500, lr=2e-3),
        seq_len_meaning="length L of the noisy region the data tokens are scattered over",
        description="selective copying (Gu & Dao 2023): recall k tokens scattered among noise, in order",
    ))
