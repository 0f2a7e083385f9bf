"""``rnn@numpy``, ``lstm@numpy``, ``gru@numpy``: the readable reference, NumPy alone, no autograd.

The same network as the torch models (``embedding or input projection -> recurrent
layers -> linear head``), with the same parameter names (``embed.weight``,
``core.rnn.weight_ih_l0``, ``head.bias``, ...), shapes, gate order and
initialisation, trained by backpropagation through time written out by hand
(:mod:`rnnbench.plugins.numpy.layers`), the same masked losses, gradient clipping
and Adam (:mod:`rnnbench.plugins.numpy.train`). :mod:`rnnbench.plugins.numpy.convert`
copies weights to and from torch.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
from rnnbench.plugins.numpy.layers import (
    GATES,
    Parameters,
    RecurrentStack,
    Workspace,
    init_layers,
    layer_shapes,
)
from rnnbench.plugins.numpy.train import (
    Adam,
    clip_grad_norm,
    masked_cross_entropy,
    masked_mse,
)

from rnnbench.memory import tracemalloc_peak
from rnnbench.model_api import Batch, MemoryReading, Model, ModelConfig

DTYPES = ("float32", "float64")
CORE_PREFIX = "core.rnn."


@dataclass
class NumpyBatch:
    """A batch rearranged time-major (``[T, B, ...]``) once, outside the timed regions."""

    inputs: np.ndarray   # [T, B] int64 tokens or [T, B, F] features in the model's dtype
    targets: np.ndarray  # [T, B] int64 classes or [T, B, O] values in the model's dtype
    mask: np.ndarray     # [T, B] in the model's dtype

    @property
    def seq_len(self) -> int:
        return int(self.inputs.shape[0])


def blas_name() -> str:
    """The BLAS NumPy links (OpenBLAS for pip wheels), for describe()."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy without mode="dicts": not worth failing a case over
        return "unknown"


