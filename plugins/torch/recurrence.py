"""What the linear recurrences of plugins/torch/ share: scans, a causal convolution, the gradient probe.

Every model here (minGRU, minLSTM, Hawk, Mamba, DeltaNet, xLSTM) carries a state
``h_t = a_t ⊙ h_{t-1} + b_t`` whose coefficients depend on the input only, never on
``h_{t-1}``; that is what lets training compute all positions at once. The two forms:

* :func:`sequential_scan`: the recurrence as written, one position after another;
* :func:`log_space_scan`: Heinsen (2023), "Efficient parallelization of a ubiquitous
  sequential computation": with ``a*_t = Σ_{s≤t} log a_s``,
  ``log h_t = a*_t + logsumexp_{s≤t}(log b_s - a*_s)`` (for ``b > 0``, ``h_0 = 0``),
  two cumulative operations over T (torch.cumsum, torch.logcumsumexp).

16-bit inputs are scanned in float32 (cumulative sums of thousands of bfloat16 logs
lose every digit) and cast back: the choice mixed-precision kernels make too.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from rnnbench.torch_model import state_tensors

LOW_PRECISION = (torch.float16, torch.bfloat16)


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float32 if x.dtype in LOW_PRECISION else x.dtype


def sequential_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = a_t ⊙ h_{t-1} + b_t over dim 1 of ``[B, T, ...]``, from ``h0`` (zeros when None)."""
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    states = []
    # unbound once, not indexed per position: each index's backward would add a zero tensor of
    # the whole [B, T, ...] input, which makes the backward O(T²)
    for a_t, b_t in zip(a.unbind(1), b.unbind(1)):
        h = a_t * h + b_t
        states.append(h)
    return torch.stack(states, dim=1)


