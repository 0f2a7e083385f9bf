"""``deltanet@torch`` and ``linear_attention@torch``: fast-weight memories read by queries.

Linear attention (Katharopoulos et al. 2020, "Transformers are RNNs"), per head of
width d_h, with φ(x) = elu(x) + 1 and a state S ∈ R^{d_h×d_h}, z ∈ R^{d_h}::

    S_t = S_{t-1} + φ(k_t) v_tᵀ          z_t = z_{t-1} + φ(k_t)
    o_t = S_tᵀ φ(q_t) / (z_tᵀ φ(q_t))

DeltaNet (Schlag et al. 2021; Yang et al. 2024, "Parallelizing Linear Transformers
with the Delta Rule over Sequence Length") replaces the additive write by the delta
rule: the memory's current answer for k_t is moved toward v_t by β_t ∈ (0, 1)::

    S_t = S_{t-1} + β_t k_t (v_t - S_{t-1}ᵀ k_t)ᵀ = (I - β_t k_t k_tᵀ) S_{t-1} + β_t k_t v_tᵀ
    o_t = S_tᵀ q_t,    k_t = L2-normalised SiLU(W_k x_t),    q_t = d_h^-½ · L2-normalised SiLU(W_q x_t),
    v_t = SiLU(W_v x_t),    β_t = σ(w_β·x_t) per head

the feature maps of flash-linear-attention's DeltaNet layer (fla/layers/delta_net.py: SiLU on
q, k and v, ``qk_norm='l2'``, and the kernels' default scale d_h^-½ on q).

Training and the forward run chunkwise (``form=chunked``): within a chunk of C
positions, Yang et al.'s WY form ``W = T K_β``, ``U = T V_β`` with
``T = (I + tril(diag(β) K Kᵀ, -1))⁻¹`` (a unit lower-triangular solve) gives, from the
state S entering the chunk, ``U' = U - W S``, ``O = Q S + tril(Q Kᵀ) U'`` and
``S ← S + Kᵀ U'``; chunks follow one another. Linear attention's chunkwise form is
``O = (Q̃ S + tril(Q̃ K̃ᵀ) V) / (Q̃ z + tril(Q̃ K̃ᵀ) 1)`` with Q̃ = φ(Q), K̃ = φ(K).
``form=sequential`` runs the recurrences above for training too; decoding always does.

Each layer is a pre-LayerNorm residual block, attention's place taken by this mixer,
then a GELU MLP of width 4·d, as the Transformer of transformer.py (heads as there:
as many of width about 32 as divide d). Left out: DeltaNet's short convolutions and
output normalisation (Yang et al.'s ablations), kept out so that the mixer is the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnbench.model_api import ModelConfig
from rnnbench.plugins.torch.recurrence import LOW_PRECISION, MixerStack, check_choice, check_positive
from rnnbench.plugins.torch.transformer import check_options as check_heads
from rnnbench.plugins.torch.transformer import default_heads
from rnnbench.torch_model import TorchModel

FORMS = ("chunked", "sequential")
OPTIONS = {"heads": 0, "form": "chunked", "chunk": 16}
OPTION_HELP = {
    "heads": "heads, which must divide --hidden; 0: as many of width about 32 as divide it",
    "form": "how training and the forward run: chunked (chunkwise parallel) or sequential (the recurrence);"
            " decoding is always the recurrence",
    "chunk": "positions per chunk of the chunkwise form",
}
MLP_RATIO = 4


def check_options(options: dict, hidden: int) -> None:
    check_choice(options, "form", FORMS)
    check_positive(options, "chunk")
    check_heads({"heads": options["heads"]}, hidden)


@dataclass(frozen=True)
class FastWeightConfig:
    rule: str  # "delta" or "linear"
    d_model: int
    n_layers: int
    n_heads: int
    form: str = "chunked"
    chunk: int = 16

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @classmethod
    def from_model_config(cls, rule: str, config: ModelConfig) -> "FastWeightConfig":
        o = {**OPTIONS, **config.options}
        check_options(o, config.hidden)
        return cls(rule=rule, d_model=config.hidden, n_layers=config.layers,
                   n_heads=o["heads"] or default_heads(config.hidden), form=o["form"], chunk=o["chunk"])


def phi(x: torch.Tensor) -> torch.Tensor:
    """Katharopoulos et al.'s feature map elu(x) + 1 > 0."""
    return F.elu(x) + 1


