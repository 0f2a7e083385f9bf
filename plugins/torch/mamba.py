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
in h with input-dependent coefficients. ``kernel=fused`` (the default) runs softplus, the
selective scan, its readout h_t C_t, the skip D u_t and the gate ⊙ SiLU(z_t) as one compiled loop
with its own backward (fused_scans.py), which recomputes the states a chunk of positions at a time
from checkpoints, as mamba_ssm's CUDA kernel recomputes them, instead of keeping [B, T, E, N]; the convolution with its SiLU and the RMSNorms are one compiled
pass each. ``kernel=torch`` runs the pure-torch form that ``scan``
chooses: ``scan=chunked`` runs :func:`recurrence.chunked_scan`
for training and the forward: a Hillis-Steele scan within chunks of ``chunk`` positions,
joined chunk to chunk (the form for parallel hardware); ``scan=sequential`` (the default)
runs the recurrence as written (the paper's ``selective_scan_ref``), which is the faster
on a CPU: a training step at width 128, batch 64, T = 64 took 1.9 s sequential, 5.7 s
chunked by 8 and 14 s chunked by 32 (one thread, 2-core machine under load, one run). The [B, T, E, N] coefficients are formed a chunk
(or a position) at a time, which keeps the working set in a CPU's cache. Decoding keeps h and the convolution's
last K-1 inputs per layer. Blocks are stacked residually, ``x ← x + Mamba(RMSNorm(x))``,
with a final RMSNorm, as in the paper's language models (no MLP between blocks).

Initialisation and structure as the official code (state-spaces/mamba,
mamba_ssm/modules/mamba_simple.py and ``_init_weights`` of models/mixer_seq_simple.py):
no bias in W_in and W_out (``bias=False``); A_log = log(1..N) per channel; W_Δ uniform in
±R^-½ (``dt_init_std`` with ``dt_scale`` 1); Δ's bias the inverse softplus of
Δ ~ log-uniform[1e-3, 1e-1] (floored at 1e-4); D = 1; W_out PyTorch's default divided by
√L for L layers (``rescale_prenorm_residual``, one residual per layer: no MLP); the token
embedding N(0, 0.02²) (``initializer_range``); RMSNorm with eps 1e-5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from rnnbench.model_api import ModelConfig
from rnnbench.plugins.torch.fused_scans import (
    KERNEL_HELP, KERNELS, FusedRMSNorm, fused_causal_conv, resolve_kernel, selective_scan,
)
from rnnbench.plugins.torch.recurrence import (
    SEQUENTIAL_SCAN_FLOPS, MixerStack, causal_conv, causal_conv_step, check_choice, check_positive, chunked_scan,
    chunked_scan_flops, empty_window,
)
from rnnbench.torch_model import SequenceNet, TorchModel

SCANS = ("chunked", "sequential")
OPTIONS = {"d_state": 16, "expand": 2, "scan": "sequential", "chunk": 8, "kernel": "fused"}
OPTION_HELP = {
    "d_state": "N, the state size per channel (the paper's default 16)",
    "expand": "E/d, the inner width's expansion factor (the paper's 2)",
    "scan": "how kernel=torch runs the selective scan for training and the forward: chunked (Hillis-Steele"
            " within chunks) or sequential (a loop over T); decoding is always sequential",
    "kernel": KERNEL_HELP,
    "chunk": "positions per chunk of the chunked scan",
}
D_CONV = 4
DT_MIN, DT_MAX, DT_FLOOR = 1e-3, 1e-1, 1e-4  # the reference's dt_min, dt_max, dt_init_floor
EMBEDDING_STD = 0.02  # the reference's initializer_range
NORM_EPS = 1e-5  # the reference's norm_epsilon


def check_options(options: dict, hidden: int) -> None:
    check_choice(options, "scan", SCANS)
    check_positive(options, "d_state", "expand", "chunk")
    check_choice(options, "kernel", KERNELS)


@dataclass(frozen=True)
class MambaConfig:
    d_model: int
    n_layers: int
    d_state: int = 16
    expand: int = 2
    d_conv: int = D_CONV
    scan: str = "sequential"
    chunk: int = 8
    kernel: str = "fused"  # the kernel that runs (resolve_kernel), not only the one asked for

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
                   scan=o["scan"], chunk=o["chunk"], kernel=resolve_kernel(o["kernel"], config.device))