def log_space_scan(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """h_t = a_t ⊙ h_{t-1} + b_t from h_0 = 0, given log a_t and log b_t (b_t > 0), over dim 1."""
    dtype = log_b.dtype
    work = _compute_dtype(log_b)
    a_star = torch.cumsum(log_a.to(work), dim=1)
    log_h = a_star + torch.logcumsumexp(log_b.to(work) - a_star, dim=1)
    return torch.exp(log_h).to(dtype)


def chunked_scan(a: torch.Tensor, b: torch.Tensor, chunk: int, h0: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = a_t ⊙ h_{t-1} + b_t from ``h0`` (zeros when None) over dim 1 of ``[B, T, ...]``, chunk by chunk.

    Within each chunk of ``chunk`` positions, a Hillis-Steele scan (log2(chunk) rounds of
    ``b_t += a_t·b_{t-k}``, ``a_t *= a_{t-k}``, k = 1, 2, 4, ...) gives every position's state
    from a zero start and the cumulative product of a; the chunks are then joined in order,
    ``h_t = b_t + (Π a)_t · h_end of the previous chunk``. Any sign of b works (the log-space
    scan needs b > 0), and only products of the a_t ∈ (0, 1] are formed, so nothing overflows.
    """
    dtype, work = b.dtype, _compute_dtype(b)
    a, b = a.to(work), b.to(work)
    batch, length = b.shape[:2]
    chunk = effective_chunk(chunk, length)
    pad = (-length) % chunk
    if pad:  # a = 1, b = 0 past the end: the padded positions carry the state unchanged
        a = torch.cat([a, a.new_ones(batch, pad, *a.shape[2:])], dim=1)
        b = torch.cat([b, b.new_zeros(batch, pad, *b.shape[2:])], dim=1)
    a = a.reshape(batch, -1, chunk, *a.shape[2:])
    b = b.reshape(batch, -1, chunk, *b.shape[2:])
    k = 1
    while k < chunk:
        b = torch.cat([b[:, :, :k], b[:, :, k:] + a[:, :, k:] * b[:, :, :-k]], dim=2)
        a = torch.cat([a[:, :, :k], a[:, :, k:] * a[:, :, :-k]], dim=2)
        k *= 2
    h_end = torch.zeros_like(b[:, 0, 0]) if h0 is None else h0.to(work)
    chunks = []
    for a_c, b_c in zip(a.unbind(1), b.unbind(1)):  # once, not indexed per chunk (see sequential_scan)
        h = b_c + a_c * h_end.unsqueeze(1)
        chunks.append(h)
        h_end = h[:, -1]
    return torch.cat(chunks, dim=1)[:, :length].to(dtype)


def effective_chunk(chunk: int, length: int) -> int:
    """A sequence shorter than a chunk is scanned as one chunk of the next power of two."""
    return min(chunk, 1 << max(0, length - 1).bit_length())


def chunked_scan_flops(chunk: int, length: int) -> float:
    """Per state element and position: 3 per Hillis-Steele round (multiply-add, multiply), 2 to join."""
    rounds = math.ceil(math.log2(effective_chunk(chunk, length))) if effective_chunk(chunk, length) > 1 else 0
    return 3.0 * rounds + 2.0


#: FLOPs per element of the state per position: sequential a·h + b is 2; the log-space
#: scan's cumsum 1, subtraction 1, logcumsumexp 3 (exp, add, log), addition 1 and exp 1.
SEQUENTIAL_SCAN_FLOPS = 2
LOG_SPACE_SCAN_FLOPS = 7


def causal_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Depthwise causal convolution over time: ``x [B, T, D]``, ``weight [D, 1, K]`` -> ``[B, T, D]``.

    y_t = Σ_{j<K} w_j ⊙ x_{t-K+1+j} (+ bias), with zeros before the sequence starts. Written
    as K shifted multiply-adds: for the short kernels used here (K = 4) this is what a
    depthwise kernel does, and F.conv1d's CPU path for groups = D loops over the channels.
    """
    kernel = weight.shape[-1]
    padded = F.pad(x, (0, 0, kernel - 1, 0))  # K-1 zeros before t = 0
    length = x.shape[1]
    w = weight.squeeze(1)  # [D, K]
    y = sum(padded[:, j:j + length] * w[:, j] for j in range(kernel))
    return y if bias is None else y + bias


def causal_conv_step(x: torch.Tensor, window: torch.Tensor, weight: torch.Tensor,
                     bias: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One position of :func:`causal_conv`: ``x [B, D]``, ``window [B, D, K-1]`` (the last K-1 inputs).

    Returns ``(y [B, D], the new window)``, the window given left untouched. y is computed
    from the new window (and the one input that leaves it), so that the window returned
    is what the output reads: the gradient probe's ∂L/∂window is then the total one.
    """
    new = torch.cat([window[..., 1:], x.unsqueeze(-1)], dim=-1)  # x_{t-K+2} .. x_t
    w = weight.squeeze(1)  # [D, K]
    y = window[..., 0] * w[:, 0] + (new * w[:, 1:]).sum(-1)
    return (y if bias is None else y + bias), new


def empty_window(batch: int, channels: int, kernel: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.zeros(batch, channels, kernel - 1, device=device, dtype=dtype)


def probe_by_steps(core: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[tuple[torch.Tensor, ...]]]:
    """``probe_forward`` for a core with ``init_state``/``step``: the decode recurrence, with gradients.

    Each position's state (every tensor ``step`` returns, every layer) is what the next
    step reads, so autograd's gradient with respect to it is the total ∂L/∂h_t through
    every later position, which a parallel scan's output would not give.
    """
    state = core.init_state(x.shape[0], x.device, x.dtype)
    outputs, per_position = [], []
    for t in range(x.shape[1]):
        out, state = core.step(x[:, t:t + 1], state)
        outputs.append(out)
        per_position.append(tuple(state_tensors(state)))
    return torch.cat(outputs, dim=1), per_position


def check_choice(options: dict, key: str, choices: tuple[str, ...]) -> None:
    """Refuse an option value outside ``choices`` (for a model's ``check_options``)."""
    if options[key] not in choices:
        raise ValueError(f"{key} must be one of {', '.join(choices)}, got {options[key]!r}")


def check_positive(options: dict, *keys: str) -> None:
    for key in keys:
        if options[key] < 1:
            raise ValueError(f"{key} must be at least 1, got {options[key]}")


def recurrent_length_extension(seq_len: int, trained_len: int) -> str:
    return "recurrent: the state is carried step by step, so any length runs as is"


class FeedForward(nn.Module):
    """The position-wise MLP of a block: W_2 act(W_1 x), or gated, W_2 (act(W_g x) ⊙ W_1 x)."""

    def __init__(self, d: int, ratio: int, gated: bool):
        super().__init__()
        self.gated = gated
        self.up = nn.Linear(d, (2 if gated else 1) * ratio * d)
        self.down = nn.Linear(ratio * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gated:
            gate, up = self.up(x).chunk(2, dim=-1)
            return self.down(F.gelu(gate) * up)
        return self.down(F.gelu(self.up(x)))

    def flops(self, tokens: int) -> float:
        return 2.0 * tokens * (self.up.in_features * self.up.out_features + self.down.in_features * self.down.out_features)


class MixerStack(nn.Module):
    """Pre-norm residual blocks, ``x ← x + mixer(norm(x))`` (then ``x ← x + mlp(norm(x))``), a final norm.

    A mixer maps ``[B, T, d] -> [B, T, d]`` in its parallel (or sequential) form and has
    ``init_state(batch, device, dtype)`` and ``step(x [B, 1, d], state) -> (y [B, 1, d], new
    state)``; the stack's state is the tuple of its mixers' states.
    """

    def __init__(self, mixers: list[nn.Module], d: int, mlp_ratio: int = 0, gated_mlp: bool = False,
                 norm: type[nn.Module] = nn.LayerNorm, feedforward: type[FeedForward] = FeedForward):
        super().__init__()
        self.mixers = nn.ModuleList(mixers)
        self.norms = nn.ModuleList(norm(d) for _ in mixers)
        self.mlps = nn.ModuleList(feedforward(d, mlp_ratio, gated_mlp) for _ in mixers) if mlp_ratio else None
        self.mlp_norms = nn.ModuleList(norm(d) for _ in mixers) if mlp_ratio else None
        self.norm_f = norm(d)

    def _mlp(self, k: int, x: torch.Tensor) -> torch.Tensor:
        return x if self.mlps is None else x + self.mlps[k](self.mlp_norms[k](x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k, (norm, mixer) in enumerate(zip(self.norms, self.mixers)):
            x = self._mlp(k, x + mixer(norm(x)))
        return self.norm_f(x)

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype) -> tuple:
        return tuple(mixer.init_state(batch, device, dtype) for mixer in self.mixers)

    def step(self, x: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        """x [B, 1, d]; returns the output and a new state, leaving ``state`` untouched."""
        new = []
        for k, (norm, mixer, carried) in enumerate(zip(self.norms, self.mixers, state)):
            y, carried = mixer.step(norm(x), carried)
            new.append(carried)
            x = self._mlp(k, x + y)
        return self.norm_f(x), tuple(new)

    def probe_forward(self, x: torch.Tensor):
        return probe_by_steps(self, x)

    def length_extension(self, seq_len: int, trained_len: int) -> str:
        return recurrent_length_extension(seq_len, trained_len)
