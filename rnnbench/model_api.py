"""The model contract: what every model plugin's factory returns.

A model is framework-agnostic: NumPy and torch models run through the same
runner. Every model is ``embedding (or input projection) -> core -> linear head``,
built from the task's shape and the case's width and depth, so architectures are
compared on equal terms.
"""

from __future__ import annotations

import contextlib
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

#: the learning-rate schedules a model trains under (--lr-schedule); see :func:`lr_factor`
LR_SCHEDULES = ("constant", "warmup-cosine")
#: warmup-cosine: the fraction of training over which the rate rises linearly from 0
WARMUP_FRACTION = 0.05
#: warmup-cosine: the rate at the end of training, as a fraction of the peak (nanoGPT's lr / 10)
FINAL_LR_FRACTION = 0.1


def lr_factor(schedule: str, progress: float) -> float:
    """The multiple of the case's rate to train at when ``progress`` (0 to 1) of the training is done.

    ``constant``: 1. ``warmup-cosine``: ``p / w`` for ``p < w`` (linear warm-up,
    ``w`` = :data:`WARMUP_FRACTION`), then ``f + (1 - f)·(1 + cos(π·q))/2`` with
    ``q = (p - w)/(1 - w)`` and ``f`` = :data:`FINAL_LR_FRACTION`: a cosine from the full rate
    down to ``f`` of it at the end. The runner measures progress in steps, or in seconds of a
    ``--time-budget``, so a budgeted case decays over its budget.
    """
    if schedule == "constant":
        return 1.0
    if schedule != "warmup-cosine":
        raise ValueError(f"unknown learning-rate schedule {schedule!r}: one of {', '.join(LR_SCHEDULES)}")
    p = min(max(progress, 0.0), 1.0)
    if p < WARMUP_FRACTION:
        return p / WARMUP_FRACTION
    q = (p - WARMUP_FRACTION) / (1.0 - WARMUP_FRACTION)
    return FINAL_LR_FRACTION + (1.0 - FINAL_LR_FRACTION) * 0.5 * (1.0 + math.cos(math.pi * q))