class MambaMixer(nn.Module):
    def __init__(self, cfg: MambaConfig):
        super().__init__()
        self.cfg = cfg
        E, N, R = cfg.d_inner, cfg.d_state, cfg.dt_rank
        self.in_proj = nn.Linear(cfg.d_model, 2 * E, bias=False)
        self.conv = nn.Conv1d(E, E, cfg.d_conv, groups=E)  # holds weight [E, 1, K] and bias; applied causally
        self.x_proj = nn.Linear(E, R + 2 * N, bias=False)
        self.dt_proj = nn.Linear(R, E)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(E, 1))
        self.D = nn.Parameter(torch.ones(E))
        self.out_proj = nn.Linear(E, cfg.d_model, bias=False)
        with torch.no_grad():
            nn.init.uniform_(self.dt_proj.weight, -R ** -0.5, R ** -0.5)  # dt_init="random", dt_scale=1
            dt = torch.exp(torch.empty(E).uniform_(math.log(DT_MIN), math.log(DT_MAX))).clamp(min=DT_FLOOR)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus(bias) = dt
            # rescale_prenorm_residual: W_out's PyTorch default divided by √(residuals), one per layer
            self.out_proj.weight.div_(math.sqrt(cfg.n_layers))

    def _selection(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """u [..., E] -> (Δ [..., E], Δ ⊙ u [..., E], B [..., N], C [..., N])."""
        N, R = self.cfg.d_state, self.cfg.dt_rank
        delta, B, C = self.x_proj(u).split([R, N, N], dim=-1)
        delta = F.softplus(self.dt_proj(delta))
        return delta, delta * u, B, C

    def _discretised(self, delta: torch.Tensor, du: torch.Tensor, B: torch.Tensor):
        """(a = exp(Δ A), b = Δ B u), each [..., E, N]."""
        A = -torch.exp(self.A_log)
        return torch.exp(delta.unsqueeze(-1) * A), du.unsqueeze(-1) * B.unsqueeze(-2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, z = self.in_proj(x).chunk(2, dim=-1)
        if self.cfg.kernel == "fused" and x.device.type == "cpu":
            u = fused_causal_conv(u, self.conv.weight, self.conv.bias, silu=True)
            N, R = self.cfg.d_state, self.cfg.dt_rank
            delta, B, C = self.x_proj(u).split([R, N, N], dim=-1)
            # softplus(Δ), the scan, its readout and skip, and ⊙ SiLU(z) in one compiled pass
            return self.out_proj(selective_scan(self.dt_proj(delta), u, -torch.exp(self.A_log), B, C, self.D, z))
        u = F.silu(causal_conv(u, self.conv.weight, self.conv.bias))
        delta, du, B, C = self._selection(u)
        # The [B, T, E, N] coefficients are formed one chunk (or one position) at a time and read
        # out at once: the same arithmetic as forming them for all T, with a working set that fits
        # a CPU's cache (forming them all at once made training steps several times slower).
        # Each [B, T, ...] tensor is split into its chunks once, before the loop: slicing it per
        # chunk inside the loop would make autograd add a zero tensor of its whole size per slice
        # in the backward, a cost growing with T².
        span = self.cfg.chunk if self.cfg.scan == "chunked" else 1
        h = u.new_zeros(u.shape[0], self.cfg.d_inner, self.cfg.d_state)
        ys = []
        for delta_c, du_c, B_c, C_c in zip(*(t.split(span, dim=1) for t in (delta, du, B, C))):
            a, b = self._discretised(delta_c, du_c, B_c)
            if self.cfg.scan == "chunked":
                states = chunked_scan(a, b, span, h0=h)
            else:
                states = (a[:, 0] * h + b[:, 0]).unsqueeze(1)
            h = states[:, -1]
            ys.append((states * C_c.unsqueeze(-2)).sum(-1))
        y = torch.cat(ys, dim=1) + self.D * u
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
        delta, du, B, C = self._selection(u)
        a, b = self._discretised(delta, du, B)
        h = a * h + b
        y = (h * C.unsqueeze(-2)).sum(-1) + self.D * u
        return self.out_proj(y * F.silu(z)).unsqueeze(1), (window, h)


def mamba_flops(cfg: MambaConfig, seq_len: int, batch: int) -> float:
    """Per layer: the projections, the convolution, and per state element (E·N of them) per position
    the selection (Δ·A, exp, Δ·u·B: 4), the scan (the form that runs) and the readout h·C (2)."""
    d, E, N, R, K = cfg.d_model, cfg.d_inner, cfg.d_state, cfg.dt_rank, cfg.d_conv
    tokens = batch * seq_len
    projections = 2.0 * tokens * (d * 2 * E + E * (R + 2 * N) + R * E + E * d)
    chunked = cfg.kernel == "torch" and cfg.scan == "chunked"
    scan = chunked_scan_flops(cfg.chunk, seq_len) if chunked else SEQUENTIAL_SCAN_FLOPS
    elementwise = tokens * (2.0 * K * E + E * N * (4 + scan + 2) + 6.0 * E)
    return cfg.n_layers * (projections + elementwise)


def reference_embedding_init_(net: SequenceNet) -> None:
    """The reference's ``_init_weights`` for the token embedding: N(0, 0.02²). An input projection
    (feature inputs, which the reference has no counterpart for) keeps PyTorch's default."""
    if isinstance(net.embed, nn.Embedding):
        with torch.no_grad():
            nn.init.normal_(net.embed.weight, std=EMBEDDING_STD)


def factory(config: ModelConfig) -> TorchModel:
    cfg = MambaConfig.from_model_config(config)
    return TorchModel(
        config, lambda c: MixerStack([MambaMixer(cfg) for _ in range(cfg.n_layers)], cfg.d_model,
                                     norm=partial(FusedRMSNorm if cfg.kernel == "fused" else nn.RMSNorm, eps=NORM_EPS)),
        lambda T, B: mamba_flops(cfg, T, B),
        facts={"kernel": cfg.kernel, "scan": cfg.scan if cfg.kernel == "torch" else "sequential",
               "d_state": cfg.d_state, "d_inner": cfg.d_inner},
        init_net=reference_embedding_init_,
    )
