"""Compiled CPU loops of the linear recurrences (numba), on numpy arrays; autograd lives in fused_scans.py.

Two scans, each a forward and its own backward (and, further down, the same scans with their
gates fused in, the depthwise causal convolution and RMSNorm):

* the diagonal recurrence ``h_t = a_t ⊙ h_{t-1} + b_t`` over ``[B, T, D]`` (minGRU, minLSTM,
  Hawk's RG-LRU). Its backward is the reverse scan ``g_t = ∂L/∂h_t + a_{t+1} ⊙ g_{t+1}``,
  ``∂L/∂b_t = g_t``, ``∂L/∂a_t = g_t ⊙ h_{t-1}``, ``∂L/∂h_0 = a_1 ⊙ g_1``.
* Mamba's selective scan with its readout and skip, per channel e of ``[B, E, T]`` inputs:
  ``h_t = exp(Δ_t A_e) ⊙ h_{t-1} + Δ_t u_t B_t`` (h ∈ R^N), ``y_t = h_tᵀ C_t + D_e u_t``.
  The backward recomputes one channel's T states at a time into a scratch of ``[T, N]``
  (as mamba_ssm's CUDA kernel recomputes them): nothing of size ``[B, T, E, N]`` is kept.

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


@numba.njit(cache=True)
def selective_scan_forward(delta, u, A, Bm, Cm, D, y):
    """delta, u, y [B, T, E]; A [E, N]; Bm, Cm [B, T, N]; D [E]: Mamba's scan, its readout and skip."""
    batch, length, channels = u.shape
    h = np.zeros_like(A[0])
    decays = np.empty((length, A.shape[1]), dtype=A.dtype)   # exp(Δ_t A_e) of one channel
    for i in range(batch):
        for e in range(channels):
            _decays(delta[i, :, e], A[e], decays)
            _scan_channel(decays, delta[i, :, e], u[i, :, e], Bm[i], Cm[i], D[e], h, y[i, :, e])


@numba.njit(cache=True, fastmath=FAST)
def _scan_channel(decays, delta, u, Bm, Cm, D, h, y):
    """One channel's h_t = decays_t ⊙ h_{t-1} + Δ_t u_t B_t from zero and y_t = h_t C_t + D u_t.

    Compiled apart from :func:`_decays`: reassociation would undo exp_'s rounding by ROUND.
    """
    h[:] = 0
    for t in range(u.shape[0]):
        dtu = delta[t] * u[t]
        acc = 0.0
        for n in range(h.shape[0]):
            h[n] = decays[t, n] * h[n] + dtu * Bm[t, n]
            acc += h[n] * Cm[t, n]
        y[t] = acc + D * u[t]


@numba.njit(cache=True)
def _decays(delta, A, out):
    """out[t, n] = exp(delta[t] · A[n]): one channel's decays, a loop the compiler can vectorise."""
    for t in range(delta.shape[0]):
        for n in range(A.shape[0]):
            out[t, n] = exp_(delta[t] * A[n])


@numba.njit(cache=True)
def selective_scan_backward(delta, u, A, Bm, Cm, D, grad_y, grad_delta, grad_u, grad_A, grad_B, grad_C, grad_D):
    """The backward of :func:`selective_scan_forward`, states recomputed one channel at a time.

    grad_delta, grad_u [B, T, E] are written; grad_A [E, N], grad_B, grad_C [B, T, N] and
    grad_D [E] are accumulated into (the caller passes zeros, in float64).
    """
    batch, length, channels = u.shape
    n_state = A.shape[1]
    states = np.empty((length, n_state), dtype=A.dtype)   # h_t of one channel
    decays = np.empty((length, n_state), dtype=A.dtype)   # exp(Δ_t A_e)
    g = np.zeros_like(A[0])                                # ∂L/∂h_t through later positions
    h = np.zeros_like(A[0])
    for i in range(batch):
        for e in range(channels):
            _decays(delta[i, :, e], A[e], decays)
            _states_channel(decays, delta[i, :, e], u[i, :, e], Bm[i], h, states)
            grad_D[e] += _reverse_channel(decays, states, delta[i, :, e], u[i, :, e], A[e], Bm[i], Cm[i], D[e],
                                          grad_y[i, :, e], g, grad_delta[i, :, e], grad_u[i, :, e], grad_A[e],
                                          grad_B[i], grad_C[i])