def delta_chunked(q, k, v, beta, chunk: int) -> torch.Tensor:
    """q, k, v [B, H, T, d], beta [B, H, T] -> o [B, H, T, d] by Yang et al.'s chunkwise WY form."""
    B, H, T, d = q.shape
    pad = (-T) % chunk
    if pad:  # β = 0 past the end: those positions write nothing
        q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
        beta = F.pad(beta, (0, pad))
    n = q.shape[2] // chunk
    q, k, v = (t.reshape(B, H, n, chunk, d) for t in (q, k, v))
    beta = beta.reshape(B, H, n, chunk, 1)
    k_beta, v_beta = k * beta, v * beta
    eye = torch.eye(chunk, dtype=q.dtype, device=q.device)
    # T = (I + tril(diag(β) K Kᵀ, -1))⁻¹, so that W = T K_β and U = T V_β
    system = eye + torch.tril(k_beta @ k.transpose(-1, -2), diagonal=-1)
    w = torch.linalg.solve_triangular(system, k_beta, upper=False, unitriangular=True)
    u = torch.linalg.solve_triangular(system, v_beta, upper=False, unitriangular=True)
    causal = torch.tril(torch.ones(chunk, chunk, dtype=torch.bool, device=q.device))
    S = q.new_zeros(B, H, d, d)
    outputs = []
    # unbound once, not indexed per chunk: each index's backward would add a zero tensor of
    # the whole [B, H, n, C, d] input, a cost growing with the square of the length
    for q_c, k_c, u_c, w_c in zip(q.unbind(2), k.unbind(2), u.unbind(2), w.unbind(2)):
        u_c = u_c - w_c @ S  # the new values, corrected for what S already answers
        scores = (q_c @ k_c.transpose(-1, -2)).masked_fill(~causal, 0)
        outputs.append(q_c @ S + scores @ u_c)
        S = S + k_c.transpose(-1, -2) @ u_c
    return torch.cat(outputs, dim=2)[:, :, :T]


def linear_chunked(q, k, v, chunk: int) -> torch.Tensor:
    """φ(q), φ(k), v [B, H, T, d] -> o [B, H, T, d]: linear attention chunk by chunk."""
    B, H, T, d = q.shape
    causal = torch.tril(torch.ones(chunk, chunk, dtype=torch.bool, device=q.device))
    S, z = q.new_zeros(B, H, d, d), q.new_zeros(B, H, d)
    outputs = []
    # split once, not sliced per chunk (each slice's backward adds a zero tensor of the whole input)
    for q_c, k_c, v_c in zip(q.split(chunk, dim=2), k.split(chunk, dim=2), v.split(chunk, dim=2)):
        size = q_c.shape[2]
        scores = (q_c @ k_c.transpose(-1, -2)).masked_fill(~causal[:size, :size], 0)
        numerator = q_c @ S + scores @ v_c
        denominator = (q_c @ z.unsqueeze(-1)).squeeze(-1) + scores.sum(-1)
        outputs.append(numerator / denominator.unsqueeze(-1))
        S = S + k_c.transpose(-1, -2) @ v_c
        z = z + k_c.sum(2)
    return torch.cat(outputs, dim=2)


