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

import torch
import torch.nn.functional as F

from rnnbench.torch_model import state_tensors

LOW_PRECISION = (torch.float16, torch.bfloat16)


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float32 if x.dtype in LOW_PRECISION else x.dtype


def sequential_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = a_t ⊙ h_{t-1} + b_t over dim 1 of ``[B, T, ...]``, from ``h0`` (zeros when None)."""
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    states = []
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        states.append(h)
    return torch.stack(states, dim=1)


def log_space_scan(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """h_t = a_t ⊙ h_{t-1} + b_t from h_0 = 0, given log a_t and log b_t (b_t > 0), over dim 1."""
    dtype = log_b.dtype
    work = _compute_dtype(log_b)
    a_star = torch.cumsum(log_a.to(work), dim=1)
    log_h = a_star + torch.logcumsumexp(log_b.to(work) - a_star, dim=1)
    return torch.exp(log_h).to(dtype)


#: FLOPs per element of the state per position: sequential a·h + b is 2; the log-space
#: scan's cumsum 1, subtraction 1, logcumsumexp 3 (exp, add, log), addition 1 and exp 1.
SEQUENTIAL_SCAN_FLOPS = 2
LOG_SPACE_SCAN_FLOPS = 7


def causal_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Depthwise causal convolution over time: ``x [B, T, D]``, ``weight [D, 1, K]`` -> ``[B, T, D]``.

    y_t = Σ_{j<K} w_j ⊙ x_{t-K+1+j} (+ bias), with zeros before the sequence starts.
    """
    kernel = weight.shape[-1]
    padded = F.pad(x.transpose(1, 2), (kernel - 1, 0))
    return F.conv1d(padded, weight, bias, groups=x.shape[-1]).transpose(1, 2)


def causal_conv_step(x: torch.Tensor, window: torch.Tensor, weight: torch.Tensor,
                     bias: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One position of :func:`causal_conv`: ``x [B, D]``, ``window [B, D, K-1]`` (the last K-1 inputs).

    Returns ``(y [B, D], the new window)``; the window given is left untouched.
    """
    full = torch.cat([window, x.unsqueeze(-1)], dim=-1)  # [B, D, K]
    y = (full * weight.squeeze(1)).sum(-1)
    if bias is not None:
        y = y + bias
    return y, full[..., 1:].contiguous()


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


def recurrent_length_extension(seq_len: int, trained_len: int) -> str:
    return "recurrent: the state is carried step by step, so any length runs as is"
