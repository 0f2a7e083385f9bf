"""``mamba@torch``: Gu & Dao (2023), "Mamba: Linear-Time Sequence Modeling with Selective State Spaces".

One Mamba block (the paper's Figure 3), input x_t of width d, inner width E = expand·d,
state size N = ``d_state`` per channel::

    (u_t, z_t)   = W_in x_t                                  two branches of width E
    u_t          = SiLU(conv_K(u)_t)                         depthwise causal convolution, K = 4
    (δ_t, B_t, C_t) = W_x u_t                                δ of rank R = ⌈d/16⌉, B_t, C_t ∈ R^N
    Δ_t          = softplus(W_Δ δ_t + b_Δ)                   ∈ R^E, input-dependent step size
    A            = -exp(A_log)                               ∈ R^{E×N}, fixed per channel (S4D-real init)
    h_t          = exp(Δ_t A) ⊙ h_{t-1} + (Δ_t B_t) ⊙ u_t    h ∈ R^{E×N}: the selective scan (S6)
    y_t          = h_t C_t + D ⊙ u_t
    out_t        = W_out (y_t ⊙ SiLU(z_t))

The discretisation is the paper's: zero-order hold for A, the simplified Euler step
Δ_t B_t for B. Δ, B and C depend on the input (selection), so the recurrence is linear
in h with input-dependent coefficients. ``scan=chunked`` (the default, training and the
forward) runs :func:`recurrence.chunked_scan`: a Hillis-Steele scan within chunks of
``chunk`` positions, joined chunk to chunk; ``scan=sequential`` runs the recurrence as
written (the paper's ``selective_scan_ref``). Decoding keeps h and the convolution's
last K-1 inputs per layer. Blocks are stacked residually, ``x ← x + Mamba(RMSNorm(x))``,
with a final RMSNorm, as in the paper's language models (no MLP between blocks).

Initialisation as the paper's code: A_log = log(1..N) per channel, Δ's bias the
inverse softplus of Δ ~ log-uniform[1e-3, 1e-1], D = 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnbench.model_api import ModelConfig
from rnnbench.plugins.torch.recurrence import (
    SEQUENTIAL_SCAN_FLOPS, MixerStack, causal_conv, causal_conv_step, check_choice, check_positive, chunked_scan,
    chunked_scan_flops, empty_window, sequential_scan,
)
from rnnbench.torch_model import TorchModel

SCANS = ("chunked", "sequential")
OPTIONS = {"d_state": 16, "expand": 2, "scan": "chunked", "chunk": 32}
OPTION_HELP = {
    "d_state": "N, the state size per channel (the paper's default 16)",
    "expand": "E/d, the inner width's expansion factor (the paper's 2)",
    "scan": "how training and the forward run the selective scan: chunked (Hillis-Steele within chunks)"
            " or sequential (a loop over T); decoding is always sequential",
    "chunk": "positions per chunk of the chunked scan",
}
D_CONV = 4


def check_options(options: dict, hidden: int) -> None:
    check_choice(options, "scan", SCANS)
    check_positive(options, "d_state", "expand", "chunk")


@dataclass(frozen=True)
class MambaConfig:
    d_model: int
    n_layers: int
    d_state: int = 16
    expand: int = 2
    d_conv: int = D_CONV
    scan: str = "chunked"
    chunk: int = 32

    @property
    def d_inner(self) -> int:
        return self.expand * self.d_model

    @property
    def dt_rank(self) -> int:
        return math.ceil(self.d_model / 16)

    @classmethod
    def from_model_config(cls, config: ModelConfig) -> "MambaConfig":
        o = {**OPTIONS, **config.options}
        check_options(o, config.hidden)
        return cls(d_model=config.hidden, n_layers=config.layers, d_state=o["d_state"], expand=o["expand"],
                   scan=o["scan"], chunk=o["chunk"])


class MambaMixer(nn.Module):
    def __init__(self, cfg: MambaConfig):
        super().__init__()
        self.cfg = cfg
        E, N, R = cfg.d_inner, cfg.d_state, cfg.dt_rank
        self.in_proj = nn.Linear(cfg.d_model, 2 * E)
        self.conv = nn.Conv1d(E, E, cfg.d_conv, groups=E)  # holds weight [E, 1, K] and bias; applied causally
        self.x_proj = nn.Linear(E, R + 2 * N, bias=False)
        self.dt_proj = nn.Linear(R, E)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(E, 1))
        self.D = nn.Parameter(torch.ones(E))
        self.out_proj = nn.Linear(E, cfg.d_model)
        with torch.no_grad():
            dt = torch.exp(torch.empty(E).uniform_(math.log(1e-3), math.log(1e-1)))
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus(bias) = dt

    def _selection(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """u [..., E] -> (log a = Δ A [..., E, N], b = Δ B u [..., E, N], C [..., N])."""
        N, R = self.cfg.d_state, self.cfg.dt_rank
        delta, B, C = self.x_proj(u).split([R, N, N], dim=-1)
        delta = F.softplus(self.dt_proj(delta))
        A = -torch.exp(self.A_log)
        log_a = delta.unsqueeze(-1) * A
        b = (delta * u).unsqueeze(-1) * B.unsqueeze(-2)
        return log_a, b, C

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, z = self.in_proj(x).chunk(2, dim=-1)
        u = F.silu(causal_conv(u, self.conv.weight, self.conv.bias))
        log_a, b, C = self._selection(u)
        if self.cfg.scan == "chunked":
            h = chunked_scan(torch.exp(log_a), b, self.cfg.chunk)
        else:
            h = sequential_scan(torch.exp(log_a), b)
        y = (h * C.unsqueeze(-2)).sum(-1) + self.D * u
        return self.out_proj(y * F.silu(z))

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """(the convolution's last K-1 inputs [B, E, K-1], h [B, E, N])."""
        E = self.cfg.d_inner
        return (empty_window(batch, E, self.cfg.d_conv, device, dtype),
                torch.zeros(batch, E, self.cfg.d_state, device=device, dtype=dtype))

    def step(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        window, h = state
        u, z = self.in_proj(x[:, 0]).chunk(2, dim=-1)
        u, window = causal_conv_step(u, window, self.conv.weight, self.conv.bias)
        u = F.silu(u)
        log_a, b, C = self._selection(u)
        h = torch.exp(log_a) * h + b
        y = (h * C.unsqueeze(-2)).sum(-1) + self.D * u
        return self.out_proj(y * F.silu(z)).unsqueeze(1), (window, h)


def mamba_flops(cfg: MambaConfig, seq_len: int, batch: int) -> float:
    """Per layer: the projections, the convolution, and per state element (E·N of them) per position
    the selection (Δ·A, exp, Δ·u·B: 4), the scan (the form that runs) and the readout h·C (2)."""
    d, E, N, R, K = cfg.d_model, cfg.d_inner, cfg.d_state, cfg.dt_rank, cfg.d_conv
    tokens = batch * seq_len
    projections = 2.0 * tokens * (d * 2 * E + E * (R + 2 * N) + R * E + E * d)
    scan = chunked_scan_flops(cfg.chunk, seq_len) if cfg.scan == "chunked" else SEQUENTIAL_SCAN_FLOPS
    elementwise = tokens * (2.0 * K * E + E * N * (4 + scan + 2) + 6.0 * E)
    return cfg.n_layers * (projections + elementwise)


def factory(config: ModelConfig) -> TorchModel:
    cfg = MambaConfig.from_model_config(config)
    return TorchModel(
        config, lambda c: MixerStack([MambaMixer(cfg) for _ in range(cfg.n_layers)], cfg.d_model, norm=nn.RMSNorm),
        lambda T, B: mamba_flops(cfg, T, B),
        facts={"scan": cfg.scan, "d_state": cfg.d_state, "d_inner": cfg.d_inner},
    )