class FastWeightMixer(nn.Module):
    """One DeltaNet or linear-attention layer: ``[B, T, d] -> [B, T, d]``."""

    def __init__(self, cfg: FastWeightConfig):
        super().__init__()
        self.cfg = cfg
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.beta = nn.Linear(cfg.d_model, cfg.n_heads) if cfg.rule == "delta" else None
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def _heads(self, x: torch.Tensor):
        """x [B, T, d] -> q, k, v [B, H, T, d_h] (feature-mapped) and β [B, H, T] (delta only)."""
        B, T, _ = x.shape
        q, k, v = (t.view(B, T, self.cfg.n_heads, self.cfg.d_head).transpose(1, 2)
                   for t in self.qkv(x).chunk(3, dim=-1))
        if self.cfg.rule == "linear":
            return phi(q), phi(k), v, None
        q, k = (F.normalize(F.silu(t), dim=-1) for t in (q, k))
        # flash-linear-attention's defaults: SiLU on v too, and q scaled by d_h^-½ (chunk_delta_rule's scale)
        return q * self.cfg.d_head ** -0.5, k, F.silu(v), torch.sigmoid(self.beta(x)).transpose(1, 2)

    def _merge(self, o: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        B, H, T, d = o.shape
        return self.proj(o.to(dtype).transpose(1, 2).reshape(B, T, H * d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v, beta = self._heads(x)
        # the triangular solve and long sums run in float32 for 16-bit models
        work = torch.float32 if x.dtype in LOW_PRECISION else x.dtype
        q, k, v = q.to(work), k.to(work), v.to(work)
        if self.cfg.form == "sequential":
            return self._merge(self._sequential(q, k, v, beta), x.dtype)
        if self.cfg.rule == "delta":
            return self._merge(delta_chunked(q, k, v, beta.to(work), self.cfg.chunk), x.dtype)
        return self._merge(linear_chunked(q, k, v, self.cfg.chunk), x.dtype)

    def _sequential(self, q, k, v, beta) -> torch.Tensor:
        state = self.init_state(q.shape[0], q.device, q.dtype)
        outputs = []
        betas = [None] * q.shape[2] if beta is None else beta.to(q.dtype).unbind(2)
        for q_t, k_t, v_t, beta_t in zip(q.unbind(2), k.unbind(2), v.unbind(2), betas):
            o, state = self._recur(q_t, k_t, v_t, beta_t, state)
            outputs.append(o)
        return torch.stack(outputs, dim=2)

    def _recur(self, q, k, v, beta, state):
        """One position of the recurrence: q, k, v [B, H, d_h], β [B, H]."""
        if self.cfg.rule == "delta":
            (S,) = state
            answer = (k.unsqueeze(-2) @ S).squeeze(-2)  # S_{t-1}ᵀ k_t
            S = S + k.unsqueeze(-1) * (beta.unsqueeze(-1) * (v - answer)).unsqueeze(-2)
            return (q.unsqueeze(-2) @ S).squeeze(-2), (S,)
        S, z = state
        S = S + k.unsqueeze(-1) * v.unsqueeze(-2)
        z = z + k
        return (q.unsqueeze(-2) @ S).squeeze(-2) / (q * z).sum(-1, keepdim=True), (S, z)

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        """S [B, H, d_h, d_h] (and linear attention's z [B, H, d_h]), per layer."""
        H, d = self.cfg.n_heads, self.cfg.d_head
        S = torch.zeros(batch, H, d, d, device=device, dtype=dtype)
        return (S,) if self.cfg.rule == "delta" else (S, torch.zeros(batch, H, d, device=device, dtype=dtype))

    def step(self, x: torch.Tensor, state: tuple[torch.Tensor, ...]):
        q, k, v, beta = self._heads(x)
        o, state = self._recur(q[:, :, 0], k[:, :, 0], v[:, :, 0], None if beta is None else beta[:, :, 0], state)
        return self._merge(o.unsqueeze(2), x.dtype), state


def fast_weight_flops(cfg: FastWeightConfig, seq_len: int, batch: int) -> float:
    """Per layer: projections 8·B·T·d², the MLP 16·B·T·d², and the mixing of the form that runs.

    Sequential: about 4·d_h² per head and position (read and write of S; the delta rule's
    correction adds 2·d_h²). Chunked, chunk C: the intra-chunk scores and mixing 4·C·d_h, the
    state's read and write 4·d_h², and for the delta rule the two triangular solves
    (C·d_h each) and K_βKᵀ (2·C·d_h), per head and position.
    """
    d, H, dh, C = cfg.d_model, cfg.n_heads, cfg.d_head, min(cfg.chunk, seq_len)
    tokens = batch * seq_len
    dense = tokens * (8.0 * d * d + 4.0 * MLP_RATIO * d * d) + (2.0 * tokens * d * H if cfg.rule == "delta" else 0)
    if cfg.form == "sequential":
        mixing = tokens * H * (6.0 if cfg.rule == "delta" else 4.0) * dh * dh
    else:
        mixing = tokens * H * (4.0 * C * dh + 4.0 * dh * dh + (4.0 * C * dh if cfg.rule == "delta" else 0))
    return cfg.n_layers * (dense + mixing)


def make_factory(rule: str):
    def factory(config: ModelConfig) -> TorchModel:
        cfg = FastWeightConfig.from_model_config(rule, config)
        return TorchModel(
            config,
            lambda c: MixerStack([FastWeightMixer(cfg) for _ in range(cfg.n_layers)], cfg.d_model, MLP_RATIO),
            lambda T, B: fast_weight_flops(cfg, T, B),
            facts={"form": cfg.form, "n_heads": cfg.n_heads, "rule": rule},
        )

    return factory