@dataclass
class Batch:
    """One batch of a task, as NumPy arrays.

    * ``inputs``: int64 ``[B, T]`` token ids (``input_kind == "tokens"``) or float32
      ``[B, T, F]`` features (``input_kind == "features"``).
    * ``targets``: int64 ``[B, T]`` class ids (``output_kind == "classes"``) or
      float32 ``[B, T, O]`` values (``output_kind == "regression"``).
    * ``mask``: float32 ``[B, T]``, 1 where the position counts in loss and metrics.
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray

    @property
    def batch_size(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.inputs.shape[1])


@dataclass(frozen=True)
class ModelConfig:
    """Everything a model factory needs, resolved from the task and the case.

    :param input_kind: ``"tokens"`` (embedding of ``input_size`` ids) or
        ``"features"`` (linear projection of ``input_size`` floats).
    :param output_kind: ``"classes"`` (logits over ``output_size`` classes, masked
        cross-entropy) or ``"regression"`` (``output_size`` values, masked MSE).
    :param hidden: the core's width (the Transformer's d_model).
    :param layers: the number of recurrent layers or Transformer blocks.
    :param max_seq_len: the longest sequence the model will see (positional tables).
    :param seed: seed the parameters from it (``TorchModel`` calls ``torch.manual_seed``).
    :param options: the model's options (``ModelSpec.options`` defaults overridden by
        ``--model-opt ARCH.KEY=VALUE``), already converted to the defaults' types.
    """

    input_kind: str
    input_size: int
    output_kind: str
    output_size: int
    hidden: int
    layers: int
    max_seq_len: int
    device: str = "cpu"
    dtype: str = "float32"
    seed: int = 0
    lr: float = 2e-3
    grad_clip: float = 1.0
    options: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def loss(self) -> str:
        return "cross_entropy" if self.output_kind == "classes" else "mse"


@dataclass
class MemoryReading:
    """A memory figure and how it was measured; ``bytes`` is None when not measured."""

    bytes: int | None
    method: str
    extra: dict[str, Any] = field(default_factory=dict)


class Model(ABC):
    """Base class of every model. Subclasses implement the abstract methods.

    Timed regions call only :meth:`train_step`, :meth:`forward` and :meth:`step`;
    :meth:`to_device` runs before them, outside the timer, and :meth:`synchronize`
    after each timed call (a no-op on CPU).
    """

    config: ModelConfig

    # -- training and inference ---------------------------------------------------
    @abstractmethod
    def train_step(self, batch: Any) -> float:
        """Forward, backward and one optimizer update on a device batch; return the loss."""

    @abstractmethod
    def forward(self, batch: Any) -> Any:
        """Inference over the full sequence of a device batch (no gradients); timed."""

    @abstractmethod
    def predict(self, batch: Any) -> np.ndarray:
        """Outputs ``[B, T, output_size]`` as a NumPy array, for metrics."""

    # -- incremental decoding (the ``decode`` scenario) -----------------------------
    def init_state(self, batch_size: int) -> Any:
        """The empty decoding state: an RNN's zero hidden state, a Transformer's empty cache."""
        raise NotImplementedError(f"{type(self).__name__} does not support decoding")

    def step(self, inputs: Any, state: Any) -> tuple[Any, Any]:
        """Consume one position (``inputs`` is a device batch of length 1) and return
        ``(outputs [B, 1, output_size], new_state)``.

        ``state`` must be left as it was: the ``decode`` scenario times many calls
        from one state, and each must measure the same context length (the runner
        checks this and fails the case otherwise)."""
        raise NotImplementedError(f"{type(self).__name__} does not support decoding")

    def state_bytes(self, state: Any) -> int:
        """Bytes of the state carried between decoding steps, read from the arrays
        (backends whose arrays can be views of larger buffers count the buffers)."""
        return _nbytes(state)

    # -- training-dynamics measurements (optional) --------------------------------------
    def state_gradients(self, batch: Any) -> np.ndarray:
        """``[B, T]`` float64: for each example and position t, the L2 norm of ∂L/∂h_t.

        ``L`` is the model's training loss on the device batch (the masked mean), ``h_t``
        the state the model carries past position t (a recurrent model's hidden state,
        every layer, the LSTM's cell state included) or, for a model that mixes positions
        by attention, the residual stream at t. The gradient is the total one, through
        every later position. The ``gradients`` scenario calls it; a model that cannot
        expose its states raises NotImplementedError with the reason, which is recorded.
        """
        raise NotImplementedError(f"{type(self).__name__} does not expose its per-position states")

    def length_extension(self, seq_len: int) -> str:
        """What the model does with sequences of ``seq_len`` beyond ``config.max_seq_len``.

        Returns one sentence, recorded with the evaluation at that length; raises
        ValueError with the reason to refuse the length. The default suits models
        with no fixed maximum length.
        """
        return "no fixed maximum length: applied as is"

    def set_learning_rate(self, lr: float) -> None:
        """Train the following steps at ``lr`` (``--lr-schedule`` calls it before each step, outside
        the timer). A model that cannot is refused a schedule other than ``constant``."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot change its learning rate while training (it does not implement"
            " Model.set_learning_rate): run it with --lr-schedule constant")

    # -- device handling ------------------------------------------------------------
    def to_device(self, batch: Batch) -> Any:
        """Move a NumPy batch to where the model computes; done outside timed regions."""
        return batch

    def synchronize(self) -> None:
        """Wait for queued device work (CUDA); a no-op for synchronous backends."""

    # -- accounting -------------------------------------------------------------------
    @abstractmethod
    def num_params(self) -> int:
        """Trainable parameters, embedding and head included."""

    @abstractmethod
    def flops(self, seq_len: int, batch_size: int, training: bool = False) -> float:
        """Analytic floating-point operations of one forward (or training step)."""

    def memory_meter(self, scenario: str) -> contextlib.AbstractContextManager[MemoryReading]:
        """A context manager that measures memory over a scenario's work.

        The runner enters it around one representative call and reads the
        :class:`MemoryReading` it yields after the block exits. The default
        measures nothing; backends override it with the method that fits them.
        """
        return _no_measurement()

    def describe(self) -> dict[str, Any]:
        """Implementation facts worth recording (which kernel path ran, TF32 setting)."""
        return {}


@contextlib.contextmanager
def _no_measurement() -> Iterator[MemoryReading]:
    yield MemoryReading(None, "not measured by this backend")


def _nbytes(obj: Any) -> int:
    if obj is None:
        return 0
    if hasattr(obj, "nbytes") and not isinstance(obj, (list, tuple, dict)):
        return int(obj.nbytes)
    if hasattr(obj, "element_size") and hasattr(obj, "numel"):
        return int(obj.element_size() * obj.numel())
    if isinstance(obj, dict):
        return sum(_nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(v) for v in obj)
    return 0
