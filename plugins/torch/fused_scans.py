"""The fused CPU scans as autograd functions, and the choice between them and the pure-torch forms.

``kernel=fused`` (the default of minGRU, minLSTM, Hawk and Mamba) runs each scan as one
compiled loop (scan_kernels.py, numba) with its own backward: no per-position torch ops,
no autograd graph over T, no exp/log per element for minGRU/minLSTM, and for Mamba no
``[B, T, E, N]`` tensor. minGRU's, minLSTM's and Hawk's gates are computed inside their scan
(:func:`min_rnn_scan`, and the RG-LRU's inside :func:`hawk_recurrent_block`: from the projections'
output to the states, and back in one reverse pass that recomputes the gates; Hawk's with its block's GELU
gate branch), the causal convolution (with Mamba's SiLU) is one pass (:func:`fused_causal_conv`), and
Hawk's and Mamba's RMSNorm is :class:`FusedRMSNorm`; each elementwise op these replace allocated its output
and again in its backward. Hawk's recurrent block and gated MLP run by blocks of rows
(:func:`hawk_recurrent_block`, :func:`gated_mlp`), GEMMs and compiled passes back to back per block.
``kernel=torch`` runs the pure-torch forms (the models' ``scan``
option chooses which), the reference the tests hold the fused kernels to. The fused
kernels are CPU only: a model on CUDA, or a process where numba does not import, runs the
torch path, and the case's facts record the kernel that ran.

float32 and float64 are scanned natively; float16 and bfloat16 inputs are scanned in
float32 and cast back, as recurrence.py does.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from rnnbench.plugins.torch.recurrence import LOW_PRECISION, FeedForward

_NOT_LOADED = object()
#: the compiled kernels, imported on first use: numba's import (about 0.4 s, and scipy with it) is then
#: not paid by commands that only list the models; None where numba is missing or broken
scan_kernels = _NOT_LOADED
UNAVAILABLE_REASON = ""

KERNELS = ("fused", "torch")
KERNEL_HELP = ("fused (compiled CPU scan with its own backward, numba; the torch path on CUDA or without numba)"
               " or torch (the pure-torch scan chosen by `scan`)")
log = logging.getLogger(__name__)
_warned = False


def _kernels():
    global scan_kernels, UNAVAILABLE_REASON
    if scan_kernels is _NOT_LOADED:
        try:
            from rnnbench.plugins.torch import scan_kernels as module
        except ImportError as error:  # numba missing or broken: the torch path runs
            scan_kernels, UNAVAILABLE_REASON = None, f"{type(error).__name__}: {error}"
        else:
            scan_kernels = module
    return scan_kernels


def fused_available() -> bool:
    return _kernels() is not None


def resolve_kernel(requested: str, device: str) -> str:
    """The kernel that will run: ``fused`` only on CPU with numba; says so once when numba is missing."""
    global _warned
    if requested != "fused" or torch.device(device).type != "cpu":
        return "torch"
    if fused_available():
        return "fused"
    if not _warned:
        _warned = True
        log.warning("rnnbench: numba is unavailable (%s); the modern recurrences run their pure-torch scans",
                    UNAVAILABLE_REASON)
    return "torch"


def _np(x: torch.Tensor):
    """The numpy view of a contiguous CPU tensor (the kernels read and write through it)."""
    return x.detach().numpy()


class _DiagonalScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, h0):
        out = torch.empty_like(b)
        _kernels().diagonal_scan_forward(_np(a), _np(b), _np(h0), _np(out))
        ctx.save_for_backward(a, h0, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, h0, out = ctx.saved_tensors
        grad = grad.contiguous()
        grad_a, grad_b, grad_h0 = torch.empty_like(a), torch.empty_like(a), torch.empty_like(h0)
        _kernels().diagonal_scan_backward(_np(a), _np(h0), _np(out), _np(grad),
                                            _np(grad_a), _np(grad_b), _np(grad_h0))
        return grad_a, grad_b, grad_h0


def diagonal_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = a_t ⊙ h_{t-1} + b_t over dim 1 of ``[B, T, D]`` from ``h0`` ``[B, D]`` (zeros when None)."""
    dtype = b.dtype
    work = torch.float32 if dtype in LOW_PRECISION else dtype
    a, b = a.to(work), b.to(work)
    h0 = b.new_zeros(b.shape[0], b.shape[2]) if h0 is None else h0.to(work)
    # contiguous copies enter the Function; autograd routes their gradients back through .contiguous()
    return _DiagonalScan.apply(a.contiguous(), b.contiguous(), h0.contiguous()).to(dtype)


