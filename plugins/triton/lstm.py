"""``lstm@triton``: the LSTM with its recurrence fused into Triton kernels (extra ``rnnbench[triton]``).

The same network as ``lstm@torch`` (embedding -> stacked LSTM -> linear head, gate
order i, f, g, o, forget-gate bias 1), so weights copy over from torch.nn.LSTM
parameter for parameter. Per layer, the input projections of all steps are one GEMM
(torch); the recurrence runs in Triton, forward and backward through time, inside a
torch.autograd.Function (:mod:`rnnbench.plugins.triton.planning` says which kernel
design runs when). Decoding (``step``) runs the same kernels with T = 1.

Runs on CUDA (float32, float16, bfloat16; float32 accumulation), or on the CPU in
Triton's interpreter when ``TRITON_INTERPRET=1`` is set (float32; a correctness
check, far too slow to be a speed figure). triton is imported only when a model is
built, so ``rnnbench list`` works without it.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rnnbench.model_api import ModelConfig
from rnnbench.torch_model import FLOAT16_NOTE, TORCH_DTYPES, TorchModel, recurrent_flops

INSTALL_HINT = "install rnnbench[triton]"
NEEDS_DEVICE = "needs a CUDA GPU, or TRITON_INTERPRET=1 to run in Triton's interpreter"
DTYPES = ("float32", "float16", "bfloat16")
#: Triton's interpreter is checked in float32 only; float16 trains nowhere (TorchModel's Adam)
TRAIN_DTYPES = {"cpu": ("float32",), "cuda": ("float32", "bfloat16")}
TRAIN_DTYPE_NOTE = FLOAT16_NOTE + "; on the CPU (Triton's interpreter) lstm@triton runs float32 only"


def interpreter_requested() -> bool:
    """Whether TRITON_INTERPRET asks for the interpreter (read as triton reads it)."""
    return os.environ.get("TRITON_INTERPRET", "").strip().lower() in ("1", "true", "on", "yes", "y")


def triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None


def unavailable_reason() -> str | None:
    """None when lstm@triton can run here, else why not."""
    if not triton_installed():
        return INSTALL_HINT
    if interpreter_requested() or torch.cuda.is_available():
        return None
    return NEEDS_DEVICE


def triton_part(name: str):
    """A module of this package that imports triton (``planning``, ``launchers``,
    ``autograd``), imported (and the kernels jit-decorated) on first use."""
    if not triton_installed():
        raise ImportError(f"lstm@triton: triton is not installed ({INSTALL_HINT})")
    return importlib.import_module(f"rnnbench.plugins.triton.{name}")


FP32_PRECISION_ENV = "RNNBENCH_TRITON_FP32_PRECISION"


def fp32_precision() -> str:
    """float32 products: IEEE unless ``RNNBENCH_TRITON_FP32_PRECISION`` opts into tf32 or tf32x3."""
    value = os.environ.get(FP32_PRECISION_ENV, "").strip().lower() or "ieee"
    if value not in ("ieee", "tf32", "tf32x3"):
        raise ValueError(f"{FP32_PRECISION_ENV} must be ieee, tf32 or tf32x3, not {value!r}")
    return value


@dataclass
class _DecodeBuffers:
    """Two (h, c) pairs [layers, B, H] that decoding alternates between.

    ``step`` reads the state it is given and writes the pair that state is not, so the
    input is left as it was (the decode scenario times many steps from one state) and
    no token allocates. The price: a state stays valid until the second step after the
    one that returned it (what token-by-token decoding needs; keep a copy to branch).
    """

    pairs: tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

    def target_for(self, state_h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        first = self.pairs[0][0]
        return self.pairs[1] if state_h.data_ptr() == first.data_ptr() else self.pairs[0]


class TritonLSTMCore(nn.Module):
    """A stack of LSTM layers, width ``hidden`` in and out, parameters named as nn.LSTM's.

    ``design`` forces a launch design (``"persistent"`` or ``"per-step"``) for tests and
    benchmarks; ``"auto"`` lets :func:`plan_launch` choose. ``precision`` sets float32's
    products (``None``: IEEE; ``"tf32"``/``"tf32x3"`` opt into tensor cores).
    """

    def __init__(self, hidden: int, layers: int, design: str = "auto", precision: str | None = None):
        super().__init__()
        self.hidden_size, self.num_layers, self.design, self.precision = hidden, layers, design, precision
        self._decode: dict = {}
        bound = 1.0 / math.sqrt(hidden)  # nn.LSTM's initialisation: U(-1/√H, 1/√H)
        for layer in range(layers):
            for name, shape in (("weight_ih", (4 * hidden, hidden)), ("weight_hh", (4 * hidden, hidden)),
                                ("bias_ih", (4 * hidden,)), ("bias_hh", (4 * hidden,))):
                self.register_parameter(f"{name}_l{layer}", nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))
            with torch.no_grad():
                # Forget-gate bias 1 (Gers et al. 2000), as lstm@torch; gate order i, f, g, o.
                getattr(self, f"bias_ih_l{layer}")[hidden:2 * hidden].fill_(1.0)
                getattr(self, f"bias_hh_l{layer}")[hidden:2 * hidden].zero_()

    def layer_weights(self, layer: int) -> tuple[torch.Tensor, ...]:
        return tuple(getattr(self, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def run(self, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [B, T, H]; h0, c0 [layers, B, H]. Returns (outputs [B, T, H], h_n, c_n)."""
        lstm_layer = triton_part("autograd").lstm_layer
        seq = x.transpose(0, 1).contiguous()  # time-major: each step's rows are contiguous
        last_h, last_c = [], []
        for layer in range(self.num_layers):
            seq, h_n, c_n = lstm_layer(seq, *self.layer_weights(layer), h0[layer], c0[layer], self.design,
                                       self.precision)
            last_h.append(h_n)
            last_c.append(c_n)
        return seq.transpose(0, 1), torch.stack(last_h), torch.stack(last_c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0, c0 = self.init_state(x.shape[0], x.device, x.dtype)
        return self.run(x, h0, c0)[0]

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype) -> Any:
        h = torch.zeros(self.num_layers, batch, self.hidden_size, device=device, dtype=dtype)
        return h, torch.zeros_like(h)

    def step(self, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """One token: x [B, 1, H]. One launch per layer (the input projection fused in),
        into preallocated buffers (see :class:`_DecodeBuffers`)."""
        h, c = state
        weights = [self.layer_weights(layer) for layer in range(self.num_layers)]
        if torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for w in weights for p in w)):
            output, h_n, c_n = self.run(x, h, c)  # differentiable path; decoding runs under inference
            return output, (h_n, c_n)
        launchers, planning = triton_part("launchers"), triton_part("planning")
        B = x.shape[0]
        key = (B, x.dtype, x.device)
        if key not in self._decode:
            with torch.inference_mode(False):  # plain tensors: usable whichever mode decodes later
                pairs = tuple((torch.empty_like(h), torch.empty_like(c)) for _ in range(2))
            self._decode[key] = (_DecodeBuffers(pairs), planning.plan_for(B, self.hidden_size, x.dtype, x.device,
                                                                    "persistent", self.precision))
        buffers, plan = self._decode[key]
        h_out, c_out = buffers.target_for(h)
        layer_input = x[:, 0]
        for layer, (w_ih, w_hh, b_ih, b_hh) in enumerate(weights):
            launchers.lstm_decode_layer(layer_input, w_ih, w_hh, b_ih, b_hh, h[layer], c[layer], h_out[layer], c_out[layer],
                                plan)
            layer_input = h_out[layer]
        return h_out[-1].unsqueeze(1), (h_out, c_out)


