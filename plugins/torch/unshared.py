"""``unshared_rnn@torch``: a vanilla tanh RNN whose weights are *not* shared across positions.

The control of rnn-claims claim 7 ("the same set of weights is reused across all time steps,
which helps generalize well over varying sequence lengths"): the same cell as ``rnn@torch``,

    h_t = tanh(W_x[t] x_t + W_h[t] h_{t-1} + b[t])          (h_0 = 0, per layer)

but with one (W_x, W_h, b) per position t < ``positions``. It trains the weights of the
positions it is trained at; a position beyond them runs on weights that never saw a
gradient (they keep their initialisation, PyTorch's U(-1/√H, 1/√H) as nn.RNN draws it).
So what it does beyond its trained length is what a model without weight sharing can do
there. A sequence longer than ``positions`` is refused (there are no weights for it).

Its parameter count grows with ``positions`` (2·P·H² + P·H per layer): ``--match-params``
gives it a narrower width than the shared cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rnnbench.model_api import ModelConfig
from rnnbench.torch_model import TorchModel, recurrent_flops

#: ``--model-opt unshared_rnn.positions=64``: 4x the longest training length of claim 7 (16), so that every
#: evaluated length (up to 64) has weights
OPTIONS = {"positions": 64}
OPTION_HELP = {"positions": "positions with their own weights (the longest sequence the model runs)"}


def check_options(options: dict, hidden: int) -> None:
    if int(options["positions"]) < 1:
        raise ValueError(f"positions must be at least 1, got {options['positions']}")


@dataclass(frozen=True)
class UnsharedConfig:
    hidden: int
    layers: int
    positions: int

    def params(self) -> int:
        """Core parameters: per layer and position W_x, W_h (H×H each) and b (H)."""
        return self.layers * self.positions * (2 * self.hidden * self.hidden + self.hidden)

    def flops(self, seq_len: int, batch: int) -> float:
        """The two matmuls per position and layer, as nn.RNN's (rnnbench.torch_model.recurrent_flops, 1 gate)."""
        return self.layers * recurrent_flops(1, self.hidden, self.hidden, seq_len, batch)


class UnsharedRecurrentCore(nn.Module):
    """``layers`` stacked tanh recurrences, each position with its own weights; [B, T, H] to [B, T, H]."""

    def __init__(self, config: UnsharedConfig):
        super().__init__()
        self.config = config
        H, P, L = config.hidden, config.positions, config.layers
        bound = 1.0 / math.sqrt(H)  # nn.RNN's initialisation, drawn per position
        self.w_x = nn.Parameter(torch.empty(L, P, H, H).uniform_(-bound, bound))
        self.w_h = nn.Parameter(torch.empty(L, P, H, H).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(L, P, H).uniform_(-bound, bound))

    def _check_length(self, end: int) -> None:
        if end > self.config.positions:
            raise ValueError(f"unshared_rnn has weights for {self.config.positions} positions, asked to run"
                             f" position {end} (raise --model-opt unshared_rnn.positions)")

    def _cell(self, layer: int, t: int, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ self.w_x[layer, t].T + h @ self.w_h[layer, t].T + self.bias[layer, t])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        self._check_length(length)
        for layer in range(self.config.layers):
            # the input half of every position at once; the recurrence itself is a loop
            driven = torch.einsum("btd,ted->bte", x, self.w_x[layer, :length]) + self.bias[layer, :length]
            h = x.new_zeros(batch, self.config.hidden)
            outputs = []
            for t in range(length):
                h = torch.tanh(driven[:, t] + h @ self.w_h[layer, t].T)
                outputs.append(h)
            x = torch.stack(outputs, 1)
        return x

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype) -> Any:
        """Each layer's h, and the position the next step runs at (its weights depend on it)."""
        return (torch.zeros(self.config.layers, batch, self.config.hidden, device=device, dtype=dtype),
                torch.zeros((), dtype=torch.long, device=device))

    def step(self, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        h, position = state
        t = int(position)
        self._check_length(t + 1)
        inputs, new_h = x[:, 0], []
        for layer in range(self.config.layers):
            inputs = self._cell(layer, t, inputs, h[layer])
            new_h.append(inputs)
        return inputs.unsqueeze(1), (torch.stack(new_h), position + 1)

    def length_extension(self, seq_len: int, trained_len: int) -> str:
        if seq_len <= trained_len:
            return "unshared weights: every position it runs was trained"
        return (f"unshared weights: positions {trained_len + 1}-{seq_len} run on weights no gradient reached"
                " (their initialisation)")


def factory(config: ModelConfig) -> TorchModel:
    options = {**OPTIONS, **config.options}
    check_options(options, config.hidden)
    core = UnsharedConfig(config.hidden, config.layers, int(options["positions"]))
    return TorchModel(config, lambda c: UnsharedRecurrentCore(core), core.flops,
                      facts={"weight_sharing": f"none: own weights at each of {core.positions} positions"})