@numba.njit(cache=True, fastmath=FAST)
def _states_channel(decays, delta, u, Bm, h, states):
    """states[t] = h_t of one channel, recomputed from zero."""
    h[:] = 0
    for t in range(u.shape[0]):
        dtu = delta[t] * u[t]
        for n in range(h.shape[0]):
            h[n] = decays[t, n] * h[n] + dtu * Bm[t, n]
            states[t, n] = h[n]


@numba.njit(cache=True, fastmath=FAST)
def _reverse_channel(decays, states, delta, u, A, Bm, Cm, D, grad_y, g, grad_delta, grad_u, grad_A, grad_B,
                     grad_C):
    """One channel's reverse scan; returns its share of ∂L/∂D."""
    g[:] = 0
    grad_d = 0.0
    for t in range(u.shape[0] - 1, -1, -1):
        gy = grad_y[t]
        dt = delta[t]
        ut = u[t]
        d_delta = 0.0
        d_u = gy * D
        grad_d += gy * ut
        for n in range(g.shape[0]):
            grad_C[t, n] += gy * states[t, n]
            gh = g[n] + gy * Cm[t, n]          # total ∂L/∂h_t
            previous = states[t - 1, n] if t > 0 else 0.0
            d_decay = gh * previous * decays[t, n]  # ∂L/∂(Δ_t A_e)
            d_delta += d_decay * A[n] + gh * ut * Bm[t, n]
            grad_A[n] += d_decay * dt
            d_u += gh * dt * Bm[t, n]
            grad_B[t, n] += gh * dt * ut
            g[n] = gh * decays[t, n]
        grad_delta[t] = d_delta
        grad_u[t] = d_u
    return grad_d


# --- gated scans: the gates' elementwise chain fused with the diagonal scan ---------------------------
#
# Each takes the projections' output (the gates' pre-activations) and writes the states, and its
# backward writes the gradient of that one pre-activation tensor: no a_t, b_t, σ(·) or √(1 - a²)
# tensor is formed or saved (the backward recomputes them per element from the pre-activations,
# which costs a few multiply-adds), and no chunk/cat of the gates' gradients. The loops over the
# channels are innermost and free of libm calls (exp_, expm1_near_zero_), so that the compiler vectorises
# them; ``error_model="numpy"`` lets a division by zero give inf instead of raising, without which
# the check before every division keeps the loops scalar (7x slower here). The arithmetic is in
# float64 whatever the storage; the states are stored in the array's dtype.


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
def rg_lru_forward(gates, u, log_base, out):
    """Hawk's RG-LRU from h_0 = 0 (the state reset at t = 0): gates [B, T, 2D] the pre-activations of
    r and i, u [B, T, D], log_base [D] = -c·softplus(-Λ), out [B, T, D]::

        log a_t = log_base ⊙ σ(r_t),  h_t = a_t ⊙ h_{t-1} + s_t ⊙ σ(i_t) ⊙ u_t,
        s_t = √(1 - a_t²) for t > 0, s_0 = 1.
    """
    batch, length, width = u.shape
    h = np.zeros(width)
    for n in range(batch):
        h[:] = 0.0
        for t in range(length):
            _rg_lru_row(gates[n, t, :width], gates[n, t, width:], u[n, t], log_base, h, out[n, t], t == 0)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _rg_lru_row(gate_r, gate_i, u, log_base, h, out, first):
    for d in range(h.shape[0]):
        r, i, a, scale = _rg_lru_coefficients(gate_r[d], gate_i[d], log_base[d], first)
        h[d] = a * h[d] + scale * (i * u[d])
        out[d] = h[d]