def design_summary(hidden: int, dtype: str, device: str) -> str:
    """Which launch design the model's layers use, at batch 1 and 64 (the plan depends on the batch)."""
    dev = torch.device(device)
    plans = {batch: triton_part("planning").plan_for(batch, hidden, TORCH_DTYPES[dtype], dev, "auto", fp32_precision())
             for batch in (1, 64)}
    return "; ".join(f"B={batch}: {plan.describe(batch, hidden)}" for batch, plan in plans.items())


def factory(config: ModelConfig) -> TorchModel:
    if not triton_installed():
        raise ImportError(f"lstm@triton: triton is not installed ({INSTALL_HINT})")
    device = torch.device(config.device)
    if device.type == "cpu" and not interpreter_requested():
        raise RuntimeError("lstm@triton on the CPU needs TRITON_INTERPRET=1 to run in Triton's interpreter")
    if device.type == "cpu" and config.dtype != "float32":
        raise ValueError(f"lstm@triton runs {config.dtype} on CUDA only; Triton's interpreter is checked in float32")
    if config.dtype not in DTYPES:
        raise ValueError(f"lstm@triton supports {', '.join(DTYPES)}, not {config.dtype}")
    import triton

    interpreted = interpreter_requested()
    precision = fp32_precision()

    def core_flops(seq_len: int, batch: int) -> float:
        return config.layers * recurrent_flops(4, config.hidden, config.hidden, seq_len, batch)

    facts = {
        "kernel_path": "Triton fused LSTM recurrence" + (" (Triton interpreter, NumPy on CPU)" if interpreted else ""),
        "triton": triton.__version__,
        "triton_interpret": interpreted,
        "launch_design": design_summary(config.hidden, config.dtype, config.device),
        "fp32_precision": precision if config.dtype == "float32" else "n/a (16-bit operands, float32 accumulation)",
        "decode_path": "the same kernels with T=1",
    }
    return TorchModel(config, lambda c: TritonLSTMCore(c.hidden, c.layers, precision=precision), core_flops,
                      facts=facts)

