"""``adding``: the adding problem (Hochreiter & Schmidhuber 1997), in the form of
Le, Jaitly & Hinton 2015 ("A Simple Way to Initialize Recurrent Networks of Rectified
Linear Units", section 4.1).

Each of the ``T`` steps is a pair ``(value, marker)``: the value is uniform in
``[0, 1)``; the marker is 1 at exactly two steps, one in the first half of the
sequence (``[0, T//2)``) and one in the second (``[T//2, T)``), and 0 elsewhere. At the
last step the model must output the sum of the two marked values. ``--seq-len`` is
``T``: the first marked value may lie up to ``T - 1`` steps before the answer.

Regression: the output is one number per step and only the last step counts (the
mask). Metric: mean squared error. Baseline: always predicting 1, the expected sum,
has MSE ``Var(X + Y) = 2 · 1/12 = 1/6 ≈ 0.167`` (Le et al. call beating it "learning").
"""

from __future__ import annotations

import numpy as np
from rnnbench.tasks._splits import sample_split, split_rng

import rnnbench
from rnnbench.specs import TaskDefaults
from rnnbench.task_api import TaskShape

#: MSE of the constant prediction 1: the variance of a sum of two independent U[0, 1)
BASELINE_MSE = 1.0 / 6.0


class AddingTask(rnnbench.Task):
    primary_metric = "mse"
    higher_is_better = False

    def __init__(self, length: int, seed: int):
        check_options({}, length)
        self.length, self.seed = length, seed
        self.shape = TaskShape(input_kind="features", input_size=2, output_kind="regression",
                               output_size=1, seq_len=length)

    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray]:
        T, half = self.length, self.length // 2
        inputs = np.zeros((n, T, 2), dtype=np.float32)
        inputs[:, :, 0] = rng.random((n, T), dtype=np.float32)
        rows = np.arange(n)
        inputs[rows, rng.integers(0, half, size=n), 1] = 1.0  # one marker in [0, T//2)
        inputs[rows, rng.integers(half, T, size=n), 1] = 1.0  # one in [T//2, T)
        return (inputs,)

    def batch(self, split: str, index: int, batch_size: int) -> rnnbench.Batch:
        (inputs,) = sample_split(split, split_rng(self.seed, split, index), batch_size, self._generate)
        # y = Σ_t value_t · marker_t, due at the last step
        total = (inputs[:, :, 0].astype(np.float64) * inputs[:, :, 1]).sum(axis=1)
        targets = np.zeros((batch_size, self.length, 1), dtype=np.float32)
        targets[:, -1, 0] = total
        mask = np.zeros((batch_size, self.length), dtype=np.float32)
        mask[:, -1] = 1.0
        return rnnbench.Batch(inputs, targets, mask)

    def metrics(self, outputs: np.ndarray, batch: rnnbench.Batch) -> dict[str, float]:
        mask = batch.mask > 0
        error = outputs[..., 0].astype(np.float64)[mask] - batch.targets[..., 0].astype(np.float64)[mask]
        return {"mse": float(np.mean(error ** 2))}

    def baselines(self) -> dict[str, rnnbench.Baseline]:
        return {"mse": rnnbench.Baseline(BASELINE_MSE)}


def check_options(options: dict, seq_len: int) -> None:
    if seq_len < 2:
        raise ValueError(f"the adding problem needs --seq-len >= 2 (one marker in each half), got {seq_len}")


def factory(options: dict, seq_len: int, seed: int) -> AddingTask:
    return AddingTask(length=seq_len, seed=seed)


@rnnbench.hookimpl
def rnnbench_register_tasks(register):
    register(rnnbench.TaskSpec(
        name="adding", factory=factory, check_options=check_options,
        options={},
        defaults=TaskDefaults(seq_len=100, batch_size=64, steps=500, lr=2e-3),
        seq_len_meaning="sequence length T; the first marked value lies up to T - 1 steps before the answer",
        description="adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): sum the two marked values",
    ))
