"""``xlstm@torch``: Beck et al. (2024), "xLSTM: Extended Long Short-Term Memory".

Two cells with exponential gating, chosen by ``cell=mlstm|slstm``; per head of width d_h.

mLSTM, a matrix memory C ∈ R^{d_h×d_h} with a normaliser n, gates from the input only::

    q_t, k_t, v_t = W x_t (k_t scaled by 1/√d_h);   ĩ_t, f̃_t = w·[q_t, k_t, v_t] + b (scalars per head)
    o_t = σ(W_o x_t)
    C_t = f_t C_{t-1} + i_t v_t k_tᵀ,   n_t = f_t n_{t-1} + i_t k_t,   i_t = exp(ĩ_t),  f_t = σ(f̃_t)
    h_t = o_t ⊙ C_t q_t / (max(|n_tᵀ q_t|, 1) + ε),   ε = 1e-6

stabilised by m_t = max(log f_t + m_{t-1}, ĩ_t) (m_0 = -∞): the state holds C, n scaled
by exp(-m_t), and the normaliser becomes max(|ñ_tᵀ q_t|, exp(-m_t)), which is the same
h_t. Its parallel form (training and the forward, ``form=parallel``), with
F_t = Σ_{s≤t} log f_s: log D_ts = F_t - F_s + ĩ_s for s ≤ t, m_t = max_s log D_ts,
C̃ = (q kᵀ) ⊙ exp(log D - m), h_t = o_t ⊙ (C̃ v)_t / max(|Σ_s C̃_ts|, exp(-m_t)).
``form=sequential`` runs the stabilised recurrence for training too.

sLSTM, a scalar memory whose gates read h_{t-1} through block-diagonal (per head)
recurrent weights R, so it is sequential only::

    z̃, ĩ, f̃, õ = W x_t + R h_{t-1} + b;   z = tanh(z̃), o = σ(õ), log f = log σ(f̃)
    m_t = max(log f_t + m_{t-1}, ĩ_t),  i' = exp(ĩ_t - m_t),  f' = exp(log f_t + m_{t-1} - m_t)
    c_t = f' c_{t-1} + i' z_t,   n_t = f' n_{t-1} + i',   h_t = o_t ⊙ c_t / n_t

Initialisation as the official code (NX-AI/xlstm, xlstm/blocks/mlstm/cell.py and
xlstm/blocks/slstm/cell.py): the mLSTM's gate weights start at zero, the forget-gate bias
spaced linearly over the heads from 3 to 6, the input-gate bias N(0, 0.1²); the sLSTM's
recurrent weights R start at zero, its forget-gate bias is the ``powerlaw_blockdependent``
range per head (from 5 down to -7 over a head's units, the curve's power rising with the
layer's depth) and its other gate biases zero.

Blocks: a pre-LayerNorm residual block (the cell, its output projected back to d), then
a GELU MLP of width 4·d, the layout of transformer.py. Left out, so that the cell is
what differs: the mLSTM block's up-projection (factor 2), its causal convolution, learnable
skip, SiLU output branch and headwise q, k, v projections; the sLSTM block's causal
convolution (feeding ĩ, f̃), headwise W and its own gated MLP; both cells' per-head group
norm; the official code's small_init/wang_init of the projections (PyTorch's defaults
here, as the Transformer's). docs/models.md lists each. The forget gate is the sigmoid
(as in the official code's defaults).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnbench.model_api import ModelConfig
from rnnbench.plugins.torch.recurrence import LOW_PRECISION, MixerStack, check_choice
from rnnbench.plugins.torch.transformer import check_options as check_heads
from rnnbench.plugins.torch.transformer import default_heads
from rnnbench.torch_model import TorchModel

CELLS = ("mlstm", "slstm")
FORMS = ("parallel", "sequential")
OPTIONS = {"cell": "mlstm", "heads": 0, "form": "parallel"}
OPTION_HELP = {
    "cell": "mlstm (matrix memory, parallel form for training) or slstm (scalar memory, recurrent gates,"
            " sequential only)",
    "heads": "heads, which must divide --hidden; 0: as many of width about 32 as divide it",
    "form": "mlstm: how training and the forward run, parallel or sequential (decoding is always"
            " sequential); slstm is always sequential",
}
MLP_RATIO = 4
MLSTM_FORGET_BIAS = (3.0, 6.0)  # spaced linearly over the heads (the reference's bias_linspace_init_)
MLSTM_INPUT_BIAS_STD = 0.1
NORMALISER_EPS = 1e-6  # added to the normaliser, as the reference's backends


def slstm_forget_bias(d_head: int, layer: int, n_layers: int) -> torch.Tensor:
    """The reference's ``powerlaw_blockdependent`` forget-gate bias of one head: unit j of d_h gets
    5 - 12·(j/(d_h-1))^(0.3 + 1.3·layer/(L-1)), from 5 down to -7."""
    depth = layer / (n_layers - 1) if n_layers > 1 else 0.0
    position = torch.arange(d_head, dtype=torch.float32) / max(d_head - 1, 1)
    return 5.0 - 12.0 * position ** (0.3 + 1.3 * depth)


def check_options(options: dict, hidden: int) -> None:
    check_choice(options, "cell", CELLS)
    check_choice(options, "form", FORMS)
    check_heads({"heads": options["heads"]}, hidden)


@dataclass(frozen=True)
class XLSTMConfig:
    cell: str
    d_model: int
    n_layers: int
    n_heads: int
    form: str = "parallel"

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @classmethod
    def from_model_config(cls, config: ModelConfig) -> "XLSTMConfig":
        o = {**OPTIONS, **config.options}
        check_options(o, config.hidden)
        return cls(cell=o["cell"], d_model=config.hidden, n_layers=config.layers,
                   n_heads=o["heads"] or default_heads(config.hidden), form=o["form"])


def _lowest(dtype: torch.dtype) -> float:
    """m_0: a finite stand-in for -∞ (exp of it is 0, sums with it stay finite)."""
    return torch.finfo(dtype).min / 4


class MLSTMMixer(nn.Module):
    def __init__(self, cfg: XLSTMConfig, layer: int = 0):
        super().__init__()
        self.cfg = cfg
        d, H = cfg.d_model, cfg.n_heads
        self.qkv = nn.Linear(d, 3 * d)
        self.gates = nn.Linear(3 * d, 2 * H)  # ĩ, f̃ per head, from [q, k, v] as the reference's cell
        self.o = nn.Linear(d, d)
        self.proj = nn.Linear(d, d)
        with torch.no_grad():  # the reference's mLSTMCell.reset_parameters
            nn.init.zeros_(self.gates.weight)
            nn.init.normal_(self.gates.bias[:H], std=MLSTM_INPUT_BIAS_STD)
            self.gates.bias[H:].copy_(torch.linspace(*MLSTM_FORGET_BIAS, H))

    def _inputs(self, x: torch.Tensor):
        """x [B, T, d] -> q, k, v [B, H, T, d_h], ĩ and log f [B, H, T]."""
        B, T, _ = x.shape
        H, dh = self.cfg.n_heads, self.cfg.d_head
        qkv = self.qkv(x)  # [q, k, v], the gates' input
        q, k, v = (t.view(B, T, H, dh).transpose(1, 2) for t in qkv.chunk(3, dim=-1))
        i_tilde, f_tilde = self.gates(qkv).transpose(1, 2).chunk(2, dim=1)
        return q, k / math.sqrt(dh), v, i_tilde, F.logsigmoid(f_tilde)

    def _out(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        B, H, T, dh = h.shape
        return self.proj(torch.sigmoid(self.o(x)) * h.to(x.dtype).transpose(1, 2).reshape(B, T, H * dh))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v, i_tilde, log_f = self._inputs(x)
        work = torch.float32 if x.dtype in LOW_PRECISION else x.dtype
        q, k, v, i_tilde, log_f = (t.to(work) for t in (q, k, v, i_tilde, log_f))
        if self.cfg.form == "sequential":
            state = self.init_state(x.shape[0], x.device, work)
            hs = []
            # unbound once, not indexed per position (each index's backward adds a zero tensor of the whole input)
            for q_t, k_t, v_t, i_t, f_t in zip(*(t.unbind(2) for t in (q, k, v, i_tilde, log_f))):
                h, state = self._recur(q_t, k_t, v_t, i_t, f_t, state)
                hs.append(h)
            return self._out(x, torch.stack(hs, dim=2))
        T = x.shape[1]
        F_cum = torch.cumsum(log_f, dim=-1)  # [B, H, T]
        log_D = F_cum.unsqueeze(-1) - F_cum.unsqueeze(-2) + i_tilde.unsqueeze(-2)  # [B, H, t, s]
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device))
        log_D = log_D.masked_fill(~causal, float("-inf"))
        m = log_D.amax(dim=-1, keepdim=True)  # [B, H, T, 1]
        scores = (q @ k.transpose(-1, -2)) * torch.exp(log_D - m)
        normaliser = torch.maximum(scores.sum(-1, keepdim=True).abs(), torch.exp(-m)) + NORMALISER_EPS
        return self._out(x, (scores @ v) / normaliser)

    def _recur(self, q, k, v, i_tilde, log_f, state):
        """One stabilised step: q, k, v [B, H, d_h], ĩ, log f [B, H]; state (C̃, ñ, m)."""
        C, n, m = state
        m_new = torch.maximum(log_f + m, i_tilde)
        i_gate = torch.exp(i_tilde - m_new).unsqueeze(-1)
        f_gate = torch.exp(log_f + m - m_new).unsqueeze(-1)
        C = f_gate.unsqueeze(-1) * C + i_gate.unsqueeze(-1) * (v.unsqueeze(-1) * k.unsqueeze(-2))  # v kᵀ
        n = f_gate * n + i_gate * k
        numerator = (C @ q.unsqueeze(-1)).squeeze(-1)
        normaliser = torch.maximum((n * q).sum(-1, keepdim=True).abs(), torch.exp(-m_new).unsqueeze(-1))
        return numerator / (normaliser + NORMALISER_EPS), (C, n, m_new)

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype):
        """(C̃ [B, H, d_h, d_h], ñ [B, H, d_h], m [B, H])."""
        H, dh = self.cfg.n_heads, self.cfg.d_head
        return (torch.zeros(batch, H, dh, dh, device=device, dtype=dtype),
                torch.zeros(batch, H, dh, device=device, dtype=dtype),
                torch.full((batch, H), _lowest(dtype), device=device, dtype=dtype))

    def step(self, x: torch.Tensor, state):
        q, k, v, i_tilde, log_f = self._inputs(x)
        h, state = self._recur(q[:, :, 0], k[:, :, 0], v[:, :, 0], i_tilde[:, :, 0], log_f[:, :, 0], state)
        return self._out(x, h.unsqueeze(2)), state


class SLSTMMixer(nn.Module):
    def __init__(self, cfg: XLSTMConfig, layer: int = 0):
        super().__init__()
        self.cfg = cfg
        d, H, dh = cfg.d_model, cfg.n_heads, cfg.d_head
        self.W = nn.Linear(d, 4 * d)  # z̃, ĩ, f̃, õ from the input
        # block-diagonal recurrent weights; zero at the start, as the reference's recurrent_weight_init
        self.R = nn.Parameter(torch.zeros(4, H, dh, dh))
        self.proj = nn.Linear(d, d)
        with torch.no_grad():  # the reference's bias_init="powerlaw_blockdependent"
            self.W.bias.zero_()
            self.W.bias[2 * d:3 * d].copy_(slstm_forget_bias(dh, layer, cfg.n_layers).repeat(H))

    def _cell(self, wx: torch.Tensor, state):
        """wx [B, 4d] (W x_t + b), state (h, c, n, m) each [B, d] -> (h_t, new state)."""
        h, c, n, m = state
        B = h.shape[0]
        H, dh = self.cfg.n_heads, self.cfg.d_head
        rh = torch.einsum("ghij,bhj->gbhi", self.R, h.view(B, H, dh)).reshape(4, B, H * dh)
        z_t, i_t, f_t, o_t = (part + r for part, r in zip(wx.chunk(4, dim=-1), rh))
        log_f = F.logsigmoid(f_t)
        m_new = torch.maximum(log_f + m, i_t)
        i_gate, f_gate = torch.exp(i_t - m_new), torch.exp(log_f + m - m_new)
        c = f_gate * c + i_gate * torch.tanh(z_t)
        n = f_gate * n + i_gate
        h = torch.sigmoid(o_t) * c / n
        return h, (h, c, n, m_new)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wx = self.W(x)
        state = self.init_state(x.shape[0], x.device, x.dtype)
        hs = []
        for wx_t in wx.unbind(1):  # once, not indexed per position (see MLSTMMixer.forward)
            h, state = self._cell(wx_t, state)
            hs.append(h)
        return self.proj(torch.stack(hs, dim=1))

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype):
        """(h, c, n, m), each [B, d]; m_0 = 0 (h does not depend on it when c_0 = n_0 = 0)."""
        zeros = torch.zeros(batch, self.cfg.d_model, device=device, dtype=dtype)
        return zeros, zeros.clone(), zeros.clone(), zeros.clone()

    def step(self, x: torch.Tensor, state):
        h, state = self._cell(self.W(x[:, 0]), state)
        return self.proj(h).unsqueeze(1), state


def xlstm_flops(cfg: XLSTMConfig, seq_len: int, batch: int) -> float:
    """Per layer: the MLP 16·B·T·d² and the cell's projections and mixing for the form that runs.

    mLSTM: projections 2·B·T·(5d² + 6dH); parallel mixing 4·T·d_h + ~6·T per head and
    position (scores, mixing, the decay matrix), sequential ~6·d_h² (C's update and read).
    sLSTM: projections 2·B·T·(4d² + d²) plus R h, 8·d·d_h, and ~12 per element for the gates.
    """
    d, H, dh, tokens = cfg.d_model, cfg.n_heads, cfg.d_head, batch * seq_len
    mlp = 4.0 * MLP_RATIO * tokens * d * d
    if cfg.cell == "slstm":
        return cfg.n_layers * (mlp + 2.0 * tokens * 5 * d * d + 8.0 * tokens * d * dh + 12.0 * tokens * d)
    proj = 2.0 * tokens * (5 * d * d + 6 * d * H)
    if cfg.form == "parallel":
        mixing = tokens * H * (4.0 * seq_len * dh + 6.0 * seq_len)
    else:
        mixing = tokens * H * 6.0 * dh * dh
    return cfg.n_layers * (mlp + proj + mixing)


def factory(config: ModelConfig) -> TorchModel:
    cfg = XLSTMConfig.from_model_config(config)
    mixer = MLSTMMixer if cfg.cell == "mlstm" else SLSTMMixer
    return TorchModel(
        config, lambda c: MixerStack([mixer(cfg, k) for k in range(cfg.n_layers)], cfg.d_model, MLP_RATIO),
        lambda T, B: xlstm_flops(cfg, T, B), facts={"cell": cfg.cell, "form": cfg.form, "n_heads": cfg.n_heads},
    )
