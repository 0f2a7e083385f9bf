"""``mingru@example``: minGRU (Feng et al. 2024, "Were RNNs All We Needed?") on TorchModel.

A minGRU layer's gate and candidate depend on the input only, not on the previous
state::

    z_t = sigmoid(W_z x_t)        h~_t = g(W_h x_t)        h_t = (1 - z_t) * h_{t-1} + z_t * h~_t

so training can compute every h_t at once with a parallel scan, while decoding is
the same recurrence one token at a time. The ``scan`` option picks how ``forward``
computes it: ``"parallel"`` (the paper's log-space scan, cumsum and logcumsumexp
over T) or ``"sequential"`` (a Python loop over T); both give the same outputs, and
comparing their speed is what the option is for.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import rnnbench
from rnnbench.torch_model import TorchModel

SCANS = ("parallel", "sequential")


def g(x: torch.Tensor) -> torch.Tensor:
    """The paper's positive activation: x + 0.5 for x >= 0, sigmoid(x) below (so log h~ exists)."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


class MinGRULayer(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.gate = nn.Linear(hidden, hidden)
        self.candidate = nn.Linear(hidden, hidden)

    def cell(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One step: x [B, H], previous h [B, H] -> new h [B, H]."""
        z = torch.sigmoid(self.gate(x))
        return (1 - z) * h + z * g(self.candidate(x))

    def forward(self, x: torch.Tensor, scan: str) -> torch.Tensor:
        """x [B, T, H] -> h [B, T, H], from h_0 = 0."""
        if scan == "sequential":
            h = torch.zeros_like(x[:, 0])
            states = []
            for t in range(x.shape[1]):
                h = self.cell(x[:, t], h)
                states.append(h)
            return torch.stack(states, dim=1)
        # h_t = sum_{s<=t} z_s h~_s prod_{s<r<=t} (1 - z_r), in log space (Heinsen 2023):
        k = self.gate(x)
        log_z, log_keep = -F.softplus(-k), -F.softplus(k)  # log z, log(1 - z)
        a_star = torch.cumsum(log_keep, dim=1)
        return torch.exp(a_star + torch.logcumsumexp(log_z + log_g(self.candidate(x)) - a_star, dim=1))


class MinGRUCore(nn.Module):
    """Residual minGRU layers: [B, T, H] -> [B, T, H]; what TorchModel wraps."""

    def __init__(self, hidden: int, layers: int, scan: str):
        super().__init__()
        self.scan = scan
        self.layers = nn.ModuleList(MinGRULayer(hidden) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = x + layer(x, self.scan)
        return x

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        return torch.zeros(len(self.layers), batch, self.layers[0].gate.in_features, device=device, dtype=dtype)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, 1, H]; returns a new state and leaves ``state`` untouched."""
        x = x[:, 0]
        new = []
        for layer, h in zip(self.layers, state):
            h = layer.cell(x, h)
            new.append(h)
            x = x + h
        return x[:, None], torch.stack(new)


def check_options(options: dict, hidden: int) -> None:
    if options["scan"] not in SCANS:
        raise ValueError(f"scan must be one of {', '.join(SCANS)}, got {options['scan']!r}")


def make_model(config: rnnbench.ModelConfig) -> TorchModel:
    scan = config.options["scan"]

    def core_flops(seq_len: int, batch: int) -> float:
        # the two H x H projections of each layer: 2 x 2·B·T·H² (the element-wise scan is not counted)
        return config.layers * 2 * 2.0 * batch * seq_len * config.hidden ** 2

    return TorchModel(config, lambda c: MinGRUCore(c.hidden, c.layers, scan), core_flops,
                      facts={"scan": scan})


MODEL_SPEC = rnnbench.ModelSpec(
    arch="mingru", backend="example", family="recurrent", factory=make_model,
    devices=("cpu", "cuda"), dtypes=("float32", "float64"), default_for_arch=True,
    options={"scan": "parallel"},
    option_help={"scan": "parallel (log-space scan over T) or sequential (a loop over T)"},
    check_options=check_options,
    description="minGRU (Feng et al. 2024): parallel scan for training, step() for decoding",
)
