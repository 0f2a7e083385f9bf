"""What every torch model shares: embedding -> core -> head, masked losses, Adam, devices.

Adam runs at the case's rate, or under ``--lr-schedule warmup-cosine`` at the rate the
runner sets before each step (:meth:`TorchModel.set_learning_rate`, the schedule
:func:`rnnbench.model_api.lr_factor`), which works for time budgets too: the runner's
progress is in steps or in seconds of the budget, where torch's step-counting
schedulers need the number of steps in advance.

A torch model plugin supplies only its core: an ``nn.Module`` mapping ``[B, T, H]``
to ``[B, T, H]`` with ``init_state(batch, device, dtype)`` and ``step(x, state)``
for decoding. :class:`TorchModel` does the rest, the same way for every core, so
architectures differ only where they really differ.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnbench.memory import cuda_peak, saved_tensors
from rnnbench.model_api import Batch, MemoryReading, Model, ModelConfig

TORCH_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}

#: The dtypes a TorchModel can train in, per device. Not float16: its parameters and Adam's
#: moments are float16 too, and Adam's second moment (1 - beta2)·g² underflows to 0 for
#: |g| below about 8e-3, while eps = 1e-8 rounds to 0 as well, so the first update divides
#: 0 by 0 (the built-in models all reach a NaN loss at step 1, on any device). float16
#: training needs float32 master weights and loss scaling, which TorchModel does not do;
#: forward and decode run in float16 correctly.
TRAIN_DTYPES = {device: ("float32", "float64", "bfloat16") for device in ("cpu", "cuda")}
FLOAT16_NOTE = ("float16 cannot train here: Adam's float16 update divides 0 by 0 at the first step (no float32"
                " master weights or loss scaling); train in bfloat16 instead, or time float16 with"
                " --scenarios forward,decode")


@dataclass
class TorchBatch:
    """A batch as tensors on the model's device (built outside timed regions)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor


class SequenceNet(nn.Module):
    """Input layer -> core -> linear head; the shape every rnnbench model shares."""

    def __init__(self, config: ModelConfig, core: nn.Module):
        super().__init__()
        if config.input_kind == "tokens":
            self.embed: nn.Module = nn.Embedding(config.input_size, config.hidden)
        else:
            self.embed = nn.Linear(config.input_size, config.hidden)
        self.core = core
        self.head = nn.Linear(config.hidden, config.output_size)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.core(self.embed(inputs)))

    def step(self, inputs: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        hidden, state = self.core.step(self.embed(inputs), state)
        return self.head(hidden), state


def masked_loss(outputs: torch.Tensor, batch: TorchBatch, kind: str) -> torch.Tensor:
    """Mean loss over the masked positions: cross-entropy (nats) or squared error.

    Computed in float32 for 16-bit models (as mixed-precision training does), and in
    the model's own precision otherwise, so float64 models are float64 end to end.
    """
    if outputs.dtype in (torch.float16, torch.bfloat16):
        outputs = outputs.float()
    mask = batch.mask.to(outputs.dtype)
    if kind == "cross_entropy":
        per_position = F.cross_entropy(
            outputs.reshape(-1, outputs.shape[-1]), batch.targets.reshape(-1), reduction="none"
        ).view_as(mask)
    else:
        per_position = ((outputs - batch.targets.to(outputs.dtype)) ** 2).mean(dim=-1)
    return (per_position * mask).sum() / mask.sum().clamp_min(1.0)


def recurrent_flops(gates: int, hidden: int, input_size: int, seq_len: int, batch: int) -> float:
    """2·B·T·G·H·(I+H): the gate pre-activations of one recurrent layer's forward."""
    return 2.0 * batch * seq_len * gates * hidden * (input_size + hidden)


class TorchModel(Model):
    """A :class:`rnnbench.Model` around a :class:`SequenceNet`, trained with Adam."""

    def __init__(self, config: ModelConfig, make_core: Callable[[ModelConfig], nn.Module],
                 core_flops: Callable[[int, int], float], facts: dict[str, Any] | None = None,
                 init_net: Callable[[SequenceNet], None] | None = None):
        """``init_net``, when given, re-initialises the built network (before it is moved to the
        device): a model whose reference initialises its embedding differently says so here, so
        that every other model keeps the shared defaults (nn.Embedding N(0, 1), nn.Linear's)."""
        if config.dtype not in TORCH_DTYPES:
            raise ValueError(f"unsupported dtype {config.dtype}")
        self.config = config
        self.device = torch.device(config.device)
        self.dtype = TORCH_DTYPES[config.dtype]
        self._facts = dict(facts or {})
        if self.device.type == "cuda":
            # cuDNN and cuBLAS may use TF32 for float32 on Ampere+: off, for float32 parity.
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
            self._facts["tf32"] = False
        torch.manual_seed(config.seed)
        net = SequenceNet(config, make_core(config))
        if init_net is not None:
            init_net(net)
        self.net = net.to(device=self.device, dtype=self.dtype)
        self._core_flops = core_flops
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)

    # -- the model contract ----------------------------------------------------------------
    def to_device(self, batch: Batch) -> TorchBatch:
        inputs = torch.from_numpy(np.ascontiguousarray(batch.inputs)).to(self.device)
        if self.config.input_kind == "features":
            inputs = inputs.to(self.dtype)
        targets = torch.from_numpy(np.ascontiguousarray(batch.targets)).to(self.device)
        mask = torch.from_numpy(np.ascontiguousarray(batch.mask, dtype=np.float32)).to(self.device)
        return TorchBatch(inputs, targets, mask)

    def train_step(self, batch: TorchBatch) -> float:
        self.net.train()
        outputs = self.net(batch.inputs)
        loss = masked_loss(outputs, batch, self.config.loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return float(loss.item())

    def set_learning_rate(self, lr: float) -> None:
        for group in self.optimizer.param_groups:  # what torch.optim.lr_scheduler does, by the runner's clock
            group["lr"] = lr

    def forward(self, batch: TorchBatch) -> torch.Tensor:
        self.net.eval()
        with torch.inference_mode():
            return self.net(batch.inputs)

    def predict(self, batch: TorchBatch) -> np.ndarray:
        outputs = self.forward(batch)
        if outputs.dtype in (torch.float16, torch.bfloat16):  # NumPy has no bfloat16
            outputs = outputs.float()
        return outputs.cpu().numpy()

    def init_state(self, batch_size: int) -> Any:
        return self.net.core.init_state(batch_size, self.device, self.dtype)

    def step(self, inputs: TorchBatch, state: Any) -> tuple[torch.Tensor, Any]:
        self.net.eval()
        with torch.inference_mode():
            return self.net.step(inputs.inputs, state)

    def state_bytes(self, state: Any) -> int:
        """Bytes of the storages the decoding state keeps alive, each counted once.

        Counting storages, not views, means a state that is a slice of a larger
        buffer (a preallocated cache, a view into a fused projection) is charged
        for the whole buffer it holds on to.
        """
        seen: set[tuple[int, int]] = set()
        total = 0
        for tensor in state_tensors(state):
            storage = tensor.untyped_storage()
            key = (storage.data_ptr(), storage.nbytes())
            if key not in seen:
                seen.add(key)
                total += int(storage.nbytes())
        return total

    def state_gradients(self, batch: TorchBatch) -> np.ndarray:
        """Per example and position, ‖∂L/∂h_t‖₂ through the core's ``probe_forward``.

        The core returns, for each position, the tensors it carries past it (each
        ``[B, ...]`` and used downstream, so autograd gives the total gradient). The
        probe runs on a float64 copy of the network, so that the small norms of a
        vanishing gradient are not lost to float32's range; the weights are the same.
        """
        probe = getattr(self.net.core, "probe_forward", None)
        if probe is None:
            raise NotImplementedError(
                f"the core {type(self.net.core).__name__} has no probe_forward(x) exposing its per-position states")
        net = copy.deepcopy(self.net).to(torch.float64).eval()
        inputs = batch.inputs.to(torch.float64) if self.config.input_kind == "features" else batch.inputs
        with torch.enable_grad():
            core_out, states = net.core.probe_forward(net.embed(inputs))
            loss = masked_loss(net.head(core_out), batch, self.config.loss)
            # a state tensor nothing differentiable reaches (a bool flag, a position) has no gradient
            flat = [tensor for group in states for tensor in group if tensor.requires_grad]
            grads = iter(torch.autograd.grad(loss, flat, allow_unused=True))
        norms = []
        for group in states:
            squared = torch.zeros(batch.inputs.shape[0], dtype=torch.float64, device=self.device)
            for tensor in group:
                grad = next(grads) if tensor.requires_grad else None
                if grad is not None:  # unused: the loss does not depend on it
                    squared = squared + grad.reshape(grad.shape[0], -1).pow(2).sum(dim=1)
            norms.append(squared.sqrt())
        return torch.stack(norms, dim=1).cpu().numpy()

    def length_extension(self, seq_len: int) -> str:
        describe = getattr(self.net.core, "length_extension", None)
        if describe is None:
            return super().length_extension(seq_len)
        return describe(seq_len, self.config.max_seq_len)

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.net.parameters() if p.requires_grad)

    def flops(self, seq_len: int, batch_size: int, training: bool = False) -> float:
        head = 2.0 * batch_size * seq_len * self.config.hidden * self.config.output_size
        embed = 0.0 if self.config.input_kind == "tokens" else \
            2.0 * batch_size * seq_len * self.config.input_size * self.config.hidden
        forward = self._core_flops(seq_len, batch_size) + head + embed
        return 3.0 * forward if training else forward  # backward ≈ twice the forward

    def memory_meter(self, scenario: str) -> contextlib.AbstractContextManager[MemoryReading]:
        if self.device.type == "cuda":
            return cuda_peak(str(self.device))
        if scenario == "train":
            return saved_tensors()
        return super().memory_meter(scenario)

    def describe(self) -> dict[str, Any]:
        return {**self._facts, "torch": torch.__version__, "device": str(self.device)}


def state_tensors(obj: Any):
    """Every tensor inside nested tuples, lists and dicts, in order (a decoding state's tensors)."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from state_tensors(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from state_tensors(value)
