"""``mlp@torch``: the memoryless baseline — a position-wise feedforward core, no mixing across time.

Every position goes through the same stack of pre-LayerNorm residual MLP blocks
(``x + W2·GELU(W1·LN(x))``, inner width 4·d, as a Transformer block without its
attention), between the same embedding and head as every other model. Nothing
passes from one position to another, so the output at position t is a function of
the token at t alone: on ``copy`` it cannot do better than guessing, which is the
point — it is the feedforward network a text contrasting recurrent and feedforward
networks has in mind, and the floor every model with memory should clear.

Its parameter count, like a recurrent model's, does not depend on the sequence
length (about 8·d² per block, the LSTM's 8·d² per layer).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnbench.model_api import ModelConfig
from rnnbench.torch_model import TorchModel

#: inner width of each block as a multiple of d (the Transformer's MLP ratio)
MLP_RATIO = 4


class FeedforwardBlock(nn.Module):
    """Pre-LN residual MLP applied to each position independently: x + W2·GELU(W1·LN(x))."""

    def __init__(self, d_model: int):
        super().__init__()
        self.ln = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, MLP_RATIO * d_model)
        self.proj = nn.Linear(MLP_RATIO * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj(F.gelu(self.fc(self.ln(x))))


class FeedforwardCore(nn.Module):
    """``layers`` position-wise blocks and a final LayerNorm, mapping [B, T, d] to [B, T, d]."""

    def __init__(self, d_model: int, layers: int):
        super().__init__()
        self.blocks = nn.ModuleList(FeedforwardBlock(d_model) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)

    # Decoding: there is nothing to carry, so the state is empty and stays so.
    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype) -> Any:
        return None

    def step(self, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        return self.forward(x), state

    def probe_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[tuple[torch.Tensor, ...]]]:
        """The per-position representation entering the core, for the gradient probe.

        With no path across time its gradient is zero at every position but the
        one where the loss is taken; the probe records that rather than a decay.
        """
        positions = list(x.unbind(1))
        return self.forward(torch.stack(positions, 1)), [(p,) for p in positions]

    def length_extension(self, seq_len: int, trained_len: int) -> str:
        return "position-wise: the same function is applied at every position, whatever the length"


def feedforward_flops(d_model: int, layers: int, seq_len: int, batch: int) -> float:
    """Two matmuls of d x 4d per block and position: 2·B·T·(2·4·d²) = 16·B·T·d² per block."""
    return layers * 16.0 * batch * seq_len * d_model * d_model


def factory(config: ModelConfig) -> TorchModel:
    return TorchModel(
        config, lambda c: FeedforwardCore(c.hidden, c.layers),
        lambda T, B: feedforward_flops(config.hidden, config.layers, T, B),
        facts={"mixing_across_time": "none (position-wise)"},
    )

