"""``hawk@torch``: De et al. (2024), "Griffin: Mixing Gated Linear Recurrences with Local Attention", Hawk.

Hawk is Griffin without local attention: residual blocks of a temporal-mixing block
then a gated MLP, each after an RMSNorm. The recurrent block, input x_t of width d::

    g_t = GeLU(W_g x_t)                                  the gate branch
    u_t = conv_4(W_u x_t)                                depthwise causal convolution
    RG-LRU:
        r_t = σ(W_a u_t + b_a)                           recurrence gate
        i_t = σ(W_x u_t + b_x)                           input gate
        log a_t = -c · softplus(-Λ) ⊙ r_t                a_t = σ(Λ)^{c r_t}, c = 8
        h_t = a_t ⊙ h_{t-1} + √(1 - a_t²) ⊙ (i_t ⊙ u_t)
    out_t = W_o (h_t ⊙ g_t)

and the MLP ``W_down (GeLU(W_gate x) ⊙ W_up x)`` of expansion 3. √(1 - a²) is computed as
√(-expm1(2 log a)), which keeps its precision as a → 1. At the start of a sequence the state
is reset and the input is not scaled, h_0 = i_0 ⊙ u_0, as the official code does
(recurrentgemma's RG-LRU multiplies by √(1 - a²) only where ``segment_pos != 0``); decoding
carries a flag for that first position in its state.

Initialisation as the official code (google-deepmind/recurrentgemma, torch/modules.py and
torch/layers.py): σ(Λ) = a with a² uniform in [0.9², 0.999²] (``a_init=reference``; the
paper's text puts a^c there instead, ``a_init=paper``, whose decay starts near 1); W_u, W_g
and the MLP's up projection N(0, 1/d), the gates N(0, 1/d), the convolution N(0, 0.01/K),
W_o and the MLP's down projection N(0, (2/L)/fan_in) (``final_w_init_variance_scale`` 2/L
for L layers); every bias of these zero.

Choices where the paper leaves room or that this benchmark makes: the recurrence width
is d (the paper's is 4/3·d), W_a and W_x are dense (the paper's are block-diagonal);
``kernel=fused`` (the default; training and the forward) runs the recurrent block by blocks of
whole sequences, each block's projections, compiled convolution, compiled RG-LRU (gates, coefficients
and scan with ``h ⊙ GELU(W_g x)``) and output projection back to back, with their own backward; the
RMSNorms as one pass each and the gated MLP by blocks of rows, its activation compiled
(fused_scans.py: the same arithmetic; float32 storage computes in float32, as torch does);
``kernel=torch`` runs the pure-torch form that ``scan`` chooses: ``scan=chunked``
:func:`recurrence.chunked_scan`, ``scan=sequential`` the loop; decoding keeps h and the convolution's
last 3 inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnbench.model_api import ModelConfig
from rnnbench.plugins.torch.fused_scans import (
    KERNEL_HELP, KERNELS, FusedGatedFeedForward, FusedRMSNorm, hawk_recurrent_block, resolve_kernel,
)
from rnnbench.plugins.torch.recurrence import (
    SEQUENTIAL_SCAN_FLOPS, FeedForward, MixerStack, causal_conv, causal_conv_step, check_choice, check_positive,
    chunked_scan, chunked_scan_flops, empty_window, sequential_scan,
)
from rnnbench.torch_model import TorchModel

SCANS = ("chunked", "sequential")
A_INITS = ("reference", "paper")
OPTIONS = {"scan": "chunked", "chunk": 32, "a_init": "reference", "kernel": "fused"}
OPTION_HELP = {
    "scan": "how kernel=torch runs the RG-LRU for training and the forward: chunked (Hillis-Steele within"
            " chunks) or sequential (a loop over T); decoding is always sequential",
    "kernel": KERNEL_HELP,
    "chunk": "positions per chunk of the chunked scan",
    "a_init": "initial decay: reference (σ(Λ) = a with a² uniform in [0.9², 0.999²], recurrentgemma's code)"
              " or paper (a^c uniform in [0.9, 0.999], the Griffin paper's text)",
}
C = 8.0  # the paper's constant c in a_t = a^{c r_t}
D_CONV = 4
MLP_RATIO = 3
MIN_RADIUS, MAX_RADIUS = 0.9, 0.999
CONV_VARIANCE = 0.01  # recurrentgemma's Conv1D w_init_variance_scale


def check_options(options: dict, hidden: int) -> None:
    check_choice(options, "scan", SCANS)
    check_choice(options, "a_init", A_INITS)
    check_positive(options, "chunk")
    check_choice(options, "kernel", KERNELS)


@dataclass(frozen=True)
class HawkConfig:
    d_model: int
    n_layers: int
    scan: str = "chunked"
    chunk: int = 32
    d_conv: int = D_CONV
    a_init: str = "reference"
    kernel: str = "fused"  # the kernel that runs (resolve_kernel), not only the one asked for

    @classmethod
    def from_model_config(cls, config: ModelConfig) -> "HawkConfig":
        o = {**OPTIONS, **config.options}
        check_options(o, config.hidden)
        return cls(d_model=config.hidden, n_layers=config.layers, scan=o["scan"], chunk=o["chunk"],
                   a_init=o["a_init"], kernel=resolve_kernel(o["kernel"], config.device))

    @property
    def final_variance(self) -> float:
        """recurrentgemma's final_w_init_variance_scale: 2 / layers for W_o and the MLP's W_down."""
        return 2.0 / self.n_layers


def initial_lambda(cfg: HawkConfig) -> torch.Tensor:
    """Λ with σ(Λ) = a: a² uniform in [0.9², 0.999²] (reference), or a^c uniform in [0.9, 0.999] (paper)."""
    d = cfg.d_model
    if cfg.a_init == "paper":
        a = torch.empty(d).uniform_(MIN_RADIUS, MAX_RADIUS) ** (1 / C)
    else:  # uniform on the ring's area, as recurrentgemma's rnn_param_init
        a = torch.empty(d).uniform_(MIN_RADIUS ** 2, MAX_RADIUS ** 2).sqrt()
    return torch.logit(a)


class RecurrentBlock(nn.Module):
    """Hawk's temporal-mixing block with the RG-LRU: ``[B, T, d] -> [B, T, d]``."""

    def __init__(self, cfg: HawkConfig):
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.gate = nn.Linear(d, d)
        self.inp = nn.Linear(d, d)
        self.conv = nn.Conv1d(d, d, cfg.d_conv, groups=d)  # holds weight [d, 1, K] and bias; applied causally
        self.gates = nn.Linear(d, 2 * d)  # W_a, W_x
        self.out = nn.Linear(d, d)
        self.Lambda = nn.Parameter(initial_lambda(cfg))
        with torch.no_grad():  # recurrentgemma's RecurrentBlock.reset_parameters
            for layer, std in ((self.gate, d ** -0.5), (self.inp, d ** -0.5), (self.gates, d ** -0.5),
                               (self.out, (cfg.final_variance / d) ** 0.5),
                               (self.conv, (CONV_VARIANCE / cfg.d_conv) ** 0.5)):
                nn.init.normal_(layer.weight, std=std)
                nn.init.zeros_(layer.bias)

    def _coefficients(self, u: torch.Tensor, first: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(a_t, b_t) of the RG-LRU's h_t = a_t h_{t-1} + b_t, from the convolved u_t.

        ``first`` (bool, broadcast against u) marks a sequence's first position, where the
        state was reset and the input goes in unscaled, as in recurrentgemma.
        """
        r, i = torch.sigmoid(self.gates(u)).chunk(2, dim=-1)
        log_a = -C * F.softplus(-self.Lambda) * r
        scale = torch.sqrt(-torch.expm1(2 * log_a)).masked_fill(first, 1.0)
        return torch.exp(log_a), scale * (i * u)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.kernel == "fused" and x.device.type == "cpu":
            # the whole block, by blocks of sequences, with the convolution and the RG-LRU compiled
            return hawk_recurrent_block(x, self.gate, self.inp, self.conv, self.gates,
                                        -C * F.softplus(-self.Lambda), self.out)
        g = F.gelu(self.gate(x))
        u = causal_conv(self.inp(x), self.conv.weight, self.conv.bias)
        a, b = self._coefficients(u, sequence_start(u))
        if self.cfg.scan == "chunked":
            h = chunked_scan(a, b, self.cfg.chunk)
        else:
            h = sequential_scan(a, b)
        return self.out(h * g)

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype):
        """(the convolution's last K-1 inputs [B, d, K-1], h [B, d], whether the next position is
        the first [B, 1], bool)."""
        d = self.cfg.d_model
        return (empty_window(batch, d, self.cfg.d_conv, device, dtype),
                torch.zeros(batch, d, device=device, dtype=dtype),
                torch.ones(batch, 1, device=device, dtype=torch.bool))

    def step(self, x: torch.Tensor, state):
        window, h, first = state
        x = x[:, 0]
        u, window = causal_conv_step(self.inp(x), window, self.conv.weight, self.conv.bias)
        a, b = self._coefficients(u, first)
        h = a * h + b
        return self.out(h * F.gelu(self.gate(x))).unsqueeze(1), (window, h, torch.zeros_like(first))


def sequence_start(u: torch.Tensor) -> torch.Tensor:
    """[1, T, 1] bool, True at t = 0: where a training sequence starts (the state's reset)."""
    first = torch.zeros(1, u.shape[1], 1, dtype=torch.bool, device=u.device)
    first[:, 0] = True
    return first


def reference_mlp_init_(stack: MixerStack, cfg: HawkConfig) -> None:
    """recurrentgemma's MLPBlock: up projections N(0, 1/d), down N(0, (2/L)/(3d)), biases zero."""
    with torch.no_grad():
        for mlp in stack.mlps:
            nn.init.normal_(mlp.up.weight, std=cfg.d_model ** -0.5)
            nn.init.normal_(mlp.down.weight, std=(cfg.final_variance / mlp.down.in_features) ** 0.5)
            nn.init.zeros_(mlp.up.bias)
            nn.init.zeros_(mlp.down.bias)


def build_stack(cfg: HawkConfig) -> MixerStack:
    fused = cfg.kernel == "fused"  # the same norm and MLP, their elementwise work in compiled passes
    stack = MixerStack([RecurrentBlock(cfg) for _ in range(cfg.n_layers)], cfg.d_model, MLP_RATIO,
                       gated_mlp=True, norm=FusedRMSNorm if fused else nn.RMSNorm,
                       feedforward=FusedGatedFeedForward if fused else FeedForward)
    reference_mlp_init_(stack, cfg)
    return stack


def hawk_flops(cfg: HawkConfig, seq_len: int, batch: int) -> float:
    """Per layer: the block's projections 2·B·T·5d², the gated MLP 2·B·T·9d², the convolution
    2·K per element, and the RG-LRU's gates and coefficients (about 10 per element) and scan."""
    d, tokens = cfg.d_model, batch * seq_len
    chunked = cfg.kernel == "torch" and cfg.scan == "chunked"
    scan = chunked_scan_flops(cfg.chunk, seq_len) if chunked else SEQUENTIAL_SCAN_FLOPS
    per_layer = 2.0 * tokens * (5 * d * d + 3 * MLP_RATIO * d * d) + tokens * d * (2 * cfg.d_conv + 10 + scan)
    return cfg.n_layers * per_layer


def factory(config: ModelConfig) -> TorchModel:
    cfg = HawkConfig.from_model_config(config)
    return TorchModel(
        config, lambda c: build_stack(cfg),
        lambda T, B: hawk_flops(cfg, T, B),
        facts={"kernel": cfg.kernel, "scan": cfg.scan if cfg.kernel == "torch" else "sequential",
               "a_init": cfg.a_init},
    )
