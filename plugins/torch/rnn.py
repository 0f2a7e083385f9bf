"""``rnn@torch``, ``lstm@torch``, ``gru@torch``: torch.nn's recurrent layers as the core.

On CPU, nn.LSTM runs oneDNN's fused kernel when oneDNN is available, while nn.GRU
and nn.RNN run ATen's per-time-step loop; on CUDA all three run cuDNN. Each case
records which path ran, since it explains much of the speed difference.

The recurrent initialisation is a model option, because it decides how gradients flow
through time (Saxe et al. 2014; Le et al. 2015): ``init=default`` keeps PyTorch's
U(-1/√H, 1/√H) for every weight; ``init=orthogonal`` draws each gate's H×H block of the
hidden-to-hidden matrix W_hh orthogonal and scales it by ``radius``, so that every block's
eigenvalues lie on the circle of that radius (spectral radius = ``radius``): below 1
the linearised recurrence h_t = W_hh h_{t-1} shrinks a gradient by about ``radius`` per
step, above 1 it grows it. Input weights keep their defaults.

The gated cells get one matching gate-bias treatment, the option ``gate_bias`` (default 1):
the bias of the gate that keeps the old state, the LSTM's forget gate f and the GRU's update
gate z (torch's GRU: h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}), is set to ``gate_bias`` (b_ih) and 0
(b_hh). With 1 both cells start keeping σ(1) ≈ 0.73 of their state per step (Gers et al.
2000; Jozefowicz et al. 2015 for the LSTM); with PyTorch's uniform bias the GRU's z starts
near 0.5, so its state halves every step. ``gate_bias=none`` keeps PyTorch's biases for both.
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

INITS = ("default", "orthogonal")
#: gate block whose bias ``gate_bias`` sets: the gate that keeps h_{t-1} (LSTM order i, f, g, o; GRU r, z, n)
KEEP_GATE = {"lstm": 1, "gru": 1}
#: ``--model-opt rnn.init=orthogonal --model-opt rnn.radius=0.5`` (likewise lstm, gru)
OPTIONS = {"init": "default", "radius": 1.0}
OPTION_HELP = {"init": "recurrent weights W_hh: default (PyTorch's uniform) or orthogonal (each gate block"
                       " orthogonal, scaled by radius)",
               "radius": "spectral radius of each gate block of W_hh under init=orthogonal (1: norm-preserving)"}
#: the gated cells add ``--model-opt lstm.gate_bias=1`` (likewise gru): the same default for both
GATED_OPTIONS = {**OPTIONS, "gate_bias": "1"}
GATED_OPTION_HELP = {**OPTION_HELP,
                     "gate_bias": "initial bias of the gate that keeps the state (LSTM forget gate f, GRU update"
                                  " gate z): a number (b_ih = it, b_hh = 0), or none for PyTorch's uniform bias"}


def options_for(arch: str) -> tuple[dict, dict]:
    """(options, help) of ``arch``: the gated cells have ``gate_bias`` as well."""
    return (GATED_OPTIONS, GATED_OPTION_HELP) if arch in KEEP_GATE else (OPTIONS, OPTION_HELP)


def parse_gate_bias(value: object) -> float | None:
    """``gate_bias`` as a number, or None for ``none`` (PyTorch's bias kept)."""
    text = str(value).strip().lower()
    if text == "none":
        return None
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"gate_bias must be a number or none, got {value!r}") from None
    if number != number or abs(number) == float("inf"):
        raise ValueError(f"gate_bias must be a finite number or none, got {value!r}")
    return number


def check_options(options: dict, hidden: int) -> None:
    if "gate_bias" in options:
        parse_gate_bias(options["gate_bias"])
    if options["init"] not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {options['init']!r}")
    if options["radius"] <= 0:
        raise ValueError(f"radius must be positive, got {options['radius']}")
    if options["init"] == "default" and options["radius"] != 1.0:
        raise ValueError("radius applies to init=orthogonal only; set init=orthogonal too")


def orthogonal_recurrent_(rnn: nn.RNNBase, gates: int, radius: float) -> None:
    """Each of the ``gates`` H×H blocks of every layer's W_hh: orthogonal × radius."""
    hidden = rnn.hidden_size
    with torch.no_grad():
        for name, weight in rnn.named_parameters():
            if name.startswith("weight_hh"):
                for g in range(gates):
                    block = weight[g * hidden:(g + 1) * hidden]
                    nn.init.orthogonal_(block)
                    block.mul_(radius)


def keep_gate_bias_(rnn: nn.RNNBase, arch: str, value: float) -> None:
    """The bias of the gate that keeps h_{t-1} (LSTM f, GRU z) in every layer: b_ih = value, b_hh = 0."""
    hidden, block = rnn.hidden_size, KEEP_GATE[arch]
    rows = slice(block * hidden, (block + 1) * hidden)
    with torch.no_grad():
        for name, bias in rnn.named_parameters():
            if name.startswith("bias_ih"):
                bias[rows].fill_(value)
            elif name.startswith("bias_hh"):
                bias[rows].zero_()


class RecurrentCore(nn.Module):
    """A stack of torch.nn recurrent layers, width ``hidden`` in and out."""

    def __init__(self, arch: str, hidden: int, layers: int, init: str = "default", radius: float = 1.0,
                 gate_bias: float | None = 1.0):
        super().__init__()
        self.arch = arch
        self.rnn = LAYERS[arch](hidden, hidden, num_layers=layers, batch_first=True)
        if init == "orthogonal":
            orthogonal_recurrent_(self.rnn, GATES[arch], radius)
        if arch in KEEP_GATE and gate_bias is not None:
            # Without a positive keep-gate bias the LSTM sits on the copy task's memoryless
            # plateau; the GRU gets the same treatment so that neither cell is favoured.
            keep_gate_bias_(self.rnn, arch, gate_bias)

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

        options = {**options_for(arch)[0], **config.options}
        check_options(options, config.hidden)
        gate_bias = parse_gate_bias(options["gate_bias"]) if arch in KEEP_GATE else None
        facts = {"kernel_path": kernel_path(arch, config.device, config.dtype),
                 "recurrent_init": options["init"] if options["init"] == "default"
                 else f"orthogonal, spectral radius {options['radius']:g}"}
        if arch in KEEP_GATE:
            gate = {"lstm": "forget gate f", "gru": "update gate z"}[arch]
            facts["gate_bias"] = (f"{gate} bias {gate_bias:g}" if gate_bias is not None
                                  else f"{gate} bias PyTorch's U(-1/sqrt(H), 1/sqrt(H))")
        return TorchModel(
            config, lambda c: RecurrentCore(arch, c.hidden, c.layers, options["init"], float(options["radius"]),
                                            gate_bias),
            core_flops, facts=facts,
        )

    return factory