class _SelectiveScan(torch.autograd.Function):
    """dt_pre, u, z [B, T, E]; A [E, N]; B, C [B, T, N]; D [E] -> out [B, T, E]."""

    @staticmethod
    def forward(ctx, dt_pre, u, A, B, C, D, z):
        kernels = _kernels()
        delta, y, out = torch.empty_like(u), torch.empty_like(u), torch.empty_like(u)
        A_t = A.t().contiguous()  # [N, E]: the kernels' loops run over the channels
        chunks = -(-u.shape[1] // kernels.CHUNK)
        checkpoints = torch.empty(u.shape[0], chunks, *A_t.shape, dtype=torch.float64)  # h every CHUNK positions
        kernels.selective_scan_forward(_np(dt_pre), _np(u), _np(A_t), _np(B), _np(C), _np(D), _np(z),
                                       _np(delta), _np(y), _np(out), _np(checkpoints))
        ctx.save_for_backward(dt_pre, delta, u, A_t, B, C, D, z, y, checkpoints)
        return out

    @staticmethod
    def backward(ctx, grad):
        dt_pre, delta, u, A_t, B, C, D, z, y, checkpoints = ctx.saved_tensors
        grad_dt_pre, grad_u, grad_z = torch.empty_like(u), torch.empty_like(u), torch.empty_like(u)
        # the sums over batch, time and channels accumulate in float64
        grad_A_t, grad_B, grad_C, grad_D = (torch.zeros(x.shape, dtype=torch.float64) for x in (A_t, B, C, D))
        _kernels().selective_scan_backward(
            _np(dt_pre), _np(delta), _np(u), _np(A_t), _np(B), _np(C), _np(D), _np(z), _np(y), _np(checkpoints),
            _np(grad.contiguous()), _np(grad_dt_pre), _np(grad_u), _np(grad_A_t), _np(grad_B), _np(grad_C),
            _np(grad_D), _np(grad_z))
        return (grad_dt_pre, grad_u, grad_A_t.t().to(A_t.dtype), grad_B.to(B.dtype), grad_C.to(C.dtype),
                grad_D.to(D.dtype), grad_z)


def selective_scan(dt_pre: torch.Tensor, u: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                   D: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Mamba's gated scan output ``y_t ⊙ SiLU(z_t)``, ``y_t = h_tᵀ C_t + D ⊙ u_t``,
    ``h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t u_t B_t`` from h_0 = 0, with Δ = softplus(dt_pre) (F.softplus's
    threshold 20), in one compiled pass and one backward.

    dt_pre, u, z [B, T, E]; A [E, N]; B, C [B, T, N]; D [E] -> [B, T, E], in u's dtype.
    """
    return _SelectiveScan.apply(*_work(dt_pre, u, A, B, C, D, z)).to(u.dtype)


def _work(*tensors: torch.Tensor) -> list[torch.Tensor]:
    """Contiguous copies in the kernels' dtype (float32 for float16/bfloat16), for a Function's inputs."""
    dtype = tensors[0].dtype
    work = torch.float32 if dtype in LOW_PRECISION else dtype
    return [t.to(work).contiguous() for t in tensors]


class _MinRNN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pre, lstm):
        out = pre.new_empty(pre.shape[0], pre.shape[1], pre.shape[2] // (3 if lstm else 2))
        _kernels().min_rnn_forward(_np(pre), _np(out), lstm)
        ctx.lstm = lstm
        ctx.save_for_backward(pre, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        pre, out = ctx.saved_tensors
        grad_pre = torch.empty_like(pre)
        _kernels().min_rnn_backward(_np(pre), _np(out), _np(grad.contiguous()), _np(grad_pre), ctx.lstm)
        return grad_pre, None


def min_rnn_scan(pre: torch.Tensor, cell: str) -> torch.Tensor:
    """minGRU's or minLSTM's states h_1..h_T from h_0 = 0, gates and scan in one compiled pass.

    ``pre`` [B, T, P·D] is the projection's output: (k_z, k_h) for ``cell="mingru"``, (k_f, k_i, k_h)
    for ``"minlstm"``; the coefficients a_t, b_t are those of minrnn.MinRNNLayer.coefficients.
    """
    (work,) = _work(pre)
    return _MinRNN.apply(work, cell == "minlstm").to(pre.dtype)


class _CausalConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, silu):
        out = torch.empty_like(x)
        _kernels().causal_conv_forward(_np(x), _np(weight), _np(bias), _np(out), silu, x.dtype == torch.float64)
        ctx.silu = silu
        ctx.save_for_backward(x, weight, bias)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight, bias = ctx.saved_tensors
        grad_x = torch.empty_like(x)
        grad_weight = torch.zeros(weight.shape, dtype=torch.float64)  # sums over batch and time
        grad_bias = torch.zeros(bias.shape, dtype=torch.float64)
        _kernels().causal_conv_backward(_np(x), _np(weight), _np(bias), _np(grad.contiguous()), _np(grad_x),
                                          _np(grad_weight), _np(grad_bias), ctx.silu, x.dtype == torch.float64)
        return grad_x, grad_weight.to(weight.dtype), grad_bias.to(bias.dtype), None


def fused_causal_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, silu: bool = False) -> torch.Tensor:
    """recurrence.causal_conv (then SiLU when ``silu``) as one compiled pass with its own backward.

    x [B, T, D], weight [D, 1, K] (nn.Conv1d's, applied causally), bias [D] -> [B, T, D].
    """
    x_w, weight_w, bias_w = _work(x, weight.squeeze(1).t(), bias)  # weight as [K, D]: the loops run over D
    return _CausalConv.apply(x_w, weight_w, bias_w, silu).to(x.dtype)


class _RMSNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, eps):
        out = torch.empty_like(x)
        inv_rms = torch.empty(x.shape[0], dtype=torch.float64)
        _kernels().rms_norm_forward(_np(x), _np(weight), eps, _np(out), _np(inv_rms))
        ctx.save_for_backward(x, weight, inv_rms)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight, inv_rms = ctx.saved_tensors
        grad_x = torch.empty_like(x)
        grad_weight = torch.zeros(weight.shape, dtype=torch.float64)  # a sum over rows
        _kernels().rms_norm_backward(_np(x), _np(weight), _np(inv_rms), _np(grad.contiguous()), _np(grad_x),
                                       _np(grad_weight))
        return grad_x, grad_weight.to(weight.dtype), None


class FusedRMSNorm(nn.RMSNorm):
    """nn.RMSNorm (same parameter, same eps rule: the input dtype's machine epsilon when eps is None) whose
    forward over the last dimension is one compiled pass with its own backward on a CPU; elsewhere, or
    without numba or an elementwise weight, nn.RMSNorm's own forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (scan_kernels is None or x.device.type != "cpu" or self.weight is None
                or len(self.normalized_shape) != 1):
            return super().forward(x)
        eps = torch.finfo(x.dtype).eps if self.eps is None else self.eps
        rows = x.reshape(-1, x.shape[-1])
        rows_w, weight_w = _work(rows, self.weight)
        return _RMSNorm.apply(rows_w, weight_w, float(eps)).to(x.dtype).reshape(x.shape)


#: rows per block of the blocked passes (the gated MLP's; Hawk's recurrent block takes whole sequences of about
#: as many rows, one at least): a block's intermediates, e.g. the MLP's (gate, up) output, [512, 6d] float32
#: (1.5 MiB at d = 128), are still in cache when the next stage reads them and again, with their gradients, in
#: the backward; as one [B·T, ·] pass each went out to memory between stages. Measured on the 2-core CPU, 1
#: thread, at [16, 256, 128] (thread CPU time, interleaved rounds): the MLP's forward and backward 58 ms by 256
#: or 512 rows against 66 ms unblocked; Hawk's train step 0.980-0.986x its step with the recurrent block as two
#: unblocked compiled passes at 512 or 1024 rows, 0.995x at 256 (median of 41 paired rounds, twice each):
#: smaller blocks make each GEMM too short to reach its rate and add Python work per block.
BLOCK_ROWS = 512


class _GatedMLP(torch.autograd.Function):
    """x [R, d] -> W_down (GELU(gate) ⊙ up) + b_down with (gate, up) = W_up x + b_up, [R, 2W], by blocks of
    BLOCK_ROWS rows: each block's up GEMM, activation and down GEMM run back to back, and in the backward its
    down GEMMs, the activation's backward and its up GEMMs. Saves x, (gate, up) and the activation, as
    autograd does for FeedForward."""

    @staticmethod
    def forward(ctx, x, w_up, b_up, w_down, b_down):
        kernels, exact = _kernels(), x.dtype == torch.float64
        proj = x.new_empty(x.shape[0], w_up.shape[0])
        act = x.new_empty(x.shape[0], w_down.shape[1])
        out = x.new_empty(x.shape[0], w_down.shape[0])
        for rows in _row_blocks(x.shape[0]):
            torch.addmm(b_up, x[rows], w_up.t(), out=proj[rows])
            kernels.gated_gelu_forward(_np(proj[rows]), _np(act[rows]), exact)
            torch.addmm(b_down, act[rows], w_down.t(), out=out[rows])
        ctx.save_for_backward(x, w_up, w_down, proj, act)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, w_up, w_down, proj, act = ctx.saved_tensors
        kernels, exact = _kernels(), x.dtype == torch.float64
        grad = grad.contiguous()
        grad_x = torch.empty_like(x)
        grad_w_up, grad_w_down = torch.zeros_like(w_up), torch.zeros_like(w_down)
        grad_b_up = x.new_zeros(w_up.shape[0])
        block = min(x.shape[0], BLOCK_ROWS)
        grad_act, grad_proj = x.new_empty(block, act.shape[1]), x.new_empty(block, proj.shape[1])
        for rows in _row_blocks(x.shape[0]):
            g, n = grad[rows], rows.stop - rows.start
            grad_w_down.addmm_(g.t(), act[rows])
            torch.mm(g, w_down, out=grad_act[:n])
            kernels.gated_gelu_backward(_np(proj[rows]), _np(grad_act[:n]), _np(grad_proj[:n]), exact)
            grad_w_up.addmm_(grad_proj[:n].t(), x[rows])
            grad_b_up += grad_proj[:n].sum(0)
            torch.mm(grad_proj[:n], w_up, out=grad_x[rows])
        return grad_x, grad_w_up, grad_b_up, grad_w_down, grad.sum(0)


def _row_blocks(rows: int):
    return [slice(start, min(start + BLOCK_ROWS, rows)) for start in range(0, rows, BLOCK_ROWS)]


def gated_mlp(x: torch.Tensor, up: nn.Linear, down: nn.Linear) -> torch.Tensor:
    """``down(GELU(gate) ⊙ up)`` with ``(gate, up) = up(x)`` over the last dimension of x, as
    recurrence.FeedForward (gated) computes it, in blocks of rows with the activation compiled
    (:class:`_GatedMLP`). GELU is F.gelu's erf form: erf is libm's for float64; for float32 (and
    float16/bfloat16, computed in float32) the vectorisable polynomial of torch's own float32 kernel,
    within 1.5e-7."""
    rows = x.reshape(-1, x.shape[-1])
    work = _work(rows, up.weight, up.bias, down.weight, down.bias)
    out = _GatedMLP.apply(*work).to(x.dtype)
    return out.reshape(*x.shape[:-1], down.out_features)


class FusedGatedFeedForward(FeedForward):
    """recurrence.FeedForward, gated (same parameters), run as :func:`gated_mlp` on a CPU with numba;
    elsewhere FeedForward's own forward."""

    def __init__(self, d: int, ratio: int, gated: bool = True):
        super().__init__(d, ratio, gated=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or not fused_available():
            return super().forward(x)
        return gated_mlp(x, self.up, self.down)


class _HawkRecurrentBlock(torch.autograd.Function):
    """Hawk's temporal-mixing block, x [B, T, d] -> W_o (RG-LRU(conv(W_u x)) ⊙ GELU(W_g x)) + b_o, by blocks of
    whole sequences (:func:`_sequence_blocks`): each block's W_g and W_u GEMMs, convolution, W_a GEMM, RG-LRU with
    the gate branch and W_o GEMM run back to back, and in the backward the same stages in reverse, one block's
    gradient buffers reused by every block. One autograd node where the block had eight (BLOCK_ROWS gives the
    measured effect: mostly fewer nodes and ops, a little cache). Saves what autograd saves for the same ops:
    x, the gate branch's and W_u's outputs, the convolution's, the gates' pre-activations, the states and
    h ⊙ GELU(gate)."""

    @staticmethod
    def forward(ctx, x, w_gate, b_gate, w_in, b_in, conv_w, conv_b, w_gates, b_gates, log_base, w_out, b_out):
        kernels, exact = _kernels(), x.dtype == torch.float64
        d = w_in.shape[0]
        gate, inp, u, states, mixed = (x.new_empty(x.shape[0], x.shape[1], d) for _ in range(5))
        gates = x.new_empty(x.shape[0], x.shape[1], 2 * d)
        out = x.new_empty(x.shape[0], x.shape[1], w_out.shape[0])
        # numpy views of the whole tensors, sliced per block (cheaper than slicing the tensors, then viewing)
        conv_w_, conv_b_, log_base_ = _np(conv_w), _np(conv_b), _np(log_base)
        gate_, inp_, u_, gates_, states_, mixed_ = (_np(t) for t in (gate, inp, u, gates, states, mixed))
        for s in _sequence_blocks(x.shape[0], x.shape[1]):
            rows = _rows(x[s])
            torch.addmm(b_gate, rows, w_gate.t(), out=_rows(gate[s]))
            torch.addmm(b_in, rows, w_in.t(), out=_rows(inp[s]))
            kernels.causal_conv_forward(inp_[s], conv_w_, conv_b_, u_[s], False, exact)
            torch.addmm(b_gates, _rows(u[s]), w_gates.t(), out=_rows(gates[s]))
            kernels.rg_lru_forward(gates_[s], u_[s], log_base_, gate_[s], states_[s], mixed_[s], exact)
            torch.addmm(b_out, _rows(mixed[s]), w_out.t(), out=_rows(out[s]))
        ctx.save_for_backward(x, w_gate, w_in, conv_w, conv_b, w_gates, log_base, w_out, gate, inp, u, gates,
                              states, mixed)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, w_gate, w_in, conv_w, conv_b, w_gates, log_base, w_out, gate, inp, u, gates, states, mixed = \
            ctx.saved_tensors
        kernels, exact = _kernels(), x.dtype == torch.float64
        grad = grad.contiguous()
        weights = (w_gate, w_in, w_gates, w_out)
        grad_w_gate, grad_w_in, grad_w_gates, grad_w_out = (torch.zeros_like(w) for w in weights)
        grad_b_gate, grad_b_in, grad_b_gates = (x.new_zeros(w.shape[0]) for w in weights[:3])
        # sums over batch and time, in float64 (the kernels add into them)
        grad_conv_w, grad_conv_b, grad_log_base = (torch.zeros(t.shape, dtype=torch.float64)
                                                   for t in (conv_w, conv_b, log_base))
        grad_x = torch.empty_like(x)
        blocks = _sequence_blocks(x.shape[0], x.shape[1])
        # one block's gradients, reused by every block: they stay in cache
        size = (blocks[0].stop - blocks[0].start if blocks else 0, x.shape[1])
        grad_mixed, grad_u, grad_gate, grad_inp = (x.new_empty(*size, u.shape[2]) for _ in range(4))
        grad_gates = x.new_empty(*size, gates.shape[2])
        conv_w_, conv_b_, log_base_ = _np(conv_w), _np(conv_b), _np(log_base)
        inp_, u_, gates_, gate_, states_ = (_np(t) for t in (inp, u, gates, gate, states))
        grad_conv_w_, grad_conv_b_, grad_log_base_ = _np(grad_conv_w), _np(grad_conv_b), _np(grad_log_base)
        for s in blocks:
            n = s.stop - s.start
            grad_mixed_, grad_gates_, grad_u_, grad_gate_, grad_inp_ = (
                _np(t[:n]) for t in (grad_mixed, grad_gates, grad_u, grad_gate, grad_inp))
            g = _rows(grad[s])
            grad_w_out.addmm_(g.t(), _rows(mixed[s]))
            torch.mm(g, w_out, out=_rows(grad_mixed[:n]))
            kernels.rg_lru_backward(gates_[s], u_[s], log_base_, gate_[s], states_[s], grad_mixed_, grad_gates_,
                                    grad_u_, grad_log_base_, grad_gate_, exact)
            g = _rows(grad_gates[:n])
            grad_w_gates.addmm_(g.t(), _rows(u[s]))
            grad_b_gates += g.sum(0)
            _rows(grad_u[:n]).addmm_(g, w_gates)  # u feeds the gates and, inside the RG-LRU, the input
            kernels.causal_conv_backward(inp_[s], conv_w_, conv_b_, grad_u_, grad_inp_, grad_conv_w_, grad_conv_b_,
                                         False, exact)
            rows, g_in, g_gate = _rows(x[s]), _rows(grad_inp[:n]), _rows(grad_gate[:n])
            grad_w_in.addmm_(g_in.t(), rows)
            grad_b_in += g_in.sum(0)
            grad_w_gate.addmm_(g_gate.t(), rows)
            grad_b_gate += g_gate.sum(0)
            torch.mm(g_in, w_in, out=_rows(grad_x[s])).addmm_(g_gate, w_gate)
        grad_b_out = _rows(grad).sum(0)
        return (grad_x, grad_w_gate, grad_b_gate, grad_w_in, grad_b_in, grad_conv_w.to(x.dtype),
                grad_conv_b.to(x.dtype), grad_w_gates, grad_b_gates, grad_log_base.to(x.dtype), grad_w_out,
                grad_b_out)


def _rows(x: torch.Tensor) -> torch.Tensor:
    """A contiguous [..., D] tensor as the [rows, D] view the GEMMs read and write."""
    return x.view(-1, x.shape[-1])


def _sequence_blocks(batch: int, length: int) -> list[slice]:
    """Slices over the batch of whole sequences, about BLOCK_ROWS rows each (one sequence at least): the scans
    run along a sequence, so a block of the recurrent block cannot split one."""
    sequences = max(1, BLOCK_ROWS // max(length, 1))
    return [slice(start, min(start + sequences, batch)) for start in range(0, batch, sequences)]


def hawk_recurrent_block(x: torch.Tensor, gate: nn.Linear, inp: nn.Linear, conv: nn.Conv1d, gates: nn.Linear,
                         log_base: torch.Tensor, out: nn.Linear) -> torch.Tensor:
    """hawk.RecurrentBlock's forward, ``out(RG-LRU(conv(inp(x))) ⊙ GELU(gate(x)))`` with the RG-LRU's gates
    ``gates(u)`` and ``log_base`` = -c·softplus(-Λ), as :class:`_HawkRecurrentBlock` computes it: the
    convolution, and the RG-LRU's gates, coefficients and scan with the gate branch's GELU, compiled, from
    h_0 = 0 with the first input unscaled (as recurrentgemma). x [B, T, d] -> [B, T, d]; GELU is F.gelu's erf
    form (:func:`gated_mlp` says which erf)."""
    work = _work(x, gate.weight, gate.bias, inp.weight, inp.bias, conv.weight.squeeze(1).t(), conv.bias,
                 gates.weight, gates.bias, log_base, out.weight, out.bias)  # the convolution's weight as [K, D]
    return _HawkRecurrentBlock.apply(*work).to(x.dtype)
