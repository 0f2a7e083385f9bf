"""``rnn@torch``, ``lstm@torch``, ``gru@torch``: torch.nn's recurrent layers as the core.

On CPU, nn.LSTM runs oneDNN's fused kernel when oneDNN is available, while nn.GRU
and nn.RNN run ATen's per-time-step loop; on CUDA all three run cuDNN. Each case
records which path ran, since it explains much of the speed difference.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rnnbench.model_api import ModelConfig
from rnnbench.torch_model import TorchModel, recurrent_flops

#: gate blocks per architecture: h = tanh(...) has 1, the GRU 3 (r, z, n), the LSTM 4 (i, f, g, o)
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class RecurrentCore(nn.Module):
    """A stack of torch.nn recurrent layers, width ``hidden`` in and out."""

    def __init__(self, arch: str, hidden: int, layers: int):
        super().__init__()
        self.arch = arch
        self.rnn = LAYERS[arch](hidden, hidden, num_layers=layers, batch_first=True)
        if arch == "lstm":
            # Forget-gate bias 1 (Gers et al. 2000; Jozefowicz et al. 2015): without it the
            # LSTM sits on the copy task's memoryless plateau. Gate order is i, f, g, o.
            with torch.no_grad():
                for name, bias in self.rnn.named_parameters():
                    if name.startswith("bias_ih"):
                        bias[hidden:2 * hidden].fill_(1.0)
                    elif name.startswith("bias_hh"):
                        bias[hidden:2 * hidden].zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.rnn.flatten_parameters()
        return self.rnn(x)[0]

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype) -> Any:
        shape = (self.rnn.num_layers, batch, self.rnn.hidden_size)
        h = torch.zeros(shape, device=device, dtype=dtype)
        return (h, torch.zeros_like(h)) if self.arch == "lstm" else h

    def step(self, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        output, state = self.rnn(x, state)
        return output, state


def kernel_path(arch: str, device: str, dtype: str) -> str:
    if device.startswith("cuda"):
        return "cuDNN"
    if arch == "lstm" and torch.backends.mkldnn.is_available() and dtype in ("float32", "bfloat16"):
        return "oneDNN fused LSTM (mkldnn_rnn)"
    return "ATen per-time-step loop"


def make_factory(arch: str):
    def factory(config: ModelConfig) -> TorchModel:
        gates = GATES[arch]

        def core_flops(seq_len: int, batch: int) -> float:
            return config.layers * recurrent_flops(gates, config.hidden, config.hidden, seq_len, batch)

        return TorchModel(
            config, lambda c: RecurrentCore(arch, c.hidden, c.layers), core_flops,
            facts={"kernel_path": kernel_path(arch, config.device, config.dtype)},
        )

    return factory
