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

    def probe_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[tuple[torch.Tensor, ...]]]:
        """The forward one layer and one step at a time, exposing every state it carries.

        The fused layer hides its intermediate states, and within one of its steps a
        lower layer's h_t reaches the layer above internally. So this runs the same
        weights through torch's cell functions (the kernels of nn.RNNCell, nn.LSTMCell,
        nn.GRUCell): each layer's h_t (and c_t) is one tensor, used by the layer above
        at t and by its own layer at t + 1, so its gradient is the total ∂L/∂h_t.
        """
        batch, length, _ = x.shape
        rnn = self.rnn
        cell = {"rnn": torch.rnn_tanh_cell, "gru": torch.gru_cell, "lstm": torch.lstm_cell}[self.arch]
        weights = [tuple(getattr(rnn, f"{kind}_l{k}") for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
                   for k in range(rnn.num_layers)]
        zeros = x.new_zeros(batch, rnn.hidden_size)
        states: list = [(zeros, zeros) if self.arch == "lstm" else zeros for _ in range(rnn.num_layers)]
        outputs, per_position = [], []
        for t in range(length):
            inputs = x[:, t]
            for k in range(rnn.num_layers):
                states[k] = cell(inputs, states[k], *weights[k])
                inputs = states[k][0] if self.arch == "lstm" else states[k]
            per_position.append(tuple(tensor for state in states
                                      for tensor in (state if isinstance(state, tuple) else (state,))))
            outputs.append(inputs.unsqueeze(1))  # the top layer's h_t is the output
        return torch.cat(outputs, 1), per_position

    def length_extension(self, seq_len: int, trained_len: int) -> str:
        return "recurrent: the state is carried step by step, so any length runs as is"


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
