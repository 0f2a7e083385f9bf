"""``transformer@torch``: a small causal Transformer, written out in one file.

In the spirit of nanoGPT's model.py: pre-LayerNorm blocks (Xiong et al. 2020),
multi-head causal self-attention through F.scaled_dot_product_attention, a GELU
MLP of width 4·d, and fixed sinusoidal positions (Vaswani et al. 2017), which add
no parameters and extend to any length, so parameter counts compare fairly with
the recurrent models. Decoding keeps a KV cache per block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnbench.model_api import ModelConfig
from rnnbench.torch_model import TorchModel


@dataclass(frozen=True)
class TransformerConfig:
    d_model: int
    n_layers: int
    n_heads: int
    mlp_ratio: int = 4

    @classmethod
    def from_model_config(cls, config: ModelConfig) -> "TransformerConfig":
        heads = int(config.options.get("heads", 0)) or default_heads(config.hidden)
        check_options({"heads": heads}, config.hidden)
        return cls(d_model=config.hidden, n_layers=config.layers, n_heads=heads)


#: ``--model-opt transformer.heads=N``; 0 keeps the default of :func:`default_heads`
OPTIONS = {"heads": 0}
OPTION_HELP = {"heads": "attention heads, which must divide --hidden; 0: as many of width about 32 as divide it"}


def check_options(options: dict, hidden: int) -> None:
    """Refuse a head count that cannot split the width (checked before any case runs)."""
    heads = options["heads"]
    if heads < 0:
        raise ValueError(f"heads must be 0 (automatic) or positive, got {heads}")
    if heads and hidden % heads:
        raise ValueError(f"heads={heads} does not divide --hidden {hidden}: each head needs hidden/heads dimensions")


def default_heads(d_model: int, head_dim: int = 32) -> int:
    """As many heads of about ``head_dim`` as divide ``d_model`` evenly."""
    heads = max(1, d_model // head_dim)
    while d_model % heads:
        heads -= 1
    return heads


def sinusoidal_positions(length: int, d_model: int, start: int = 0) -> torch.Tensor:
    """PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d))."""
    position = torch.arange(start, start + length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: d_model // 2])
    return table


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # [B, T, C] -> [B, heads, T, head_dim]
        return tuple(t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for t in (q, k, v))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self._heads(x)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # softmax(QKᵀ/√d)V, masked
        return self.proj(y.transpose(1, 2).reshape(B, T, C))

    def empty_cache(self, batch: int, d_model: int, device: torch.device, dtype: torch.dtype):
        shape = (batch, self.n_heads, 0, d_model // self.n_heads)
        return torch.empty(shape, device=device, dtype=dtype), torch.empty(shape, device=device, dtype=dtype)

    def step(self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor]):
        """One new position attends to every cached one; returns a new, grown cache.

        torch.cat always allocates fresh [B, heads, t+1, head_dim] tensors: the cache
        given is left untouched (the runner times repeated steps from one state), and
        the cache holds exactly 2·B·t·d elements per block, no view into a larger buffer.
        """
        B, T, C = x.shape
        q, k, v = self._heads(x)
        k = torch.cat([cache[0], k], dim=2)
        v = torch.cat([cache[1], v], dim=2)
        y = F.scaled_dot_product_attention(q, k, v)  # the new position may see all cached ones
        return self.proj(y.transpose(1, 2).reshape(B, T, C)), (k, v)


class MLP(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model)
        self.proj = nn.Linear(cfg.mlp_ratio * cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    """Pre-LN: x + attn(LN(x)), then x + mlp(LN(x))."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))

    def step(self, x: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        attended, cache = self.attn.step(self.ln1(x), cache)
        x = x + attended
        return x + self.mlp(self.ln2(x)), cache


class TransformerCore(nn.Module):
    """Positions -> blocks -> final LayerNorm, mapping [B, T, d] to [B, T, d]."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        # A cache of the (parameter-free) position table, grown on demand, so that
        # timed forwards do not rebuild it.
        self.register_buffer("pe", sinusoidal_positions(256, cfg.d_model), persistent=False)

    def _positions(self, length: int, start: int, like: torch.Tensor) -> torch.Tensor:
        if start + length > self.pe.shape[0]:
            size = max(2 * self.pe.shape[0], start + length)
            self.pe = sinusoidal_positions(size, self.cfg.d_model).to(self.pe.device)
        return self.pe[start:start + length].to(dtype=like.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self._positions(x.shape[1], 0, x)
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)

    def probe_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[tuple[torch.Tensor, ...]]]:
        """The forward with the residual stream entering the first block split per position.

        Each position's vector (embedding plus position) is its own tensor, stacked
        again before the blocks, so autograd gives ∂L/∂x_t through every path: the
        position's own and every later position's attention to it.
        """
        positions = list((x + self._positions(x.shape[1], 0, x)).unbind(1))
        x = torch.stack(positions, 1)
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x), [(p,) for p in positions]

    def length_extension(self, seq_len: int, trained_len: int) -> str:
        """Beyond the training length the sinusoidal table extends by its formula (it is not learned)."""
        return (f"extends: sinusoidal positions {trained_len}..{seq_len - 1} computed by the same formula"
                " (never seen in training); attention spans the whole sequence")

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
        kv = [block.attn.empty_cache(batch, self.cfg.d_model, device, dtype) for block in self.blocks]
        return {"position": 0, "kv": kv}

    def step(self, x: torch.Tensor, state: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        position = state["position"]
        x = x + self._positions(x.shape[1], position, x)
        caches = []
        for block, cache in zip(self.blocks, state["kv"]):
            x, cache = block.step(x, cache)
            caches.append(cache)
        return self.ln_f(x), {"position": position + x.shape[1], "kv": caches}


def transformer_flops(cfg: TransformerConfig, seq_len: int, batch: int) -> float:
    """Per block 24·B·T·d² (QKV, projection, MLP) + 4·B·T²·d (scores and mixing)."""
    d = cfg.d_model
    return cfg.n_layers * (24.0 * batch * seq_len * d * d + 4.0 * batch * seq_len * seq_len * d)


def factory(config: ModelConfig) -> TorchModel:
    cfg = TransformerConfig.from_model_config(config)
    return TorchModel(
        config, lambda c: TransformerCore(cfg), lambda T, B: transformer_flops(cfg, T, B),
        facts={"n_heads": cfg.n_heads, "attention": "F.scaled_dot_product_attention"},
    )
