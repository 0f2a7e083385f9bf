"""Compiled CPU loops of the linear recurrences (numba), on numpy arrays; autograd lives in fused_scans.py.

Two scans, each a forward and its own backward (and, further down, the same scans with their
gates fused in, the depthwise causal convolution, RMSNorm and the gated MLP's GELU(gate) ⊙ up):

* the diagonal recurrence ``h_t = a_t ⊙ h_{t-1} + b_t`` over ``[B, T, D]`` (minGRU, minLSTM,
  Hawk's RG-LRU). Its backward is the reverse scan ``g_t = ∂L/∂h_t + a_{t+1} ⊙ g_{t+1}``,
  ``∂L/∂b_t = g_t``, ``∂L/∂a_t = g_t ⊙ h_{t-1}``, ``∂L/∂h_0 = a_1 ⊙ g_1``.
* Mamba's selective scan with its readout and skip over ``[B, T, E]`` inputs, per channel e:
  ``h_t = exp(Δ_t A_e) ⊙ h_{t-1} + Δ_t u_t B_t`` (h ∈ R^N), ``y_t = h_tᵀ C_t + D_e u_t``. The loops
  run over the channels innermost (A transposed to [N, E]), on contiguous rows of all E channels,
  so that they vectorise without reassociation and no sum over N needs a horizontal add. The
  forward keeps h (float64) at the start of every CHUNK positions; the backward, chunk by chunk from
  the last, recomputes that chunk's states and decays from its checkpoint into a scratch of
  ``[CHUNK, N, E]`` (as mamba_ssm's CUDA kernel recomputes them; a working set that stays in cache
  whatever T) and runs its reverse scan: nothing of size ``[B, T, E, N]`` is kept.

The exponential of Mamba's decays is :func:`exp_`, a polynomial that the compiler can
vectorise (libm's exp is one call per element, about 5x slower here, and most of the scan's
time); it agrees with libm to 2 ulp.

The loops are serial (no ``parallel=True``): a numba thread pool would keep threads alive
beside torch's, and some layers spin after a parallel region, which would disturb the
timed regions of later cases; torch parallelises the GEMMs around the scans.
``cache=True`` stores the machine code beside this file (or in numba's user cache), so a
process pays the compilation once per machine, not once per run.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def _bits_to_float(typingctx, bits):
    """The float64 whose IEEE bits are the int64 ``bits`` (a register move, not a conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _float_to_bits(typingctx, x):
    """The IEEE bits of the float64 ``x`` as an int64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _bits_to_float32(typingctx, bits):
    """The float32 whose IEEE bits are the low 32 of the int64 ``bits``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.trunc(args[0], ir.IntType(32)), ir.FloatType())
    return types.float32(types.int64), codegen


@intrinsic
def _float32_to_bits(typingctx, x):
    """The IEEE bits of the float32 ``x``, as an int64."""
    def codegen(context, builder, signature, args):
        return builder.sext(builder.bitcast(args[0], ir.IntType(32)), ir.IntType(64))
    return types.int64(types.float32), codegen


LOG2E = 1.4426950408889634
LN2_HI = 0.6931471803691238  # ln 2 split in two, so that k·ln 2 is exact for |k| < 2**21 (Cody & Waite)
LN2_LO = 1.9082149292705877e-10
ROUND = 6755399441055744.0   # 1.5·2**52: adding it rounds to an integer, held in the low bits


#: for the selective scan's loops: reassociation lets the sums over the state vectorise; no
#: assumption about NaN or infinity (exp_, which rounds by adding ROUND, is compiled without it)
FAST = {"reassoc", "contract", "nsz", "arcp"}


@numba.njit(cache=True, inline="always")
def exp_(x):
    """e**x in float64 for x in [-708, 709] (clamped there), to 2 ulp, without a libm call.

    e**x = 2**k · e**r with k = round(x / ln 2) and |r| <= ln 2 / 2; e**r by its Taylor
    polynomial to r**13 (truncation below 1e-17), 2**k built from its exponent bits.
    """
    x = min(max(x, -708.0), 709.0)
    shifted = x * LOG2E + ROUND
    k = shifted - ROUND
    r = (x - k * LN2_HI) - k * LN2_LO
    p = 1.0 / 6227020800.0  # 1/13!; Horner's rule, written out so that the compiler vectorises it
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _bits_to_float((_float_to_bits(shifted) - _float_to_bits(ROUND) + 1023) << 52)


@numba.njit(cache=True, fastmath=False)
def diagonal_scan_forward(a, b, h0, out):
    """a, b, out [B, T, D]; h0 [B, D]: out_t = a_t * out_{t-1} + b_t from h0."""
    batch, length, width = b.shape
    for i in range(batch):
        h = h0[i].copy()
        for t in range(length):
            for d in range(width):
                h[d] = a[i, t, d] * h[d] + b[i, t, d]
                out[i, t, d] = h[d]


@numba.njit(cache=True, fastmath=False)
def diagonal_scan_backward(a, h0, states, grad, grad_a, grad_b, grad_h0):
    """The reverse scan: fills grad_a, grad_b [B, T, D] and grad_h0 [B, D] from grad = ∂L/∂out."""
    batch, length, width = grad.shape
    for i in range(batch):
        acc = np.zeros_like(h0[i])  # a_{t+1} ⊙ g_{t+1}, zero past the end
        for t in range(length - 1, -1, -1):
            for d in range(width):
                g = grad[i, t, d] + acc[d]
                grad_b[i, t, d] = g
                grad_a[i, t, d] = g * (states[i, t - 1, d] if t > 0 else h0[i, d])
                acc[d] = g * a[i, t, d]
        for d in range(width):
            grad_h0[i, d] = acc[d]