@numba.njit(cache=True, error_model="numpy")
def rg_lru_backward(gates, u, log_base, states, grad, grad_gates, grad_u, grad_log_base):
    """The reverse scan of :func:`rg_lru_forward`: writes grad_gates [B, T, 2D], grad_u [B, T, D] and
    adds into grad_log_base [D] (float64), from grad = ∂L/∂out; a, σ(·) and s recomputed."""
    batch, length, width = u.shape
    acc = np.zeros(width)  # a_{t+1} ∂L/∂h_{t+1}
    zero = np.zeros(width, dtype=states.dtype)  # h_0
    for n in range(batch):
        acc[:] = 0.0
        for t in range(length - 1, -1, -1):
            _rg_lru_back_row(gates[n, t, :width], gates[n, t, width:], u[n, t], log_base,
                             states[n, t - 1] if t > 0 else zero, grad[n, t], acc, grad_gates[n, t, :width],
                             grad_gates[n, t, width:], grad_u[n, t], grad_log_base, t == 0)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _rg_lru_back_row(gate_r, gate_i, u, log_base, previous, grad, acc, grad_r, grad_i, grad_u, grad_log_base, first):
    for d in range(acc.shape[0]):
        r, i, a, scale = _rg_lru_coefficients(gate_r[d], gate_i[d], log_base[d], first)
        d_scale = 0.0 if first else -(a * a) / scale  # ∂s/∂log a
        g = grad[d] + acc[d]
        d_log_a = g * previous[d] * a + g * (i * u[d]) * d_scale
        grad_log_base[d] += d_log_a * r
        grad_r[d] = d_log_a * log_base[d] * r * (1.0 - r)
        gs = g * scale
        grad_i[d] = gs * u[d] * i * (1.0 - i)
        grad_u[d] = gs * i
        acc[d] = g * a


# --- the depthwise causal convolution ----------------------------------------------------------------


@numba.njit(cache=True, error_model="numpy")
def causal_conv_forward(x, weight, bias, out, silu):
    """out_t = act(bias + Σ_j weight_j ⊙ x_{t-K+1+j}) (zeros before t = 0) over x, out [B, T, D];
    weight [K, D], bias [D]; act is SiLU when ``silu``, else the identity."""
    batch, length, width = x.shape
    y = np.empty(width)
    for n in range(batch):
        for t in range(length):
            _conv_row(x[n], weight, bias, t, y)
            for d in range(width):
                out[n, t, d] = y[d] * sigmoid_(y[d]) if silu else y[d]


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
def causal_conv_backward(x, weight, bias, grad, grad_x, grad_weight, grad_bias, silu):
    """The backward of :func:`causal_conv_forward`: writes grad_x, adds into grad_weight [K, D] and
    grad_bias [D] (float64); the pre-activation is recomputed for SiLU's derivative."""
    batch, length, width = x.shape
    kernel = weight.shape[0]
    pre_grad = np.empty((length, width))  # ∂L/∂(the convolution's output) of one sequence
    y = np.empty(width)
    gx = np.empty(width)
    for n in range(batch):
        for t in range(length):
            if silu:
                _conv_row(x[n], weight, bias, t, y)
                for d in range(width):
                    s = sigmoid_(y[d])
                    pre_grad[t, d] = grad[n, t, d] * (s * (1.0 + y[d] * (1.0 - s)))
            else:
                for d in range(width):
                    pre_grad[t, d] = grad[n, t, d]
            for d in range(width):
                grad_bias[d] += pre_grad[t, d]
        for t in range(length):
            gx[:] = 0.0
            for j in range(max(0, t + kernel - length), kernel):  # x_t feeds out_{t+K-1-j}
                for d in range(width):
                    gx[d] += weight[j, d] * pre_grad[t + kernel - 1 - j, d]
                    grad_weight[j, d] += pre_grad[t + kernel - 1 - j, d] * x[n, t, d]
            for d in range(width):
                grad_x[n, t, d] = gx[d]


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
