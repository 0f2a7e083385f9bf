"""``mingru@torch`` and ``minlstm@torch``: Feng et al. (2024), "Were RNNs All We Needed?".

The minimal GRU and LSTM drop every dependence of the gates on the previous state,
so that the recurrence is linear in h and its coefficients are known for all
positions at once. Per layer, with x_t the layer's input (width d)::

    minGRU:   z_t  = σ(W_z x_t + b_z)
              h~_t = g(W_h x_t + b_h)
              h_t  = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t

    minLSTM:  f_t  = σ(W_f x_t + b_f),   i_t = σ(W_i x_t + b_i)
              f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)     (time-independent scale)
              h~_t = g(W_h x_t + b_h)
              h_t  = f'_t ⊙ h_{t-1} + i'_t ⊙ h~_t

    g(x) = x + 1/2 for x ≥ 0, σ(x) for x < 0     (positive, so log h~ exists)

Training and the full forward run, by default (``kernel=fused``), the compiled
sequential scan of fused_scans.py with a_t and b_t computed inside it, in linear space,
from the projection's output (no exp or log per element; the same h_t to float rounding).
``kernel=torch`` runs the pure-torch
forms that ``scan`` chooses: ``scan=parallel``, the parallel scan in log space (Heinsen 2023,
:func:`recurrence.log_space_scan`) with ``log z = -softplus(-k)``,
``log(1 - z) = -softplus(k)``, and for minLSTM ``log f' = -softplus(δ)``,
``log i' = -softplus(-δ)``, ``δ = softplus(-k_f) - softplus(-k_i)``. Decoding runs
the recurrence itself, one position at a time; ``scan=sequential`` runs it for
training too (the paper's comparison). h_0 = 0.

Layers are stacked as the paper stacks them in its language model: pre-LayerNorm
residual blocks, ``x ← x + minRNN(LN(x))``, with a final LayerNorm; the width of
the state is the model's width (the paper's expansion factor 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnbench.model_api import ModelConfig
from rnnbench.plugins.torch.fused_scans import KERNEL_HELP, KERNELS, min_rnn_scan, resolve_kernel
from rnnbench.plugins.torch.recurrence import (
    LOG_SPACE_SCAN_FLOPS, SEQUENTIAL_SCAN_FLOPS, MixerStack, check_choice, log_space_scan, sequential_scan,
)
from rnnbench.torch_model import TorchModel

SCANS = ("parallel", "sequential")
#: ``--model-opt mingru.scan=sequential`` (likewise minlstm)
OPTIONS = {"scan": "parallel", "kernel": "fused"}
OPTION_HELP = {"scan": "how kernel=torch runs the recurrence for training and the forward: parallel (log-space"
                       " scan over T, Heinsen 2023) or sequential (a loop over T); decoding is always sequential",
               "kernel": KERNEL_HELP}
#: projections per cell: minGRU has k_z and k_h, minLSTM k_f, k_i and k_h
PROJECTIONS = {"mingru": 2, "minlstm": 3}


def check_options(options: dict, hidden: int) -> None:
    check_choice(options, "scan", SCANS)
    check_choice(options, "kernel", KERNELS)


@dataclass(frozen=True)
class MinRNNConfig:
    cell: str  # "mingru" or "minlstm"
    d_model: int
    n_layers: int
    scan: str = "parallel"
    kernel: str = "fused"  # the kernel that runs (resolve_kernel), not only the one asked for

    @classmethod
    def from_model_config(cls, cell: str, config: ModelConfig) -> "MinRNNConfig":
        options = {**OPTIONS, **config.options}
        check_options(options, config.hidden)
        return cls(cell=cell, d_model=config.hidden, n_layers=config.layers, scan=options["scan"],
                   kernel=resolve_kernel(options["kernel"], config.device))


def g(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


class MinRNNLayer(nn.Module):
    """One minGRU or minLSTM layer: ``[B, T, d] -> [B, T, d]`` (the states h_1..h_T)."""

    def __init__(self, cell: str, d: int, scan: str, kernel: str = "torch"):
        super().__init__()
        self.cell, self.d, self.scan, self.kernel = cell, d, scan, kernel
        self.proj = nn.Linear(d, PROJECTIONS[cell] * d)  # k_z, k_h  or  k_f, k_i, k_h

    def coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(a_t, b_t) of h_t = a_t ⊙ h_{t-1} + b_t, computed as the paper writes the cell."""
        if self.cell == "mingru":
            k_z, k_h = self.proj(x).chunk(2, dim=-1)
            z = torch.sigmoid(k_z)
            return 1 - z, z * g(k_h)
        k_f, k_i, k_h = self.proj(x).chunk(3, dim=-1)
        f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
        return f / (f + i), i / (f + i) * g(k_h)

    def log_coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log a_t, log b_t), computed in log space without forming a_t or b_t."""
        if self.cell == "mingru":
            k_z, k_h = self.proj(x).chunk(2, dim=-1)
            return -F.softplus(k_z), -F.softplus(-k_z) + log_g(k_h)
        k_f, k_i, k_h = self.proj(x).chunk(3, dim=-1)
        delta = F.softplus(-k_f) - F.softplus(-k_i)
        return -F.softplus(delta), -F.softplus(-delta) + log_g(k_h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel == "fused" and x.device.type == "cpu":
            return min_rnn_scan(self.proj(x), self.cell)  # the gates of coefficients() and the scan, fused
        if self.scan == "parallel":
            return log_space_scan(*self.log_coefficients(x))
        return sequential_scan(*self.coefficients(x))

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """h_0 = 0, ``[B, d]``: all this layer carries."""
        return torch.zeros(batch, self.d, device=device, dtype=dtype)

    def step(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, 1, d], h_{t-1} [B, d] -> (h_t as the output [B, 1, d], h_t)."""
        a, b = self.coefficients(x[:, 0])
        h = a * h + b
        return h.unsqueeze(1), h


def make_core(cfg: MinRNNConfig) -> MixerStack:
    """Pre-LN residual minRNN layers and a final LayerNorm: ``[B, T, d] -> [B, T, d]``."""
    return MixerStack([MinRNNLayer(cfg.cell, cfg.d_model, cfg.scan, cfg.kernel) for _ in range(cfg.n_layers)], cfg.d_model)


def minrnn_flops(cfg: MinRNNConfig, seq_len: int, batch: int) -> float:
    """Per layer: the projections 2·B·T·d·(P·d) and the recurrence's elementwise work per state element.

    The gates' own nonlinearities (σ, softplus, g) add about 4·P per element in either
    form; the scan adds 2 (sequential, and the fused kernel) or 7 (log space) per element:
    both linear in T, since torch's cumulative operations are work-efficient scans.
    """
    d, p = cfg.d_model, PROJECTIONS[cfg.cell]
    log_space = cfg.kernel == "torch" and cfg.scan == "parallel"
    scan = LOG_SPACE_SCAN_FLOPS if log_space else SEQUENTIAL_SCAN_FLOPS
    per_layer = 2.0 * batch * seq_len * d * p * d + batch * seq_len * d * (4 * p + scan)
    return cfg.n_layers * per_layer


def make_factory(cell: str):
    def factory(config: ModelConfig) -> TorchModel:
        cfg = MinRNNConfig.from_model_config(cell, config)
        return TorchModel(config, lambda c: make_core(cfg), lambda T, B: minrnn_flops(cfg, T, B),
                          facts={"kernel": cfg.kernel, "scan": cfg.scan if cfg.kernel == "torch" else "sequential"})

    return factory