class NumpyRecurrentModel(Model):
    """embedding / input projection -> :class:`RecurrentStack` -> linear head, on NumPy."""

    def __init__(self, arch: str, config: ModelConfig):
        if config.dtype not in DTYPES:
            raise ValueError(f"{arch}@numpy supports {', '.join(DTYPES)}, not {config.dtype}")
        if config.device != "cpu":
            raise ValueError(f"{arch}@numpy runs on cpu only, not {config.device}")
        self.arch, self.config = arch, config
        self.dtype = np.dtype(config.dtype)
        H, L = config.hidden, config.layers
        shapes: dict[str, tuple] = {}
        if config.input_kind == "tokens":
            shapes["embed.weight"] = (config.input_size, H)
        else:
            shapes["embed.weight"] = (H, config.input_size)
            shapes["embed.bias"] = (H,)
        shapes.update(layer_shapes(arch, H, H, L, CORE_PREFIX))
        shapes["head.weight"] = (config.output_size, H)
        shapes["head.bias"] = (config.output_size,)
        self.params = Parameters(shapes, self.dtype)
        self._init_parameters(np.random.default_rng(config.seed))
        self.workspace = Workspace(self.dtype)
        self.core = RecurrentStack(arch, H, H, L, params=self.params, prefix=CORE_PREFIX,
                                   workspace=self.workspace)
        self.optimizer = Adam(self.params, lr=config.lr)

    def _init_parameters(self, rng: np.random.Generator) -> None:
        """torch's defaults: nn.Embedding ~ N(0, 1); nn.Linear weight and bias ~ U(±1/√fan_in)."""
        c, v = self.config, self.params.values
        if c.input_kind == "tokens":
            v["embed.weight"][...] = rng.standard_normal(v["embed.weight"].shape)
        else:
            bound = 1.0 / np.sqrt(c.input_size)
            v["embed.weight"][...] = rng.uniform(-bound, bound, v["embed.weight"].shape)
            v["embed.bias"][...] = rng.uniform(-bound, bound, v["embed.bias"].shape)
        init_layers(self.params, self.arch, c.hidden, c.layers, rng, CORE_PREFIX)
        bound = 1.0 / np.sqrt(c.hidden)
        v["head.weight"][...] = rng.uniform(-bound, bound, v["head.weight"].shape)
        v["head.bias"][...] = rng.uniform(-bound, bound, v["head.bias"].shape)

    # -- the network ------------------------------------------------------------------------
    def _embed(self, inputs: np.ndarray) -> np.ndarray:
        v = self.params.values
        if self.config.input_kind == "tokens":
            return v["embed.weight"][inputs]                    # e_t = E[token_t]
        return inputs @ v["embed.weight"].T + v["embed.bias"]   # e_t = W_e x_t + b_e

    def _head(self, hidden: np.ndarray) -> np.ndarray:
        v = self.params.values
        T, B, H = hidden.shape
        logits = hidden.reshape(T * B, H) @ v["head.weight"].T   # y_t = W_y h_t + b_y
        logits += v["head.bias"]
        return logits.reshape(T, B, -1)

    def _run(self, inputs: np.ndarray, state: Any = None):
        embedded = self._embed(inputs)
        hidden, final_state, caches = self.core.forward(embedded, state)
        return self._head(hidden), final_state, (inputs, hidden, caches)

    def loss_and_gradients(self, batch: NumpyBatch) -> float:
        """Forward, masked loss and backpropagation through time into ``params.grads``."""
        logits, _, (inputs, hidden, caches) = self._run(batch.inputs)
        T, B, O = logits.shape
        flat_logits, flat_mask = logits.reshape(T * B, O), batch.mask.reshape(T * B)
        if self.config.loss == "cross_entropy":
            loss, d_logits = masked_cross_entropy(flat_logits, batch.targets.reshape(T * B), flat_mask)
        else:
            loss, d_logits = masked_mse(flat_logits, batch.targets.reshape(T * B, O), flat_mask)
        g, v = self.params.grads, self.params.values
        H = self.config.hidden
        hidden2 = hidden.reshape(T * B, H)
        np.matmul(d_logits.T, hidden2, out=g["head.weight"])           # dW_y = Σ dy_tᵀ h_t
        np.sum(d_logits, axis=0, out=g["head.bias"])
        d_hidden = (d_logits @ v["head.weight"]).reshape(T, B, H)      # dh_t = dy_t W_y
        d_embedded = self.core.backward(d_hidden, caches).reshape(T * B, H)
        if self.config.input_kind == "tokens":
            g["embed.weight"].fill(0)
            np.add.at(g["embed.weight"], inputs.reshape(-1), d_embedded)  # dE[token] += de_t
        else:
            x2 = inputs.reshape(T * B, -1)
            np.matmul(d_embedded.T, x2, out=g["embed.weight"])
            np.sum(d_embedded, axis=0, out=g["embed.bias"])
        return loss

    # -- the model contract ---------------------------------------------------------------
    def to_device(self, batch: Batch) -> NumpyBatch:
        inputs = np.ascontiguousarray(np.swapaxes(batch.inputs, 0, 1))
        if self.config.input_kind == "features":
            inputs = inputs.astype(self.dtype, copy=False)
        targets = np.ascontiguousarray(np.swapaxes(batch.targets, 0, 1))
        if self.config.output_kind == "regression":
            targets = targets.astype(self.dtype, copy=False)
        mask = np.ascontiguousarray(batch.mask.T, dtype=self.dtype)
        return NumpyBatch(inputs, targets, mask)

    def set_learning_rate(self, lr: float) -> None:
        self.optimizer.lr = lr  # Adam reads its rate at every step

    def train_step(self, batch: NumpyBatch) -> float:
        loss = self.loss_and_gradients(batch)
        if self.config.grad_clip:
            clip_grad_norm(self.params.grad, self.config.grad_clip)
        self.optimizer.step()
        return loss

    def forward(self, batch: NumpyBatch) -> np.ndarray:
        """Outputs ``[T, B, O]`` (time-major), no state kept for a backward pass."""
        return self._run(batch.inputs)[0]

    def predict(self, batch: NumpyBatch) -> np.ndarray:
        return np.ascontiguousarray(self.forward(batch).transpose(1, 0, 2))

    def state_gradients(self, batch: NumpyBatch) -> np.ndarray:
        """‖∂L/∂h_t‖ per example and position, read off the backward pass through time.

        Each layer's backward already forms the total dL/dh_t (and the LSTM's dL/dc_t)
        at every step; with a sink set it adds their squares, so the norm covers every
        layer's state. The parameter gradients this also writes are recomputed by the
        next training step. In the model's dtype: in float32 a vanishing gradient can
        underflow to zero sooner than the torch backends' float64 probe.
        """
        T, B = batch.mask.shape
        sink = np.zeros((T, B), dtype=np.float64)
        for layer in self.core.layers:
            layer.state_gradient_sink = sink
        try:
            self.loss_and_gradients(batch)
        finally:
            for layer in self.core.layers:
                layer.state_gradient_sink = None
        return np.sqrt(sink).T

    def length_extension(self, seq_len: int) -> str:
        return "recurrent: the state is carried step by step, so any length runs as is"

    def init_state(self, batch_size: int) -> Any:
        return self.core.zero_state(batch_size)

    def step(self, inputs: NumpyBatch, state: Any) -> tuple[np.ndarray, Any]:
        """One position through the same equations as the full forward; ``state`` is not modified."""
        logits, new_state, _ = self._run(inputs.inputs, state)
        return np.ascontiguousarray(logits.transpose(1, 0, 2)), new_state

    def num_params(self) -> int:
        return len(self.params)

    def flops(self, seq_len: int, batch_size: int, training: bool = False) -> float:
        c = self.config
        core = c.layers * 2.0 * batch_size * seq_len * GATES[self.arch] * c.hidden * (c.hidden + c.hidden)
        head = 2.0 * batch_size * seq_len * c.hidden * c.output_size
        embed = 0.0 if c.input_kind == "tokens" else 2.0 * batch_size * seq_len * c.input_size * c.hidden
        forward = core + head + embed
        return 3.0 * forward if training else forward   # backward ≈ twice the forward

    def memory_meter(self, scenario: str) -> contextlib.AbstractContextManager[MemoryReading]:
        return self._tracemalloc_meter()

    @contextlib.contextmanager
    def _tracemalloc_meter(self) -> Iterator[MemoryReading]:
        # The workspace is freed first, so the measured call allocates (and counts) all
        # of its buffers; parameters and Adam's moments exist before and are not counted.
        self.workspace.clear()
        with tracemalloc_peak() as reading:
            yield reading
        reading.method += ("; activations and workspace of the measured call, parameters and"
                           " Adam moments excluded")

    def describe(self) -> dict[str, Any]:
        return {
            "kernel_path": "NumPy, hand-written BPTT (fused gate GEMMs, per-step recurrent GEMM)",
            "numpy": np.__version__,
            "blas": blas_name(),
            "device": "cpu",
        }


def make_factory(arch: str):
    def factory(config: ModelConfig) -> NumpyRecurrentModel:
        return NumpyRecurrentModel(arch, config)

    return factory
