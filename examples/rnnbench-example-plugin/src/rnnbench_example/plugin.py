"""Hook implementations of the example plugin: one model, one task."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import rnnbench
from rnnbench.torch_model import TorchModel
from rnnbench.specs import TaskDefaults
from rnnbench.task_api import masked_accuracy


# -- the model: causal dilated convolutions ---------------------------------------------------

class CausalConvCore(nn.Module):
    """Residual blocks of kernel-2 convolutions with dilations 1, 2, 4, ... (WaveNet-style).

    Maps [B, T, H] to [B, T, H]; position t sees only positions <= t.
    """

    def __init__(self, hidden: int, layers: int):
        super().__init__()
        self.dilations = [2 ** i for i in range(max(layers, 1) * 3)]
        self.convs = nn.ModuleList(nn.Conv1d(hidden, hidden, kernel_size=2, dilation=d) for d in self.dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)  # [B, H, T]
        for dilation, conv in zip(self.dilations, self.convs):
            h = h + torch.relu(conv(nn.functional.pad(h, (dilation, 0))))  # left-pad: causal
        return h.transpose(1, 2)


def conv_factory(config: rnnbench.ModelConfig) -> TorchModel:
    def core_flops(seq_len: int, batch: int) -> float:
        # each conv: 2 taps x H x H multiply-adds per position
        return 3 * max(config.layers, 1) * 2.0 * 2 * batch * seq_len * config.hidden ** 2

    return TorchModel(config, lambda c: CausalConvCore(c.hidden, c.layers), core_flops,
                      facts={"receptive_field": 2 ** (3 * max(config.layers, 1))})


# -- the task: reverse a sequence --------------------------------------------------------------

class ReverseTask(rnnbench.Task):
    """S symbols, a delimiter, then the model outputs the symbols in reverse order."""

    primary_metric = "accuracy"
    higher_is_better = True

    def __init__(self, length: int, alphabet_size: int, seed: int):
        self.length, self.alphabet_size, self.seed = length, alphabet_size, seed
        self.shape = rnnbench.TaskShape(
            input_kind="tokens", input_size=alphabet_size + 2,
            output_kind="classes", output_size=alphabet_size + 1, seq_len=2 * length + 1,
        )

    def batch(self, split: str, index: int, batch_size: int) -> rnnbench.Batch:
        # A separate random stream per split; train sequences have an even symbol sum,
        # valid and test an odd one, so train never shares a sequence with them.
        rng = np.random.default_rng([self.seed, ("train", "valid", "test").index(split), index])
        S, A = self.length, self.alphabet_size
        symbols = rng.integers(1, A + 1, size=(batch_size, S))
        wrong = symbols.sum(axis=1) % 2 != (0 if split == "train" else 1)
        last = symbols[wrong, -1]
        symbols[wrong, -1] = np.where(last < A, last + 1, last - 1)  # flips the parity
        inputs = np.zeros((batch_size, 2 * S + 1), dtype=np.int64)
        inputs[:, :S] = symbols
        inputs[:, S] = A + 1
        targets = np.zeros_like(inputs)
        targets[:, S + 1:] = symbols[:, ::-1]
        mask = np.zeros(inputs.shape, dtype=np.float32)
        mask[:, S + 1:] = 1.0
        return rnnbench.Batch(inputs, targets, mask)

    def metrics(self, outputs: np.ndarray, batch: rnnbench.Batch) -> dict[str, float]:
        return {"accuracy": masked_accuracy(outputs, batch)}

    def baselines(self) -> dict[str, float]:
        return {"accuracy": 1.0 / self.alphabet_size}


def reverse_factory(options: dict, seq_len: int, seed: int) -> ReverseTask:
    return ReverseTask(length=seq_len, alphabet_size=options["alphabet_size"], seed=seed)


# -- the hooks ---------------------------------------------------------------------------------

@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(
        arch="conv", backend="example", family="other", factory=conv_factory,
        devices=("cpu", "cuda"), dtypes=("float32", "float64"), default_for_arch=True,
        description="causal dilated convolutions (example plugin)",
    ))


@rnnbench.hookimpl
def rnnbench_register_tasks(register):
    register(rnnbench.TaskSpec(
        name="reverse", factory=reverse_factory, options={"alphabet_size": 8},
        defaults=TaskDefaults(seq_len=8, batch_size=32, steps=300, lr=3e-3),
        seq_len_meaning="number of symbols to reverse",
        description="output the input symbols in reverse order (example plugin)",
    ))