#: positions between the forward's checkpoints of h, which the backward recomputes a chunk at a time into
#: a scratch of states and decays, [CHUNK, N, E] each (1 MiB in float32 at N = 16, E = 256). Narrower
#: scratches by blocks of channels measured slower: the loops over 16 channels ran 3.7x slower than over 256.
CHUNK = 32


@numba.njit(cache=True, error_model="numpy")
def selective_scan_forward(dt_pre, u, A_t, Bm, Cm, D, z, delta, y, out, checkpoints):
    """Mamba's step size, scan, readout, skip and output gate: dt_pre, u, z [B, T, E] (Δ's pre-activation,
    the scan's input, the gate branch); A_t [E, N] transposed, [N, E]; Bm, Cm [B, T, N]; D [E]. Writes
    delta = softplus(dt_pre), y (the readout with its skip) and out = y ⊙ SiLU(z), each [B, T, E], and
    checkpoints [B, ⌈T / CHUNK⌉, N, E] (float64): h_{t-1} at every t that is a multiple of CHUNK.

    Position by position over all E channels at once (h [N, E] in float64): the loops over the channels
    are innermost and contiguous, so the compiler vectorises them, exp included.
    """
    batch, length, channels = u.shape
    n_state = A_t.shape[0]
    h = np.empty((n_state, channels))
    acc = np.empty(channels)
    for i in range(batch):
        h[:] = 0.0
        for t in range(length):
            if t % CHUNK == 0:
                checkpoints[i, t // CHUNK] = h
            _softplus_row(dt_pre[i, t], delta[i, t])
            _skip_row(u[i, t], D, acc)
            for n in range(n_state):
                _forward_row(delta[i, t], A_t[n], u[i, t], Bm[i, t, n], Cm[i, t, n], h[n], acc)
            _silu_gate_row(acc, z[i, t], y[i, t], out[i, t])


@numba.njit(cache=True, inline="always", error_model="numpy")
def log_(x):
    """The natural log of x >= 1 (finite), to about 2 ulp, without a libm call: x = m·2^k with m in
    [√½, √2) from the exponent bits, log m = 2 atanh(s), s = (m - 1)/(m + 1), |s| < 0.172, by its series to
    s**23 (truncation below 1e-18)."""
    bits = _float_to_bits(x)
    k = ((bits >> 52) & 0x7FF) - 1023
    m = _bits_to_float((bits & 0xFFFFFFFFFFFFF) | 0x3FF0000000000000)  # in [1, 2)
    big = m > 1.4142135623730951
    m = m * 0.5 if big else m
    kf = k + 1.0 if big else k * 1.0
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = 1.0 / 23.0  # Horner's rule, written out so that the compiler vectorises it
    p = p * s2 + 1.0 / 21.0
    p = p * s2 + 1.0 / 19.0
    p = p * s2 + 1.0 / 17.0
    p = p * s2 + 1.0 / 15.0
    p = p * s2 + 1.0 / 13.0
    p = p * s2 + 1.0 / 11.0
    p = p * s2 + 1.0 / 9.0
    p = p * s2 + 1.0 / 7.0
    p = p * s2 + 1.0 / 5.0
    p = p * s2 + 1.0 / 3.0
    p = p * s2 + 1.0
    return kf * LN2_HI + (2.0 * s * p + kf * LN2_LO)


@numba.njit(cache=True, inline="always", error_model="numpy")
def softplus_(x):
    """F.softplus (β = 1, threshold 20): x above 20, else log1p(e^x), and its slope σ(x); log1p(y) as
    log(1 + y) corrected by the rounding of 1 + y."""
    y = exp_(min(x, 20.0))
    w = 1.0 + y
    log1p = log_(w) - ((w - 1.0) - y) / w
    return (x if x > 20.0 else log1p), (1.0 if x > 20.0 else y / w)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _softplus_row(dt_pre, delta):
    for e in range(delta.shape[0]):
        delta[e], _ = softplus_(dt_pre[e] * 1.0)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _silu_gate_row(acc, z, y, out):
    for e in range(acc.shape[0]):
        y[e] = acc[e]
        out[e] = acc[e] * (z[e] * sigmoid_(z[e] * 1.0))


@numba.njit(cache=True, inline="always", error_model="numpy")
def _skip_row(u, D, acc):
    for e in range(acc.shape[0]):
        acc[e] = D[e] * u[e]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _forward_row(delta, A, u, b, c, h, acc):
    """One state index n over the channels: h = exp(Δ A) h + Δ u b, and y += h c (no fastmath: exp_)."""
    for e in range(h.shape[0]):
        h[e] = exp_(delta[e] * A[e]) * h[e] + delta[e] * u[e] * b
        acc[e] += h[e] * c


@numba.njit(cache=True, error_model="numpy")
def selective_scan_backward(dt_pre, delta, u, A_t, Bm, Cm, D, z, y, checkpoints, grad, grad_dt_pre, grad_u, grad_A_t,
                            grad_B, grad_C, grad_D, grad_z):
    """The backward of :func:`selective_scan_forward` from grad = ∂L/∂out (delta, y and checkpoints its
    outputs), chunk by chunk from the last: the chunk's states and decays recomputed from its checkpoint
    into a scratch of [CHUNK, N, E], then its reverse scan.

    grad_dt_pre, grad_u, grad_z [B, T, E] are written; grad_A_t [N, E], grad_B, grad_C [B, T, N] and
    grad_D [E] are accumulated into (the caller passes zeros, in float64).
    """
    batch, length, channels = u.shape
    n_state = A_t.shape[0]
    states = np.empty((CHUNK + 1, n_state, channels), dtype=A_t.dtype)  # h_{t0-1}, then h_t of one chunk
    decays = np.empty((CHUNK, n_state, channels), dtype=A_t.dtype)      # exp(Δ_t A)
    h = np.empty((n_state, channels))
    g = np.empty((n_state, channels))   # ∂L/∂h_t through later positions
    sums = np.empty((2, channels))      # ∂L/∂Δ_t and ∂L/∂u_t of one position
    grad_y = np.empty((length, channels))      # ∂L/∂y of one sequence
    grad_delta = np.empty((length, channels))  # ∂L/∂Δ of one sequence
    for i in range(batch):
        for t in range(length):
            _silu_gate_back_row(z[i, t], y[i, t], grad[i, t], grad_y[t], grad_z[i, t])
        g[:] = 0.0
        for c in range((length + CHUNK - 1) // CHUNK - 1, -1, -1):
            t0, t1 = c * CHUNK, min(c * CHUNK + CHUNK, length)
            h[:] = checkpoints[i, c]
            _chunk_states(delta[i], u[i], A_t, Bm[i], t0, t1, h, states, decays)
            _reverse_chunk(delta[i], u[i], A_t, Bm[i], Cm[i], D, grad_y, t0, t1, states, decays, g, sums,
                           grad_delta, grad_u[i], grad_A_t, grad_B[i], grad_C[i], grad_D)
        for t in range(length):
            _softplus_back_row(dt_pre[i, t], grad_delta[t], grad_dt_pre[i, t])


@numba.njit(cache=True, inline="always", error_model="numpy")
def _silu_gate_back_row(z, y, grad, grad_y, grad_z):
    for e in range(grad.shape[0]):
        s = sigmoid_(z[e] * 1.0)
        grad_y[e] = grad[e] * (z[e] * s)
        grad_z[e] = grad[e] * y[e] * (s * (1.0 + z[e] * (1.0 - s)))


@numba.njit(cache=True, inline="always", error_model="numpy")
def _softplus_back_row(dt_pre, grad_delta, grad_dt_pre):
    for e in range(grad_delta.shape[0]):
        _, slope = softplus_(dt_pre[e] * 1.0)
        grad_dt_pre[e] = grad_delta[e] * slope


@numba.njit(cache=True, error_model="numpy")
def _chunk_states(delta, u, A_t, Bm, t0, t1, h, states, decays):
    """states[0] = h = h_{t0-1}, then states[1 + t - t0] = h_t and decays[t - t0] for t in t0..t1 of one
    sequence, from the checkpoint in h."""
    states[0] = h
    for t in range(t0, t1):
        for n in range(A_t.shape[0]):
            _state_row(delta[t], A_t[n], u[t], Bm[t, n], h[n], states[1 + t - t0, n], decays[t - t0, n])


@numba.njit(cache=True, inline="always", error_model="numpy")
def _state_row(delta, A, u, b, h, states, decays):
    """As :func:`_forward_row`, keeping h and exp(Δ A) (no fastmath: exp_)."""
    for e in range(h.shape[0]):
        decay = exp_(delta[e] * A[e])
        h[e] = decay * h[e] + delta[e] * u[e] * b
        states[e] = h[e]
        decays[e] = decay


@numba.njit(cache=True, fastmath=FAST, error_model="numpy")
def _reverse_chunk(delta, u, A_t, Bm, Cm, D, grad_y, t0, t1, states, decays, g, sums, grad_delta, grad_u,
                   grad_A_t, grad_B, grad_C, grad_D):
    """The reverse scan over positions t1 - 1 down to t0 of one sequence (fastmath: the sums over channels
    vectorise; no exp here)."""
    d_delta, d_u = sums[0], sums[1]
    for t in range(t1 - 1, t0 - 1, -1):
        _skip_grad_row(grad_y[t], u[t], D, d_delta, d_u, grad_D)
        for n in range(A_t.shape[0]):
            gb, gc = _reverse_row(grad_y[t], delta[t], u[t], A_t[n], Bm[t, n], Cm[t, n], states[1 + t - t0, n],
                                  states[t - t0, n], decays[t - t0, n], g[n], d_delta, d_u, grad_A_t[n])
            grad_B[t, n] += gb
            grad_C[t, n] += gc
        for e in range(d_delta.shape[0]):
            grad_delta[t, e] = d_delta[e]
            grad_u[t, e] = d_u[e]


@numba.njit(cache=True, inline="always", fastmath=FAST, error_model="numpy")
def _skip_grad_row(gy, u, D, d_delta, d_u, grad_D):
    for e in range(gy.shape[0]):
        d_delta[e] = 0.0
        d_u[e] = gy[e] * D[e]
        grad_D[e] += gy[e] * u[e]


@numba.njit(cache=True, inline="always", fastmath=FAST, error_model="numpy")
def _reverse_row(gy, delta, u, A, b, c, states, previous, decays, g, d_delta, d_u, grad_A):
    """One state index n over the block's channels; returns its shares of ∂L/∂B_t[n] and ∂L/∂C_t[n]."""
    gb = 0.0
    gc = 0.0
    for e in range(g.shape[0]):
        gc += gy[e] * states[e]
        gh = g[e] + gy[e] * c                  # total ∂L/∂h_t
        d_decay = gh * previous[e] * decays[e]  # ∂L/∂(Δ_t A)
        d_delta[e] += d_decay * A[e] + gh * u[e] * b
        grad_A[e] += d_decay * delta[e]
        d_u[e] += gh * delta[e] * b
        gb += gh * delta[e] * u[e]
        g[e] = gh * decays[e]
    return gb, gc


# --- gated scans: the gates' elementwise chain fused with the diagonal scan ---------------------------
#
# Each takes the projections' output (the gates' pre-activations) and writes the states, and its
# backward writes the gradient of that one pre-activation tensor: no a_t, b_t, σ(·) or √(1 - a²)
# tensor is formed or saved (the backward recomputes them per element from the pre-activations,
# which costs a few multiply-adds), and no chunk/cat of the gates' gradients. The loops over the
# channels are innermost and free of libm calls (exp_, expm1_near_zero_), so that the compiler vectorises
# them; ``error_model="numpy"`` lets a division by zero give inf instead of raising, without which
# the check before every division keeps the loops scalar (7x slower here). The arithmetic is in
# float64 whatever the storage, but for the RG-LRU (``_row32`` and ``_back_row32``), the gated MLP's GELU
# and the convolution, which compute a float32 model in float32 as torch does; sums over batch and time
# still end in float64 (:func:`_flush_into`). The states are stored in the array's dtype.


@numba.njit(cache=True, inline="always", error_model="numpy")
def expm1_near_zero_(x):
    """e**x - 1 for |x| < 1/4 by its Taylor polynomial to x**12 (truncation below 1e-17 relative)."""
    p = 1.0 / 479001600.0
    p = p * x + 1.0 / 39916800.0
    p = p * x + 1.0 / 3628800.0
    p = p * x + 1.0 / 362880.0
    p = p * x + 1.0 / 40320.0
    p = p * x + 1.0 / 5040.0
    p = p * x + 1.0 / 720.0
    p = p * x + 1.0 / 120.0
    p = p * x + 1.0 / 24.0
    p = p * x + 1.0 / 6.0
    p = p * x + 0.5
    p = p * x + 1.0
    return p * x


@numba.njit(cache=True, inline="always", error_model="numpy")
def sigmoid_(x):
    return 1.0 / (1.0 + exp_(-x))


@numba.njit(cache=True, inline="always", error_model="numpy")
def min_g_(x):
    """minGRU/minLSTM's g(x) = x + 1/2 for x >= 0, σ(x) below, and its derivative."""
    s = sigmoid_(x)
    value = x + 0.5 if x >= 0 else s
    slope = 1.0 if x >= 0 else s * (1.0 - s)
    return value, slope


@numba.njit(cache=True, error_model="numpy")
def min_rnn_forward(pre, out, lstm):
    """pre [B, T, P·D] (k_z, k_h for minGRU; k_f, k_i, k_h for minLSTM, ``lstm``), out [B, T, D]: the
    states from h_0 = 0 of h_t = a_t h_{t-1} + b_t with minGRU's a = 1 - z, b = z g(k_h), or
    minLSTM's a = f / (f + i), b = i / (f + i) g(k_h)."""
    batch, length, width = out.shape
    h = np.zeros(width)
    for n in range(batch):
        h[:] = 0.0
        for t in range(length):
            if lstm:
                _min_lstm_row(pre[n, t, :width], pre[n, t, width:2 * width], pre[n, t, 2 * width:], h, out[n, t])
            else:
                _min_gru_row(pre[n, t, :width], pre[n, t, width:], h, out[n, t])


# The row functions take one position's 1-d contiguous rows: over those the compiler proves the
# accesses independent and vectorises, where the same loop on [B, T, D] indexing stays scalar.


@numba.njit(cache=True, inline="always", error_model="numpy")
def _min_lstm_row(k_f, k_i, k_h, h, out):
    for d in range(h.shape[0]):
        f = sigmoid_(k_f[d])
        i = sigmoid_(k_i[d])
        gh, _ = min_g_(k_h[d])
        s = f + i
        h[d] = f / s * h[d] + i / s * gh
        out[d] = h[d]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _min_gru_row(k_z, k_h, h, out):
    for d in range(h.shape[0]):
        z = sigmoid_(k_z[d])
        gh, _ = min_g_(k_h[d])
        h[d] = (1.0 - z) * h[d] + z * gh
        out[d] = h[d]


@numba.njit(cache=True, error_model="numpy")
def min_rnn_backward(pre, states, grad, grad_pre, lstm):
    """The reverse scan of :func:`min_rnn_forward`: grad_pre [B, T, P·D] from grad = ∂L/∂out."""
    batch, length, width = grad.shape
    acc = np.zeros(width)  # a_{t+1} ∂L/∂h_{t+1}, zero past the end
    zero = np.zeros(width, dtype=states.dtype)  # h_0
    for n in range(batch):
        acc[:] = 0.0
        for t in range(length - 1, -1, -1):
            previous = states[n, t - 1] if t > 0 else zero
            if lstm:
                _min_lstm_back_row(pre[n, t, :width], pre[n, t, width:2 * width], pre[n, t, 2 * width:], previous,
                                   grad[n, t], acc, grad_pre[n, t, :width], grad_pre[n, t, width:2 * width],
                                   grad_pre[n, t, 2 * width:])
            else:
                _min_gru_back_row(pre[n, t, :width], pre[n, t, width:], previous, grad[n, t], acc,
                                  grad_pre[n, t, :width], grad_pre[n, t, width:])


@numba.njit(cache=True, inline="always", error_model="numpy")
def _min_lstm_back_row(k_f, k_i, k_h, previous, grad, acc, grad_f, grad_i, grad_h):
    for d in range(acc.shape[0]):
        g = grad[d] + acc[d]
        f = sigmoid_(k_f[d])
        i = sigmoid_(k_i[d])
        gh, slope = min_g_(k_h[d])
        s = f + i
        # a = f/s, b = (i/s) g: ∂a/∂f = i/s², ∂a/∂i = -f/s², ∂(i/s)/∂f = -i/s², ∂(i/s)/∂i = f/s²
        net = g * previous[d] - g * gh  # ∂L/∂a - g(k_h) ∂L/∂b
        grad_f[d] = net * i / (s * s) * f * (1.0 - f)
        grad_i[d] = -net * f / (s * s) * i * (1.0 - i)
        grad_h[d] = g * i / s * slope
        acc[d] = g * (f / s)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _min_gru_back_row(k_z, k_h, previous, grad, acc, grad_z, grad_h):
    for d in range(acc.shape[0]):
        g = grad[d] + acc[d]
        z = sigmoid_(k_z[d])
        gh, slope = min_g_(k_h[d])
        grad_z[d] = (g * gh - g * previous[d]) * z * (1.0 - z)
        grad_h[d] = g * z * slope
        acc[d] = g * (1.0 - z)


SQRT1_2 = 0.7071067811865476
INV_SQRT_2PI = 0.3989422804014327


@numba.njit(cache=True, inline="always", error_model="numpy")
def gelu_(x):
    """GELU(x) = x Φ(x) (erf's exact form, F.gelu's default) and its slope Φ(x) + x φ(x), in float64 with
    libm's erf (for float64 storage: one call per element, not vectorised)."""
    cdf = 0.5 * (1.0 + math.erf(x * SQRT1_2))
    return x * cdf, cdf + x * (INV_SQRT_2PI * exp_(-0.5 * x * x))


F32 = np.float32
EXP32_MIN, EXP32_MAX = F32(-87.0), F32(88.0)
LOG2E_32, ROUND_32 = F32(LOG2E), F32(12582912.0)  # 1.5·2**23
LN2_HI_32, LN2_LO_32 = F32(0.693359375), F32(-2.12194440e-4)  # Cody & Waite's split of ln 2 (Cephes expf)
EXP32_POLY = tuple(F32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                                    1.6666665459e-1, 5.0000001201e-1))
AS_POLY = tuple(F32(c) for c in (0.3275911, 1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))
ONE_32, HALF_32 = F32(1.0), F32(0.5)
SQRT1_2_32, INV_SQRT_2PI_32 = F32(SQRT1_2), F32(INV_SQRT_2PI)


@numba.njit(cache=True, inline="always", error_model="numpy")
def exp32_(x):
    """e**x in float32 arithmetic (Cephes expf: Cody–Waite reduction, a degree-6 polynomial; within 2 ulp of
    float32), 2**k built from exponent bits: 16 lanes a vector where float64 gives 8."""
    x = min(max(x, EXP32_MIN), EXP32_MAX)
    shifted = x * LOG2E_32 + ROUND_32
    k = shifted - ROUND_32
    r = (x - k * LN2_HI_32) - k * LN2_LO_32
    c0, c1, c2, c3, c4, c5 = EXP32_POLY
    p = ((((c0 * r + c1) * r + c2) * r + c3) * r + c4) * r + c5
    e = p * r * r + r + ONE_32
    return e * _bits_to_float32((_float32_to_bits(shifted) - _float32_to_bits(ROUND_32) + 127) << 23)


@numba.njit(cache=True, inline="always", error_model="numpy")
def sigmoid32_(x):
    """σ(x) in float32 arithmetic (x a float32)."""
    return ONE_32 / (ONE_32 + exp32_(-x))


@numba.njit(cache=True, inline="always", error_model="numpy")
def gelu32_(x):
    """:func:`gelu_` for float32 storage in float32 arithmetic: x a float32; erf by the polynomial of torch's
    float32 CPU erf (Abramowitz & Stegun 7.1.26, within 1.5e-7), as torch's float32 GELU computes it."""
    gauss = exp32_(-HALF_32 * x * x)  # e^(-x²/2): φ(x)·√(2π), and erf's e^(-z²) at z = x/√2
    p, c5, c4, c3, c2, c1 = AS_POLY  # c_k: the coefficient of t**k
    t = ONE_32 / (ONE_32 + p * abs(x * SQRT1_2_32))
    r = ONE_32 - t * (c1 + t * (c2 + t * (c3 + t * (c4 + t * c5)))) * gauss
    cdf = HALF_32 * (ONE_32 + (r if x >= 0 else -r))
    return x * cdf, cdf + x * (INV_SQRT_2PI_32 * gauss)


EXPM1_32_POLY = tuple(F32(1.0 / math.factorial(k)) for k in range(8, 0, -1))  # 1/8!, ..., 1/1!
QUARTER_32, TWO_32 = F32(0.25), F32(2.0)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _rg_lru_coefficients32(gate_r, gate_i, log_base, first):
    """:func:`_rg_lru_coefficients` for float32 storage in float32 arithmetic (float32 arguments): 16 lanes
    a vector; e**x - 1 near 0 by its Taylor polynomial to x**8 (truncation below 1e-9 relative)."""
    r = sigmoid32_(gate_r)
    i = sigmoid32_(gate_i)
    log_a = log_base * r
    a = exp32_(log_a)
    x = TWO_32 * log_a
    c8, c7, c6, c5, c4, c3, c2, c1 = EXPM1_32_POLY
    expm1 = (((((((c8 * x + c7) * x + c6) * x + c5) * x + c4) * x + c3) * x + c2) * x + c1) * x
    one_minus_a2 = -expm1 if abs(x) < QUARTER_32 else ONE_32 - a * a
    scale = ONE_32 if first else np.sqrt(one_minus_a2)
    return r, i, a, scale


@numba.njit(cache=True, inline="always", error_model="numpy")
def _rg_lru_coefficients(gate_r, gate_i, log_base, first):
    """σ(r), σ(i), a = exp(log_base σ(r)) and s = √(1 - a²) (1 at the first position), in float64.

    1 - a² is -expm1(2 log a): its polynomial near 0, where a² - 1 would cancel, else a² - 1.
    """
    r = sigmoid_(gate_r)
    i = sigmoid_(gate_i)
    log_a = log_base * r
    a = exp_(log_a)
    x = 2.0 * log_a
    one_minus_a2 = -expm1_near_zero_(x) if abs(x) < 0.25 else 1.0 - a * a
    scale = 1.0 if first else np.sqrt(one_minus_a2)
    return r, i, a, scale


@numba.njit(cache=True, error_model="numpy")
def rg_lru_forward(gates, u, log_base, gate, states, out, exact):
    """Hawk's RG-LRU from h_0 = 0 (the state reset at t = 0) and its block's gate branch: gates [B, T, 2D] the
    pre-activations of r and i, u [B, T, D], log_base [D] = -c·softplus(-Λ), gate [B, T, D] the gate
    branch's pre-activation; states [B, T, D] = h_t, out [B, T, D] = h_t ⊙ GELU(gate_t)::

        log a_t = log_base ⊙ σ(r_t),  h_t = a_t ⊙ h_{t-1} + s_t ⊙ σ(i_t) ⊙ u_t,
        s_t = √(1 - a_t²) for t > 0, s_0 = 1.

    ``exact`` (float64 storage): float64 arithmetic and libm's erf (:func:`gelu_`); else float32 arithmetic
    throughout (:func:`_rg_lru_coefficients32`, :func:`gelu32_`), as torch's float32 path computes it: one
    float64 value in the loop halves its vector width.
    """
    batch, length, width = u.shape
    h = np.zeros(width, dtype=u.dtype)
    for n in range(batch):
        h[:] = 0.0
        for t in range(length):
            if exact:
                _rg_lru_row(gates[n, t, :width], gates[n, t, width:], u[n, t], log_base, gate[n, t], h, states[n, t],
                            out[n, t], t == 0)
            else:
                _rg_lru_row32(gates[n, t, :width], gates[n, t, width:], u[n, t], log_base, gate[n, t], h,
                              states[n, t], out[n, t], t == 0)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _rg_lru_row(gate_r, gate_i, u, log_base, gate, h, states, out, first):
    for d in range(h.shape[0]):
        r, i, a, scale = _rg_lru_coefficients(gate_r[d], gate_i[d], log_base[d], first)
        h[d] = a * h[d] + scale * (i * u[d])
        states[d] = h[d]
        value, _ = gelu_(gate[d])
        out[d] = h[d] * value


@numba.njit(cache=True, inline="always", error_model="numpy")
def _rg_lru_row32(gate_r, gate_i, u, log_base, gate, h, states, out, first):
    for d in range(h.shape[0]):
        r, i, a, scale = _rg_lru_coefficients32(F32(gate_r[d]), F32(gate_i[d]), F32(log_base[d]), first)
        h[d] = F32(a * h[d] + scale * (i * F32(u[d])))
        states[d] = h[d]
        value, _ = gelu32_(F32(gate[d]))
        out[d] = h[d] * value


#: the backward adds its float32 sums of ∂L/∂log_base into the float64 total every GRAD_FLUSH positions, so
#: that no float32 sum runs over more than that many terms (the loop keeps float32's vector width)
GRAD_FLUSH = 32


@numba.njit(cache=True, inline="always", error_model="numpy")
def _flush_into(total, partial):
    """total (float64) += partial, a sum kept in the storage's dtype over at most GRAD_FLUSH positions; partial
    starts again from 0."""
    for d in range(partial.shape[0]):
        total[d] += partial[d]
        partial[d] = 0.0


@numba.njit(cache=True, error_model="numpy")
def rg_lru_backward(gates, u, log_base, gate, states, grad, grad_gates, grad_u, grad_log_base, grad_gate, exact):
    """The reverse scan of :func:`rg_lru_forward`: writes grad_gates [B, T, 2D], grad_u and grad_gate
    [B, T, D] and adds into grad_log_base [D] (float64), from grad = ∂L/∂out; a, σ(·), s and GELU
    recomputed; arithmetic as the forward's for ``exact``."""
    batch, length, width = u.shape
    acc = np.zeros(width, dtype=u.dtype)  # a_{t+1} ∂L/∂h_{t+1}
    partial = np.zeros(width, dtype=u.dtype)  # ∂L/∂log_base over the positions since the last flush
    zero = np.zeros(width, dtype=states.dtype)  # h_0
    for n in range(batch):
        acc[:] = 0.0
        for t in range(length - 1, -1, -1):
            previous = states[n, t - 1] if t > 0 else zero
            if exact:
                _rg_lru_back_row(gates[n, t, :width], gates[n, t, width:], u[n, t], log_base, gate[n, t],
                                 states[n, t], previous, grad[n, t], acc, grad_gates[n, t, :width],
                                 grad_gates[n, t, width:], grad_u[n, t], partial, grad_gate[n, t], t == 0)
            else:
                _rg_lru_back_row32(gates[n, t, :width], gates[n, t, width:], u[n, t], log_base, gate[n, t],
                                   states[n, t], previous, grad[n, t], acc, grad_gates[n, t, :width],
                                   grad_gates[n, t, width:], grad_u[n, t], partial, grad_gate[n, t], t == 0)
            if t % GRAD_FLUSH == 0:
                _flush_into(grad_log_base, partial)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _rg_lru_back_row(gate_r, gate_i, u, log_base, gate, state, previous, grad, acc, grad_r, grad_i, grad_u,
                     grad_log_base, grad_gate, first):
    for d in range(acc.shape[0]):
        r, i, a, scale = _rg_lru_coefficients(gate_r[d], gate_i[d], log_base[d], first)
        value, slope = gelu_(gate[d])
        grad_gate[d] = grad[d] * state[d] * slope
        d_scale = 0.0 if first else -(a * a) / scale  # ∂s/∂log a
        g = grad[d] * value + acc[d]
        d_log_a = g * previous[d] * a + g * (i * u[d]) * d_scale
        grad_log_base[d] += d_log_a * r
        grad_r[d] = d_log_a * log_base[d] * r * (1.0 - r)
        gs = g * scale
        grad_i[d] = gs * u[d] * i * (1.0 - i)
        grad_u[d] = gs * i
        acc[d] = g * a


@numba.njit(cache=True, inline="always", error_model="numpy")
def _rg_lru_back_row32(gate_r, gate_i, u, log_base, gate, state, previous, grad, acc, grad_r, grad_i, grad_u,
                       grad_log_base, grad_gate, first):
    """:func:`_rg_lru_back_row` in float32 arithmetic (float32 arrays). A copy rather than an ``exact`` flag:
    numba types both branches of a flag, and a float64 constant in one would widen the other's float32 values."""
    for d in range(acc.shape[0]):
        r, i, a, scale = _rg_lru_coefficients32(gate_r[d], gate_i[d], log_base[d], first)
        value, slope = gelu32_(gate[d])
        grad_d, u_d = grad[d], u[d]
        grad_gate[d] = grad_d * state[d] * slope
        d_scale = F32(0.0) if first else -(a * a) / scale
        g = grad_d * value + acc[d]
        d_log_a = g * previous[d] * a + g * (i * u_d) * d_scale
        grad_log_base[d] += d_log_a * r
        grad_r[d] = d_log_a * log_base[d] * r * (ONE_32 - r)
        gs = g * scale
        grad_i[d] = gs * u_d * i * (ONE_32 - i)
        grad_u[d] = gs * i
        acc[d] = g * a


# --- the depthwise causal convolution ----------------------------------------------------------------


@numba.njit(cache=True, error_model="numpy")
def causal_conv_forward(x, weight, bias, out, silu, exact):
    """out_t = act(bias + Σ_j weight_j ⊙ x_{t-K+1+j}) (zeros before t = 0) over x, out [B, T, D];
    weight [K, D], bias [D]; act is SiLU when ``silu``, else the identity. Arithmetic in the storage's
    dtype (``exact``: float64), as torch's convolution computes it."""
    batch, length, width = x.shape
    y = np.empty(width, dtype=x.dtype)
    for n in range(batch):
        for t in range(length):
            _conv_row(x[n], weight, bias, t, y)
            if not silu:
                out[n, t] = y
            elif exact:
                for d in range(width):
                    out[n, t, d] = y[d] * sigmoid_(y[d])
            else:
                for d in range(width):
                    out[n, t, d] = y[d] * sigmoid32_(y[d])


@numba.njit(cache=True, inline="always", error_model="numpy")
def _conv_row(x, weight, bias, t, y):
    """y = bias + Σ_j weight_j ⊙ x_{t-K+1+j} of one sequence x [T, D] (the loops over D innermost)."""
    kernel = weight.shape[0]
    for d in range(y.shape[0]):
        y[d] = bias[d]
    for j in range(max(0, kernel - 1 - t), kernel):
        for d in range(y.shape[0]):
            y[d] += weight[j, d] * x[t - kernel + 1 + j, d]


@numba.njit(cache=True, error_model="numpy")
def causal_conv_backward(x, weight, bias, grad, grad_x, grad_weight, grad_bias, silu, exact):
    """The backward of :func:`causal_conv_forward`: writes grad_x, adds into grad_weight [K, D] and
    grad_bias [D] (float64, from sums in the storage's dtype over GRAD_FLUSH positions at a time); the
    pre-activation is recomputed for SiLU's derivative."""
    batch, length, width = x.shape
    kernel = weight.shape[0]
    pre_grad = np.empty((length, width), dtype=x.dtype)  # ∂L/∂(the convolution's output) of one sequence
    y = np.empty(width, dtype=x.dtype)
    gx = np.empty(width, dtype=x.dtype)
    weight_partial = np.zeros((kernel, width), dtype=x.dtype)
    for n in range(batch):
        for t in range(length):
            if not silu:
                pre_grad[t] = grad[n, t]
            else:
                _conv_row(x[n], weight, bias, t, y)
                if exact:
                    _silu_back_row(y, grad[n, t], pre_grad[t])
                else:
                    _silu_back_row32(y, grad[n, t], pre_grad[t])
        _add_column_sums(pre_grad, grad_bias)
        for t in range(length):
            gx[:] = 0.0
            for j in range(max(0, t + kernel - length), kernel):  # x_t feeds out_{t+K-1-j}
                for d in range(width):
                    gx[d] += weight[j, d] * pre_grad[t + kernel - 1 - j, d]
                    weight_partial[j, d] += pre_grad[t + kernel - 1 - j, d] * x[n, t, d]
            grad_x[n, t] = gx
            if (t + 1) % GRAD_FLUSH == 0 or t == length - 1:
                for j in range(kernel):
                    _flush_into(grad_weight[j], weight_partial[j])


@numba.njit(cache=True, inline="always", error_model="numpy")
def _silu_back_row(y, grad, pre_grad):
    for d in range(y.shape[0]):
        s = sigmoid_(y[d])
        pre_grad[d] = grad[d] * (s * (1.0 + y[d] * (1.0 - s)))


@numba.njit(cache=True, inline="always", error_model="numpy")
def _silu_back_row32(y, grad, pre_grad):
    for d in range(y.shape[0]):
        s = sigmoid32_(y[d])
        pre_grad[d] = grad[d] * (s * (ONE_32 + y[d] * (ONE_32 - s)))


@numba.njit(cache=True, inline="always", error_model="numpy")
def _add_column_sums(rows, total):
    """total [D] (float64) += the column sums of rows [T, D], summed in rows' dtype GRAD_FLUSH rows at a time."""
    partial = np.zeros(rows.shape[1], dtype=rows.dtype)
    for t in range(rows.shape[0]):
        for d in range(rows.shape[1]):
            partial[d] += rows[t, d]
        if (t + 1) % GRAD_FLUSH == 0 or t == rows.shape[0] - 1:
            _flush_into(total, partial)


# --- RMSNorm ----------------------------------------------------------------------------------------
#
# torch's F.rms_norm is composite on a CPU (pow, mean, add, rsqrt, two multiplications, and as many
# ops again in its backward, each a [rows, D] tensor): about 3x LayerNorm's fused kernel. One pass
# per row here, the inverse RMS kept per row for the backward.


@numba.njit(cache=True, fastmath=FAST, error_model="numpy")
def rms_norm_forward(x, weight, eps, out, inv_rms):
    """x, out [R, D]; weight [D]; inv_rms [R] (float64): out = x / √(mean(x²) + eps) ⊙ weight."""
    for r in range(x.shape[0]):
        inv_rms[r] = _rms_row(x[r], weight, eps, out[r])


@numba.njit(cache=True, inline="always", fastmath=FAST, error_model="numpy")
def _rms_row(x, weight, eps, out):
    width = x.shape[0]
    squares = 0.0
    for d in range(width):
        squares += x[d] * 1.0 * x[d]
    inv = 1.0 / np.sqrt(squares / width + eps)
    for d in range(width):
        out[d] = x[d] * inv * weight[d]
    return inv


@numba.njit(cache=True, fastmath=FAST, error_model="numpy")
def rms_norm_backward(x, weight, inv_rms, grad, grad_x, grad_weight):
    """grad_x [R, D] from grad = ∂L/∂out; adds into grad_weight [D] (float64). With s = 1/rms:
    ∂L/∂x = s ⊙ weight ⊙ grad - x · s³ · mean(grad ⊙ weight ⊙ x)."""
    for r in range(x.shape[0]):
        _rms_back_row(x[r], weight, inv_rms[r], grad[r], grad_x[r], grad_weight)


@numba.njit(cache=True, inline="always", fastmath=FAST, error_model="numpy")
def _rms_back_row(x, weight, inv, grad, grad_x, grad_weight):
    width = x.shape[0]
    projection = 0.0
    for d in range(width):
        projection += grad[d] * 1.0 * weight[d] * x[d]
    correction = projection * inv * inv * inv / width
    for d in range(width):
        grad_x[d] = grad[d] * 1.0 * weight[d] * inv - x[d] * correction
        grad_weight[d] += grad[d] * 1.0 * x[d] * inv


# --- the gated MLP's activation ------------------------------------------------------------------------
#
# GELU(gate) ⊙ up from the up projection's output [R, 2W] (gate, up), and its backward into one
# [R, 2W] gradient: torch runs it as GELU on a strided view, a product, and backward two products, GELU's
# backward and the cat of the two halves, each a fresh [R, W] or [R, 2W] tensor.

@numba.njit(cache=True, error_model="numpy")
def gated_gelu_forward(proj, out, exact):
    """proj [R, 2W] (gate, up), out [R, W]: out = GELU(gate) ⊙ up."""
    width = out.shape[1]
    for r in range(out.shape[0]):
        if exact:
            _gated_gelu_row(proj[r, :width], proj[r, width:], out[r], True)
        else:
            _gated_gelu_row(proj[r, :width], proj[r, width:], out[r], False)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _gated_gelu_row(gate, up, out, exact):
    for d in range(out.shape[0]):
        if exact:  # a constant where this is inlined: the loop keeps one branch
            value, _ = gelu_(gate[d] * 1.0)
            out[d] = value * up[d]
        else:
            value32, _ = gelu32_(F32(gate[d]))
            out[d] = value32 * F32(up[d])


@numba.njit(cache=True, error_model="numpy")
def gated_gelu_backward(proj, grad, grad_proj, exact):
    """grad_proj [R, 2W] = (∂L/∂gate, ∂L/∂up) from grad = ∂L/∂out [R, W]; GELU recomputed from proj."""
    width = grad.shape[1]
    for r in range(grad.shape[0]):
        if exact:
            _gated_gelu_back_row(proj[r, :width], proj[r, width:], grad[r], grad_proj[r, :width],
                                 grad_proj[r, width:], True)
        else:
            _gated_gelu_back_row(proj[r, :width], proj[r, width:], grad[r], grad_proj[r, :width],
                                 grad_proj[r, width:], False)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _gated_gelu_back_row(gate, up, grad, grad_gate, grad_up, exact):
    for d in range(grad.shape[0]):
        if exact:
            value, slope = gelu_(gate[d] * 1.0)
            grad_gate[d] = grad[d] * up[d] * slope
            grad_up[d] = grad[d] * value
        else:
            value32, slope32 = gelu32_(F32(gate[d]))
            grad_gate[d] = F32(grad[d]) * F32(up[d]) * slope32
            grad_up[d] = F32(grad[d]) * value32
