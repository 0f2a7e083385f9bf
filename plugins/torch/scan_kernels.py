"""Compiled CPU loops of the linear recurrences (numba), on numpy arrays; autograd lives in fused_scans.py.

Two scans, each a forward and its own backward:

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
