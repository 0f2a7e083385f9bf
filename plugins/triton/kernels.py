"""Triton kernels of the fused LSTM recurrence, forward and backward through time.

This module imports triton at the top: :mod:`rnnbench.plugins.triton.lstm` imports it
only when an ``lstm@triton`` model is built, so ``rnnbench list`` works without triton.
Triton reads ``TRITON_INTERPRET`` when ``@triton.jit`` decorates a kernel, that is, when
this module is first imported: set it before then to run the kernels in Triton's
interpreter (NumPy, on the CPU).

One layer, time-major, gate order (i, f, g, o) as torch.nn.LSTM::

    gates_t = x_t·W_ihᵀ + b_ih + b_hh + h_{t-1}·W_hhᵀ       (x_t·W_ihᵀ: one GEMM for all t, in torch)
    i, f, o = σ(gates_t[i, f, o]);  g = tanh(gates_t[g])
    c_t = f ⊙ c_{t-1} + i ⊙ g;      h_t = o ⊙ tanh(c_t)

The hidden-split design (both directions). The grid is (batch tiles × hidden slices):
program (b, p) owns BLOCK_B batch rows and BLOCK_N hidden units *for all four gates*.
The rows of W_hh that produce its units' gates (4·BLOCK_N × H) are its own for the
whole sequence; when they fit the register budget (``w_resident``) they are loaded once,
before the time loop, and stay on chip for all T steps, else the program re-reads only
its own slice each step (from L1/L2). c_t stays in registers. Each step needs all of
h_{t-1}, written by the other slices, so the programs of one batch tile exchange h_t
through global memory (L2) and meet at a barrier once per step:

* ``persistent``: one launch per layer, a software barrier between steps: each program
  arrives with an atomic add of release semantics on its batch tile's counter, then spins
  with acquire loads until every slice has arrived. Every program must be resident at
  once; :func:`lstm_layer_forward` checks that against the compiled kernel's registers and
  shared memory before launching (and launches cooperatively where Triton offers it).
  The spin is bounded: a program that waits longer than ``SPIN_LIMIT`` polls sets an
  error flag and stops waiting, and the next launch (or :func:`check_barrier`) raises
  :class:`BarrierTimeout`; an impossible grid fails with an error, it never hangs.
* ``per-step``: the same kernel launched once per time step with the kernel boundary as
  the barrier. Triton's interpreter runs programs one after another, so a spin barrier
  cannot run there: the tests check the split across programs through this variant, and
  the step math with one program owning all units (``persistent`` with one slice, where
  no barrier is needed).

The backward runs the recurrence in reverse in the same design: program (b, p) owns the
W_hh *columns* of its units (4H × BLOCK_N), carries δc in registers and exchanges the
gate gradients δgates_t through L2 with the same barrier. For its units, step t needs::

    δh_t = ∂L/∂h_t + δgates_{t+1}·W_hh;   δc_t = δc_{t+1} ⊙ f_{t+1} + δh_t ⊙ o ⊙ (1 − tanh²c_t)
    δi = δc_t ⊙ g ⊙ i(1−i);  δf = δc_t ⊙ c_{t-1} ⊙ f(1−f);  δg = δc_t ⊙ i ⊙ (1−g²);  δo = δh_t ⊙ tanh c_t ⊙ o(1−o)

The weight, bias and input gradients stay large torch GEMMs over all steps
(dW_hh = Σ_t δgates_tᵀ·h_{t-1}, …). At inference nothing is saved: the kernel writes h_t
(the layer's output) and c_n only. Decoding (T = 1) fuses the input projection into the
kernel (``FUSE_INPUT``): one launch per layer per token, into preallocated buffers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import triton
import triton.language as tl

# -- the nonlinearities ----------------------------------------------------------------------


@triton.jit
def _sigmoid(x):
    # σ(x) through z = e^{-|x|} ∈ (0, 1]: no overflow for any x (tl.sigmoid's e^{-x}
    # overflows for x ≪ 0; harmless on a GPU, but a warning in the NumPy interpreter).
    z = tl.exp(-tl.abs(x))
    return tl.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


@triton.jit
def _tanh(x):
    # triton.language has no tanh: tanh(x) = 2σ(2x) − 1 = (1 − e^{-2x}) / (1 + e^{-2x}),
    # evaluated at |x| so e^{-2|x|} never overflows (tanh(±∞) = ±1), then the sign restored.
    # Near 0, 1 − e^{-2|x|} cancels (tanh(1e-6) would be 1% off): there the Taylor series
    # x − x³/3 + 2x⁵/15 is exact to float32 for |x| < 0.1.
    z = tl.exp(-2.0 * tl.minimum(tl.abs(x), 20.0))  # tanh(20) is 1 in float32
    magnitude = (1.0 - z) / (1.0 + z)
    small = tl.minimum(tl.maximum(x, -0.1), 0.1)  # the series is only used there; no x² overflow
    x2 = small * small
    series = small * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0)))
    return tl.where(tl.abs(x) < 0.1, series, tl.where(x < 0, -magnitude, magnitude))


@triton.jit
def tanh_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    """Elementwise tanh through :func:`_tanh`, so tests can check its edge values."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < n
    x = tl.load(x_ptr + offs, mask=ok, other=0.0).to(tl.float32)
    tl.store(y_ptr + offs, _tanh(x).to(y_ptr.dtype.element_ty), mask=ok)


# -- the barrier --------------------------------------------------------------------------------


@triton.jit
def _grid_barrier(count_ptr, err_ptr, target, budget):
    """Wait until the counter reaches ``target``; returns the spin budget left.

    The caller has stored its share of the step. ``debug_barrier`` orders every warp's
    stores before the arrival; the arrival's release and the polls' acquire make the
    other programs' stores visible to this one (the readers also load with ``.cg``,
    past L1). A program that polls ``budget`` times without seeing every arrival sets
    the error flag and returns budget 0, so it never waits again: the kernel finishes
    (with wrong numbers) and the host raises, rather than hanging.
    """
    tl.debug_barrier()
    tl.atomic_add(count_ptr, 1, sem="release", scope="gpu")
    seen = tl.atomic_add(count_ptr, 0, sem="acquire", scope="gpu")
    spins = 0
    while (seen < target) & (spins < budget):
        seen = tl.atomic_add(count_ptr, 0, sem="acquire", scope="gpu")
        spins += 1
    if seen < target:
        tl.atomic_xchg(err_ptr, 1)
        budget = 0
    tl.debug_barrier()
    return budget


@triton.jit
def barrier_floor_kernel(count_ptr, err_ptr, steps, spin_limit):
    """The persistent design with empty steps: only the per-step grid barrier.

    ``benchmarks/triton_vs_cudnn.py`` times it to print the floor a step cannot go
    below (a barrier round through L2), against which the kernels' per-step time is read.
    """
    count = count_ptr + tl.program_id(0)
    participants = tl.num_programs(1)
    budget = spin_limit
    for s in range(steps):
        budget = _grid_barrier(count, err_ptr, (s + 1) * participants, budget)


# -- tiles of W ---------------------------------------------------------------------------------


@triton.jit
def _w_rows_t(w_ptr, gate, H, ld, ks, k_ok, units, unit_ok):
    """[BLOCK_K, BLOCK_N]: W[gate·H + units, ks]ᵀ (W is [4H, ld], row-major): the forward's operand."""
    return tl.load(w_ptr + (gate * H + units)[None, :] * ld + ks[:, None],
                   mask=k_ok[:, None] & unit_ok[None, :], other=0.0)


@triton.jit
def _w_cols(w_ptr, gate, H, ks, k_ok, units, unit_ok):
    """[BLOCK_K, BLOCK_N]: W_hh[gate·H + ks, units] (W_hh is [4H, H]): the backward's operand."""
    return tl.load(w_ptr + (gate * H + ks)[:, None] * H + units[None, :],
                   mask=k_ok[:, None] & unit_ok[None, :], other=0.0)


@triton.jit
def _matvec_rows(acc_i, acc_f, acc_g, acc_o, a_ptr, a_stride, rows, row_ok, w_ptr, ld, K, H, units,
                 unit_ok, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr):
    """acc_gate += A·W[gate·H + units, :K]ᵀ for the four gates, W streamed in BLOCK_K slabs."""
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        k_ok = ks < K
        a = tl.load(a_ptr + rows[:, None] * a_stride + ks[None, :], mask=row_ok[:, None] & k_ok[None, :], other=0.0,
                    cache_modifier=".cg")
        acc_i = tl.dot(a, _w_rows_t(w_ptr, 0, H, ld, ks, k_ok, units, unit_ok), acc_i, input_precision=PRECISION)
        acc_f = tl.dot(a, _w_rows_t(w_ptr, 1, H, ld, ks, k_ok, units, unit_ok), acc_f, input_precision=PRECISION)
        acc_g = tl.dot(a, _w_rows_t(w_ptr, 2, H, ld, ks, k_ok, units, unit_ok), acc_g, input_precision=PRECISION)
        acc_o = tl.dot(a, _w_rows_t(w_ptr, 3, H, ld, ks, k_ok, units, unit_ok), acc_o, input_precision=PRECISION)
    return acc_i, acc_f, acc_g, acc_o


@triton.jit
def _load_gates(base, rows, units, mask, H):
    """The four gates' [BLOCK_B, BLOCK_N] tiles of a [B, 4H] row-major slab, as float32."""
    p = base + rows[:, None] * (4 * H) + units[None, :]
    return (tl.load(p, mask=mask, other=0.0).to(tl.float32), tl.load(p + H, mask=mask, other=0.0).to(tl.float32),
            tl.load(p + 2 * H, mask=mask, other=0.0).to(tl.float32),
            tl.load(p + 3 * H, mask=mask, other=0.0).to(tl.float32))


# -- forward ------------------------------------------------------------------------------------


# The time range and spin limit change between launches: not specialised on (no recompiles
# for t = 1 or t divisible by 16).
@triton.jit(do_not_specialize=["T", "t_start", "t_stop", "spin_limit"])
def _lstm_forward_kernel(
    xw_ptr, x_ptr, w_ih_ptr, w_ptr, b_ih_ptr, b_hh_ptr,
    h0_ptr, c_in_ptr, c_out_ptr, hs_ptr, cs_ptr, gates_ptr, count_ptr, err_ptr,
    B, H, I, T, t_start, t_stop, spin_limit,
    stride_x_t, stride_x_b, stride_h0_b,
    BLOCK_B: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, HP: tl.constexpr,
    FUSE_INPUT: tl.constexpr, W_RESIDENT: tl.constexpr, SAVE: tl.constexpr, SYNC: tl.constexpr,
    PRECISION: tl.constexpr, PREFETCH: tl.constexpr,
):
    """Steps t_start..t_stop-1 of one layer (of T), for program (batch tile, hidden slice).

    Inputs: xw [T, B, 4H] contiguous, x·W_ihᵀ without biases; or, with FUSE_INPUT, x
    (strides stride_x_t, stride_x_b) and W_ih [4H, I], multiplied here (decoding). W_hh
    [4H, H], biases [4H]. h0 [B, H] (row stride stride_h0_b): h_{-1}. c_in, c_out [B, H],
    contiguous, any float dtype (may be the same buffer: each program reads its slice
    before writing it): c at t_start and after t_stop - 1.
    Outputs: hs [T, B, H] contiguous, slot t = h_t (also the exchange buffer); with SAVE,
    cs [T, B, H] float32 (c_t) and gates [T, B, 4H] (activated), for the backward.
    """
    pid_b = tl.program_id(0)
    pid_n = tl.program_id(1)
    rows = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    row_ok = rows < B
    units = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    unit_ok = units < H
    tile_ok = row_ok[:, None] & unit_ok[None, :]
    state = rows[:, None] * H + units[None, :]
    dtype = hs_ptr.dtype.element_ty
    count = count_ptr + pid_b
    participants = tl.num_programs(1)

    bias_i = (tl.load(b_ih_ptr + units, mask=unit_ok, other=0.0).to(tl.float32)
              + tl.load(b_hh_ptr + units, mask=unit_ok, other=0.0).to(tl.float32))
    bias_f = (tl.load(b_ih_ptr + H + units, mask=unit_ok, other=0.0).to(tl.float32)
              + tl.load(b_hh_ptr + H + units, mask=unit_ok, other=0.0).to(tl.float32))
    bias_g = (tl.load(b_ih_ptr + 2 * H + units, mask=unit_ok, other=0.0).to(tl.float32)
              + tl.load(b_hh_ptr + 2 * H + units, mask=unit_ok, other=0.0).to(tl.float32))
    bias_o = (tl.load(b_ih_ptr + 3 * H + units, mask=unit_ok, other=0.0).to(tl.float32)
              + tl.load(b_hh_ptr + 3 * H + units, mask=unit_ok, other=0.0).to(tl.float32))
    if W_RESIDENT:
        # This program's rows of W_hh, all four gates, loaded once for all T steps.
        ks = tl.arange(0, HP)
        k_ok = ks < H
        w_i = _w_rows_t(w_ptr, 0, H, H, ks, k_ok, units, unit_ok)
        w_f = _w_rows_t(w_ptr, 1, H, H, ks, k_ok, units, unit_ok)
        w_g = _w_rows_t(w_ptr, 2, H, H, ks, k_ok, units, unit_ok)
        w_o = _w_rows_t(w_ptr, 3, H, H, ks, k_ok, units, unit_ok)

    c = tl.load(c_in_ptr + state, mask=tile_ok, other=0.0).to(tl.float32)
    zero = (rows[:, None] * 0 + units[None, :] * 0).to(tl.float32)  # (tl.zeros fails in a reloaded interpreter)
    if PREFETCH and not FUSE_INPUT:
        xw_i, xw_f, xw_g, xw_o = _load_gates(xw_ptr + tl.cast(t_start, tl.int64) * B * 4 * H, rows, units, tile_ok, H)
    else:
        xw_i, xw_f, xw_g, xw_o = zero, zero, zero, zero
    budget = spin_limit
    for step in range(t_start, t_stop):
        t = tl.cast(step, tl.int64)  # t·stride exceeds int32 at T·B·4H ≥ 2³¹ (e.g. T=2048, B=256, H=1024)
        if FUSE_INPUT:
            x_t = x_ptr + t * stride_x_t
            acc_i, acc_f, acc_g, acc_o = _matvec_rows(zero + bias_i[None, :], zero + bias_f[None, :],
                                                      zero + bias_g[None, :], zero + bias_o[None, :],
                                                      x_t, stride_x_b, rows, row_ok, w_ih_ptr, I, I, H,
                                                      units, unit_ok, BLOCK_K, PRECISION)
        else:
            if not PREFETCH:
                xw_i, xw_f, xw_g, xw_o = _load_gates(xw_ptr + t * B * 4 * H, rows, units, tile_ok, H)
            acc_i = xw_i + bias_i[None, :]
            acc_f = xw_f + bias_f[None, :]
            acc_g = xw_g + bias_g[None, :]
            acc_o = xw_o + bias_o[None, :]

        # h_{t-1}: h0 at t = 0, else slot t-1 of hs (written by every slice last step).
        first = t == 0
        h_prev_ptr = tl.where(first, h0_ptr, hs_ptr + (t - 1) * B * H)
        h_stride = tl.where(first, stride_h0_b, H)
        if W_RESIDENT:
            h_prev = tl.load(h_prev_ptr + rows[:, None] * h_stride + ks[None, :],
                             mask=row_ok[:, None] & k_ok[None, :], other=0.0, cache_modifier=".cg")
            acc_i = tl.dot(h_prev, w_i, acc_i, input_precision=PRECISION)
            acc_f = tl.dot(h_prev, w_f, acc_f, input_precision=PRECISION)
            acc_g = tl.dot(h_prev, w_g, acc_g, input_precision=PRECISION)
            acc_o = tl.dot(h_prev, w_o, acc_o, input_precision=PRECISION)
        else:
            acc_i, acc_f, acc_g, acc_o = _matvec_rows(acc_i, acc_f, acc_g, acc_o, h_prev_ptr, h_stride, rows, row_ok,
                                                      w_ptr, H, H, H, units, unit_ok, BLOCK_K, PRECISION)

        gate_i = _sigmoid(acc_i)
        gate_f = _sigmoid(acc_f)
        gate_g = _tanh(acc_g)
        gate_o = _sigmoid(acc_o)
        c = gate_f * c + gate_i * gate_g
        h = gate_o * _tanh(c)
        tl.store(hs_ptr + t * B * H + state, h.to(dtype), mask=tile_ok)
        if SAVE:
            tl.store(cs_ptr + t * B * H + state, c, mask=tile_ok)
            g_out = gates_ptr + t * B * 4 * H + rows[:, None] * (4 * H) + units[None, :]
            tl.store(g_out, gate_i.to(dtype), mask=tile_ok)
            tl.store(g_out + H, gate_f.to(dtype), mask=tile_ok)
            tl.store(g_out + 2 * H, gate_g.to(dtype), mask=tile_ok)
            tl.store(g_out + 3 * H, gate_o.to(dtype), mask=tile_ok)
        if PREFETCH and not FUSE_INPUT:
            # Step t+1's projection does not depend on the barrier: its loads are issued
            # now and land while this program waits (masked off after the last step).
            more = (rows < tl.where(step + 1 < t_stop, B, 0))[:, None] & unit_ok[None, :]
            xw_i, xw_f, xw_g, xw_o = _load_gates(xw_ptr + (t + 1) * B * 4 * H, rows, units, more, H)
        if SYNC:
            if step + 1 < t_stop:  # every slice's h_t is read by every slice at t+1
                budget = _grid_barrier(count, err_ptr, (step - t_start + 1) * participants, budget)
    tl.store(c_out_ptr + state, c.to(c_out_ptr.dtype.element_ty), mask=tile_ok)


# -- backward -----------------------------------------------------------------------------------


@triton.jit
def _load_step_inputs(dy_ptr, gates_ptr, cs_ptr, c0_ptr, t, B, H, state, rows, units, unit_ok, tile_ok, wanted):
    """∂L/∂h_t, the four activated gates, c_t and c_{t-1} of step t, as float32 (zeros unless ``wanted``)."""
    ok = tile_ok & (rows < tl.where(wanted, B, 0))[:, None]
    dy_t = tl.load(dy_ptr + t * B * H + state, mask=ok, other=0.0).to(tl.float32)
    gate_i, gate_f, gate_g, gate_o = _load_gates(gates_ptr + t * B * 4 * H, rows, units, ok, H)
    c = tl.load(cs_ptr + t * B * H + state, mask=ok, other=0.0)
    c_prev = _load_c_prev(cs_ptr, c0_ptr, t, B, H, state, rows, unit_ok, wanted)
    return dy_t, gate_i, gate_f, gate_g, gate_o, c, c_prev


@triton.jit
def _load_c_prev(cs_ptr, c0_ptr, t, B, H, state, rows, unit_ok, wanted):
    """c_{t-1} as float32: slot t-1 of cs, or c0 at t = 0 (nothing when not ``wanted``)."""
    from_cs = (rows < tl.where(wanted & (t > 0), B, 0))[:, None] & unit_ok[None, :]
    from_c0 = (rows < tl.where(wanted & (t == 0), B, 0))[:, None] & unit_ok[None, :]
    return (tl.load(cs_ptr + (t - 1) * B * H + state, mask=from_cs, other=0.0)
            + tl.load(c0_ptr + state, mask=from_c0, other=0.0).to(tl.float32))


@triton.jit(do_not_specialize=["T", "s_start", "s_stop", "spin_limit"])
def _lstm_backward_kernel(
    dy_ptr, w_ptr, c0_ptr, cs_ptr, gates_ptr, dgates_ptr, dc_ptr, count_ptr, err_ptr,
    B, H, T, s_start, s_stop, spin_limit,
    BLOCK_B: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, HP: tl.constexpr,
    W_RESIDENT: tl.constexpr, SYNC: tl.constexpr, PRECISION: tl.constexpr, PREFETCH: tl.constexpr,
):
    """Reverse steps t = T-1-s for s in s_start..s_stop-1 of one layer.

    dy [T, B, H]: ∂L/∂h_t from above (∂L/∂h_n already added to step T-1). cs [T, B, H]
    float32 (c_t) and c0 [B, H] (c_{-1}); gates [T, B, 4H] activated. dgates [T, B, 4H]
    receives the pre-activation gradients (slot t+1 of every slice is read at step t).
    dc [B, H] float32: δc carried in (∂L/∂c_n at s = 0) and out (∂L/∂c_{-1} after s = T-1);
    each program reads and writes only its own slice.
    """
    pid_b = tl.program_id(0)
    pid_n = tl.program_id(1)
    rows = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    row_ok = rows < B
    units = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    unit_ok = units < H
    tile_ok = row_ok[:, None] & unit_ok[None, :]
    state = rows[:, None] * H + units[None, :]
    g_dtype = dgates_ptr.dtype.element_ty
    count = count_ptr + pid_b
    participants = tl.num_programs(1)
    if W_RESIDENT:
        # This program's columns of W_hh, all four gates, loaded once for all T steps.
        ks = tl.arange(0, HP)
        k_ok = ks < H
        u_i = _w_cols(w_ptr, 0, H, ks, k_ok, units, unit_ok)
        u_f = _w_cols(w_ptr, 1, H, ks, k_ok, units, unit_ok)
        u_g = _w_cols(w_ptr, 2, H, ks, k_ok, units, unit_ok)
        u_o = _w_cols(w_ptr, 3, H, ks, k_ok, units, unit_ok)

    dc = tl.load(dc_ptr + state, mask=tile_ok, other=0.0)
    # What step t needs besides δgates_{t+1} does not depend on the barrier: loaded a step
    # ahead (before the barrier), so it lands while the program waits.
    # (Without PREFETCH — large tiles, where registers are short — they load in the step.)
    t0 = tl.cast(T - 1 - s_start, tl.int64)
    dy_t, gate_i, gate_f, gate_g, gate_o, c, c_prev = _load_step_inputs(
        dy_ptr, gates_ptr, cs_ptr, c0_ptr, t0, B, H, state, rows, units, unit_ok, tile_ok, PREFETCH)
    budget = spin_limit
    for s in range(s_start, s_stop):
        t = tl.cast(T - 1 - s, tl.int64)  # t·stride exceeds int32 at T·B·4H ≥ 2³¹
        if not PREFETCH:
            dy_t, gate_i, gate_f, gate_g, gate_o, c, c_prev = _load_step_inputs(
                dy_ptr, gates_ptr, cs_ptr, c0_ptr, t, B, H, state, rows, units, unit_ok, tile_ok, True)
        # δh_t = ∂L/∂h_t + (δgates_{t+1}·W_hh)[:, units]; nothing flows in at t = T-1.
        dh = dy_t
        # (Scalar conditions go into masks as bounds: the interpreter cannot AND a scalar into a mask.)
        k_stop = tl.where(t + 1 < T, H, 0)  # no δgates_{t+1} at t = T-1
        dg_next = dgates_ptr + (t + 1) * B * 4 * H + rows[:, None] * (4 * H)
        if W_RESIDENT:
            k_all = row_ok[:, None] & (ks < k_stop)[None, :]
            dh = tl.dot(tl.load(dg_next + ks[None, :], mask=k_all, other=0.0, cache_modifier=".cg"), u_i, dh,
                        input_precision=PRECISION)
            dh = tl.dot(tl.load(dg_next + H + ks[None, :], mask=k_all, other=0.0, cache_modifier=".cg"), u_f, dh,
                        input_precision=PRECISION)
            dh = tl.dot(tl.load(dg_next + 2 * H + ks[None, :], mask=k_all, other=0.0, cache_modifier=".cg"), u_g, dh,
                        input_precision=PRECISION)
            dh = tl.dot(tl.load(dg_next + 3 * H + ks[None, :], mask=k_all, other=0.0, cache_modifier=".cg"), u_o, dh,
                        input_precision=PRECISION)
        else:
            for k0 in range(0, H, BLOCK_K):
                kk = k0 + tl.arange(0, BLOCK_K)
                kk_ok = kk < H
                a_ok = row_ok[:, None] & (kk < k_stop)[None, :]
                for gate in tl.static_range(4):
                    d_tile = tl.load(dg_next + gate * H + kk[None, :], mask=a_ok, other=0.0, cache_modifier=".cg")
                    dh = tl.dot(d_tile, _w_cols(w_ptr, gate, H, kk, kk_ok, units, unit_ok), dh,
                                input_precision=PRECISION)

        tanh_c = _tanh(c)

        dc = dc + dh * gate_o * (1.0 - tanh_c * tanh_c)
        d_i = dc * gate_g * gate_i * (1.0 - gate_i)
        d_f = dc * c_prev * gate_f * (1.0 - gate_f)
        d_g = dc * gate_i * (1.0 - gate_g * gate_g)
        d_o = dh * tanh_c * gate_o * (1.0 - gate_o)
        dc = dc * gate_f

        dg_out = dgates_ptr + t * B * 4 * H + rows[:, None] * (4 * H) + units[None, :]
        tl.store(dg_out, d_i.to(g_dtype), mask=tile_ok)
        tl.store(dg_out + H, d_f.to(g_dtype), mask=tile_ok)
        tl.store(dg_out + 2 * H, d_g.to(g_dtype), mask=tile_ok)
        tl.store(dg_out + 3 * H, d_o.to(g_dtype), mask=tile_ok)

        if PREFETCH:
            # Step t-1's inputs, issued before the barrier (masked off after the last step).
            more = s + 1 < s_stop
            ahead = (rows < tl.where(more, B, 0))[:, None] & unit_ok[None, :]
            dy_t = tl.load(dy_ptr + (t - 1) * B * H + state, mask=ahead, other=0.0).to(tl.float32)
            gate_i, gate_f, gate_g, gate_o = _load_gates(gates_ptr + (t - 1) * B * 4 * H, rows, units, ahead, H)
            c = c_prev
            c_prev = _load_c_prev(cs_ptr, c0_ptr, t - 1, B, H, state, rows, unit_ok, more)
        if SYNC:
            if s + 1 < s_stop:  # every slice's δgates_t is read by every slice at t-1
                budget = _grid_barrier(count, err_ptr, (s - s_start + 1) * participants, budget)
    tl.store(dc_ptr + state, dc, mask=tile_ok)


# -- launch planning ----------------------------------------------------------------------------

DESIGNS = ("auto", "persistent", "per-step")
FP32_PRECISIONS = ("ieee", "tf32", "tf32x3")
#: Bytes of W_hh one program keeps in registers for all T steps (its 4·BLOCK_N rows in the
#: forward, as many columns in the backward): 64 KiB is 64 registers a thread at 8 warps,
#: half the 128 a thread may hold when one program runs per SM.
W_RESIDENT_MAX_BYTES = 64 * 1024
#: Bytes of the h_{t-1} (or δgates_{t+1}) tile a resident-W step loads at once (its whole
#: reduction dimension): above it the reduction is streamed in BLOCK_K slabs, and W with it.
#: Half as much for IEEE float32, whose FMA dots hold both operands in registers (ptxas
#: spilled ~240 bytes at a 32 KiB float32 tile in the backward).
A_TILE_MAX_BYTES = 32 * 1024
#: W_hh bytes (4·H², padded) up to which one program owns every unit of its batch tile:
#: a step is then a few small dots, and a barrier between programs (~2 µs) would cost
#: more than splitting saves. An estimate, to be tuned on the GPU (``--design``).
ONE_SLICE_MAX_W_BYTES = 32 * 1024
#: Triton ≥ 3.5 accepts tl.dot operands narrower than 16 in M and N (PR triton-lang/triton#7451,
#: tensor cores with padding); earlier versions need 16.
SMALL_DOTS = tuple(int(p) for p in triton.__version__.split(".")[:2] if p.isdigit()) >= (3, 5)
#: The narrowest hidden slice: 8 units are 32 rows of W_hh (4 gates), one mma N-tile
#: (16 before Triton 3.5, whose tl.dot needs N ≥ 16).
MIN_BLOCK_N = 8 if SMALL_DOTS else 16
#: Polls a program makes at one barrier before it gives up and flags the launch as
#: failed (seconds, at an L2 round trip and two CTA barriers a poll): far longer than
#: any honest wait, short enough that a broken launch ends instead of hanging.
SPIN_LIMIT = 1 << 22
#: Streaming multiprocessors assumed where no GPU says otherwise (an H100 SXM).
DEFAULT_NUM_SMS = 132


@dataclass(frozen=True)
class LaunchPlan:
    """How one layer's recurrence is launched; :func:`plan_launch` picks it.

    The grid is (batch tiles × hidden slices) of ``block_b`` rows × ``block_n`` units;
    ``hp`` is the hidden size padded to a power of two (the resident reduction tile);
    ``block_k`` the reduction slab when W_hh is streamed.
    """

    design: str  # "persistent" (one launch per layer) or "per-step" (one launch per time step)
    block_b: int
    block_n: int
    block_k: int
    hp: int
    w_resident: bool  # the forward keeps its W_hh rows on chip
    w_resident_backward: bool  # the backward keeps its W_hh columns on chip
    num_warps: int
    prefetch: bool  # load the next step's barrier-independent inputs before the barrier
    precision: str  # tl.dot's input_precision: "ieee", "tf32" or "tf32x3" (16-bit types ignore it)

    def grid(self, batch: int, hidden: int) -> tuple[int, int]:
        return triton.cdiv(batch, self.block_b), triton.cdiv(hidden, self.block_n)

    def synced(self, hidden: int) -> bool:
        """Whether a launch over several steps needs the software grid barrier."""
        return self.design == "persistent" and triton.cdiv(hidden, self.block_n) > 1

    def describe(self, batch: int, hidden: int) -> str:
        tiles, slices = self.grid(batch, hidden)
        where = {(True, True): "W_hh slice on chip", (False, False): "W_hh slice re-read each step"}.get(
            (self.w_resident, self.w_resident_backward),
            "W_hh slice on chip in the forward, re-read each step in the backward")
        if self.design == "per-step":
            how = "one launch per time step"
        elif slices == 1:
            how = "persistent, one program per batch tile (no barrier)"
        else:
            how = "persistent, grid barrier each step"
        return (f"{how}; grid {tiles}x{slices} of {self.block_b} rows x {self.block_n} units; {where}; "
                f"{self.precision if self.precision != 'tf32' else 'tensor-core'} products")


def default_precision(dtype: torch.dtype) -> str:
    # float32 stays IEEE (parity with cuDNN run with TF32 off); 16-bit operands are exact in
    # any tensor-core mode, so their "tf32" means: tensor cores, float32 accumulation.
    return "ieee" if dtype == torch.float32 else "tf32"


def plan_launch(batch: int, hidden: int, dtype: torch.dtype, device: torch.device, design: str = "auto",
                num_sms: int | None = None, precision: str | None = None) -> LaunchPlan:
    """Which design and tiles run one layer (``design``: auto, persistent or per-step).

    * Batch tiles: float32 with IEEE products runs on FMAs, so a tile is as many rows as
      the batch has (1, 2, 4, …, 32: batch 1 is not padded to 16); tensor-core types
      (16-bit, or float32 opted into tf32) pad to 16 rows (an mma's M) and take up to 64.
    * Hidden slices: on CUDA, as narrow as ``MIN_BLOCK_N`` units but widened (doubling)
      until batch tiles × slices ≤ SMs, so every program has an SM to itself and can
      be co-resident for the barrier; one slice only when W_hh is tiny
      (``ONE_SLICE_MAX_W_BYTES``), where a barrier would cost more than the split saves.
    * W_hh stays on chip when the slice (4·hp·block_n elements) fits
      ``W_RESIDENT_MAX_BYTES``, the tile has ≤ 32 rows and the reduction tile (block_b·hp;
      4·block_b·hp in the backward, over all four gates' δ) fits ``A_TILE_MAX_BYTES``
      (half that for IEEE float32): beyond these ptxas spilled;
      otherwise each step re-reads the program's own slice in ``block_k`` slabs.
    * ``auto`` is ``persistent`` everywhere. On the CPU (Triton's interpreter, where a
      spin barrier cannot run) ``auto`` gives one program all units; ``per-step`` gives
      the same split as a GPU, with the kernel boundary as the barrier.
    """
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {', '.join(DESIGNS)}, got {design!r}")
    precision = precision or default_precision(dtype)
    if precision not in FP32_PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(FP32_PRECISIONS)}, got {precision!r}")
    if dtype != torch.float32:
        precision = "tf32"
    size = dtype.itemsize
    fma = dtype == torch.float32 and precision == "ieee"
    hp = max(16, triton.next_power_of_2(hidden))
    rows = triton.next_power_of_2(batch)
    block_b = min(32, rows if SMALL_DOTS else max(16, rows)) if fma else min(64, max(16, rows))
    batch_tiles = triton.cdiv(batch, block_b)
    design = "persistent" if design == "auto" else design

    if device.type != "cuda" and design == "persistent":
        block_n = hp  # the interpreter: one program owns every unit, no barrier
    elif 4 * hp * hp * size <= ONE_SLICE_MAX_W_BYTES and design == "persistent":
        block_n = hp
    else:
        sms = num_sms or DEFAULT_NUM_SMS
        block_n = min(MIN_BLOCK_N, hp)
        while block_n < hp and device.type == "cuda" and batch_tiles * triton.cdiv(hidden, block_n) > sms:
            block_n *= 2
    w_bytes = 4 * hp * block_n * size
    a_tile_max = A_TILE_MAX_BYTES // 2 if fma else A_TILE_MAX_BYTES
    # ptxas spilled ~100 bytes with 64-row tiles at the 32 KiB limit: resident tiles have <= 32 rows.
    resident = w_bytes <= W_RESIDENT_MAX_BYTES and block_b * hp * size <= a_tile_max and block_b <= 32
    # The backward's reduction runs over all four gates' δ (4·hp wide): its tile is 4x larger.
    resident_backward = resident and 4 * block_b * hp * size <= a_tile_max
    # float32 slabs are narrower: FMA dots hold both operands in registers (ptxas spills at 32);
    # so are 16-bit ones for the large tiles of big batches (ptxas spilled at 64 x 32 x 64).
    big_tile = block_b * block_n >= 2048
    if fma:
        block_k = 8 if big_tile and SMALL_DOTS else 16  # (the 32 x 64 backward spilled 76 B at 16)
    else:
        block_k = 32 if big_tile else 64
    block_k = min(hp, block_k)
    # Prefetching the next step hides latency where a step is short (small tiles); in large
    # tiles its extra live registers spilled.
    prefetch = block_b * block_n <= 512
    num_warps = 8 if resident or block_b >= 32 else 4  # 4 warps spilled in the resident backward
    return LaunchPlan(design, block_b, block_n, block_k, hp, resident, resident_backward, num_warps, prefetch,
                      precision)


@functools.lru_cache(maxsize=256)
def _cached_plan(batch, hidden, dtype, device, design, precision):
    num_sms = torch.cuda.get_device_properties(device).multi_processor_count if device.type == "cuda" else None
    return plan_launch(batch, hidden, dtype, device, design, num_sms, precision)


def plan_for(batch: int, hidden: int, dtype: torch.dtype, device: torch.device, design: str = "auto",
             precision: str | None = None) -> LaunchPlan:
    """:func:`plan_launch` with the device's SM count, cached (it runs on every call)."""
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return _cached_plan(batch, hidden, dtype, device, design, precision)


# -- the barrier's safety: co-residency check and timeout flag ----------------------------------


class GridTooLargeError(RuntimeError):
    """The persistent grid cannot be resident at once, so its barrier could never complete."""


class BarrierTimeout(RuntimeError):
    """A program of a persistent launch gave up waiting at the grid barrier."""


def _cooperative_launch_supported() -> bool:
    # Triton ≥ 3.3 passes launch_cooperative_grid through to cuLaunchKernelEx; earlier
    # versions lack the option, and the occupancy check below is then the only guard.
    try:
        from triton.backends.nvidia.compiler import CUDAOptions
    except ImportError:
        return False
    return "launch_cooperative_grid" in getattr(CUDAOptions, "__dataclass_fields__", {})


COOPERATIVE = _cooperative_launch_supported()


def programs_per_sm(n_regs: int, num_warps: int, shared: int, props) -> int:
    """How many programs of a compiled kernel one SM holds at once (the occupancy rule).

    Registers are allocated per warp in units of 256; threads, registers and shared
    memory each bound the count (device limits from ``props``, with the sm_80/sm_90
    values where torch does not expose them).
    """
    threads = getattr(props, "max_threads_per_multi_processor", 2048)
    regs = getattr(props, "regs_per_multiprocessor", 65536)
    smem = getattr(props, "shared_memory_per_multiprocessor", 228 * 1024)
    per_warp = -(-max(n_regs, 1) * 32 // 256) * 256
    bounds = [threads // (32 * num_warps), regs // (per_warp * num_warps), 32]
    if shared:
        bounds.append(smem // shared)
    return max(0, min(bounds))


_checked_grids: dict = {}


def check_co_resident(kernel, args: tuple, grid: tuple[int, int], meta: dict, device: torch.device) -> None:
    """Raise :class:`GridTooLargeError` unless every program of ``grid`` can be resident at once.

    Compiles (or fetches from Triton's cache) the kernel for these arguments to read its
    registers and shared memory; the verdict is cached per (kernel, grid, constants).
    """
    key = (kernel.fn.__name__ if hasattr(kernel, "fn") else str(kernel), grid, tuple(sorted(meta.items())),
           tuple(str(a.dtype) if isinstance(a, torch.Tensor) else type(a).__name__ for a in args), device)
    if key in _checked_grids:
        return
    compiled = kernel.warmup(*args, grid=grid, **meta)
    compiled._init_handles()  # loads the cubin: n_regs is known from then on (idempotent)
    props = torch.cuda.get_device_properties(device)
    per_sm = programs_per_sm(compiled.n_regs, meta["num_warps"], compiled.metadata.shared, props)
    capacity = per_sm * props.multi_processor_count
    programs = grid[0] * grid[1]
    if programs > capacity:
        raise GridTooLargeError(
            f"lstm@triton: the persistent grid of {programs} programs cannot be resident at once on "
            f"{props.name} ({props.multi_processor_count} SMs x {per_sm} programs: {compiled.n_regs} registers a "
            f"thread, {compiled.metadata.shared} B shared memory); its grid barrier would never complete. "
            "Use design='per-step' or a smaller batch.")
    _checked_grids[key] = True


@dataclass
class _Watch:
    """Per device: the error flag the barrier sets, read back without blocking the stream."""

    flag: torch.Tensor
    host: torch.Tensor | None = None
    event: object | None = None
    pending: bool = False


_watches: dict = {}


def _watch(device: torch.device) -> _Watch:
    key = str(device)
    if key not in _watches:
        with torch.inference_mode(False):  # normal tensors, even when first made under inference_mode
            flag = torch.zeros(1, dtype=torch.int32, device=device)
            if device.type == "cuda":
                _watches[key] = _Watch(flag, torch.zeros(1, dtype=torch.int32, pin_memory=True), torch.cuda.Event())
            else:
                _watches[key] = _Watch(flag)
    return _watches[key]


def _after_synced_launch(watch: _Watch) -> None:
    # A 4-byte copy queued behind the launch; read when it has landed (never waited for).
    if watch.host is not None and not watch.pending:
        watch.host.copy_(watch.flag, non_blocking=True)
        watch.event.record()
        watch.pending = True


def check_barrier(device: torch.device, wait: bool = False) -> None:
    """Raise :class:`BarrierTimeout` if an earlier persistent launch on ``device`` timed out.

    Without ``wait`` it looks only at a copy of the flag that has already landed, so it
    never blocks; tests and benchmarks call it with ``wait=True`` after synchronising.
    """
    watch = _watches.get(str(device))
    if watch is None:
        return
    if watch.host is None:
        failed = bool(watch.flag.item())
    elif watch.pending and (wait or watch.event.query()):
        watch.event.synchronize()
        watch.pending = False
        failed = bool(watch.host.item())
    else:
        return
    if failed:
        watch.flag.zero_()
        raise BarrierTimeout("lstm@triton: a persistent launch timed out at its grid barrier (a program waited "
                             f"{SPIN_LIMIT} polls): its results are wrong. Use design='per-step'.")


# -- launchers ----------------------------------------------------------------------------------


def _launch(kernel, grid, args: tuple, meta: dict, synced: bool, device: torch.device) -> None:
    if synced and device.type == "cuda":
        if COOPERATIVE:
            meta = {**meta, "launch_cooperative_grid": True}
        check_co_resident(kernel, args, grid, meta, device)  # compiles the very variant launched next
    kernel[grid](*args, **meta)


def _forward_meta(plan: LaunchPlan, fuse_input: bool, save: bool, sync: bool) -> dict:
    return dict(BLOCK_B=plan.block_b, BLOCK_N=plan.block_n, BLOCK_K=plan.block_k, HP=plan.hp,
                FUSE_INPUT=fuse_input, W_RESIDENT=plan.w_resident and not fuse_input, SAVE=save, SYNC=sync,
                PRECISION=plan.precision, PREFETCH=plan.prefetch, num_warps=plan.num_warps)


def _backward_meta(plan: LaunchPlan, sync: bool) -> dict:
    return dict(BLOCK_B=plan.block_b, BLOCK_N=plan.block_n, BLOCK_K=plan.block_k, HP=plan.hp,
                W_RESIDENT=plan.w_resident_backward, SYNC=sync, PRECISION=plan.precision, PREFETCH=plan.prefetch,
                num_warps=plan.num_warps)


def lstm_layer_forward(xw: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor, b_hh: torch.Tensor,
                       h0: torch.Tensor, c0: torch.Tensor, save: bool, plan: LaunchPlan):
    """One layer's recurrence over ``xw`` [T, B, 4H] (x·W_ihᵀ, no biases, contiguous).

    Returns ``hs`` [T, B, H] (h_t, the layer's output), ``c_n`` [B, H] in hs's dtype, and
    with ``save`` the tensors the backward needs: ``cs`` [T, B, H] float32 and the
    activated ``gates`` [T, B, 4H] (None without ``save``: inference keeps nothing).
    """
    T, B, four_h = xw.shape
    H = four_h // 4
    device, dtype = xw.device, xw.dtype
    watch = _watch(device)
    check_barrier(device)
    hs = torch.empty(T, B, H, device=device, dtype=dtype)
    cs = torch.empty(T, B, H, device=device, dtype=torch.float32) if save else None
    gates = torch.empty(T, B, 4 * H, device=device, dtype=dtype) if save else None
    per_step = plan.design == "per-step"
    if per_step:  # c crosses launches: a float32 carry, updated in place slice by slice
        c_in = c_out = c0.to(torch.float32, copy=True).contiguous()
    else:
        c_in, c_out = c0.contiguous(), torch.empty(B, H, device=device, dtype=dtype)
    grid = plan.grid(B, H)
    synced = plan.synced(H) and T > 1 and not per_step
    count = torch.zeros(grid[0], dtype=torch.int32, device=device) if synced else watch.flag
    h0 = h0 if h0.stride(-1) == 1 else h0.contiguous()
    meta = _forward_meta(plan, fuse_input=False, save=save, sync=synced)
    for t_start, t_stop in ([(t, t + 1) for t in range(T)] if per_step else [(0, T)]):
        args = (xw, xw, w_hh, w_hh, b_ih, b_hh, h0, c_in, c_out, hs, cs if save else hs, gates if save else hs,
                count, watch.flag, B, H, H, T, t_start, t_stop, SPIN_LIMIT, 0, 0, h0.stride(0))
        _launch(_lstm_forward_kernel, grid, args, meta, synced, device)
    if synced:
        _after_synced_launch(watch)
    return hs, c_out.to(dtype), cs, gates


def lstm_decode_layer(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor,
                      b_hh: torch.Tensor, h_in: torch.Tensor, c_in: torch.Tensor, h_out: torch.Tensor,
                      c_out: torch.Tensor, plan: LaunchPlan) -> None:
    """One token through one layer (T = 1), written into ``h_out`` and ``c_out`` [B, H].

    The input projection runs inside the kernel too: one launch, no allocation. ``x`` is
    [B, I] with unit last stride; ``h_in``, ``c_in`` [B, H] are only read.
    """
    B, I = x.shape
    H = w_hh.shape[1]
    watch = _watch(x.device)
    args = (x, x, w_ih, w_hh, b_ih, b_hh, h_in, c_in, c_out, h_out, h_out, h_out, watch.flag, watch.flag,
            B, H, I, 1, 0, 1, SPIN_LIMIT, 0, x.stride(0), h_in.stride(0))
    _lstm_forward_kernel[plan.grid(B, H)](*args, **_forward_meta(plan, fuse_input=True, save=False, sync=False))


def lstm_layer_backward(dy: torch.Tensor, w_hh: torch.Tensor, c0: torch.Tensor, cs: torch.Tensor,
                        gates: torch.Tensor, dc_last: torch.Tensor, plan: LaunchPlan):
    """Gradients through one layer's recurrence.

    ``dy`` [T, B, H] contiguous (∂L/∂h_n added to step T-1), ``dc_last`` ∂L/∂c_n.
    Returns ``dgates`` [T, B, 4H] (pre-activation gradients) and ∂L/∂c0 (float32).
    """
    T, B, H = dy.shape
    device = dy.device
    watch = _watch(device)
    check_barrier(device)
    dgates = torch.empty(T, B, 4 * H, device=device, dtype=gates.dtype)
    dc = dc_last.to(torch.float32, copy=True).contiguous()
    per_step = plan.design == "per-step"
    grid = plan.grid(B, H)
    synced = plan.synced(H) and T > 1 and not per_step
    count = torch.zeros(grid[0], dtype=torch.int32, device=device) if synced else watch.flag
    meta = _backward_meta(plan, sync=synced)
    c0 = c0.contiguous()
    for s_start, s_stop in ([(s, s + 1) for s in range(T)] if per_step else [(0, T)]):
        args = (dy, w_hh, c0, cs, gates, dgates, dc, count, watch.flag, B, H, T, s_start, s_stop, SPIN_LIMIT)
        _launch(_lstm_backward_kernel, grid, args, meta, synced, device)
    if synced:
        _after_synced_launch(watch)
    return dgates, dc


def barrier_floor(steps: int, batch_tiles: int, slices: int, device: torch.device) -> None:
    """Launch :func:`barrier_floor_kernel` (empty steps, one barrier each) on ``device``."""
    watch = _watch(device)
    count = torch.zeros(batch_tiles, dtype=torch.int32, device=device)
    args = (count, watch.flag, steps, SPIN_LIMIT)
    _launch(barrier_floor_kernel, (batch_tiles, slices), args, {"num_warps": 4}, True, device)
    _after_synced_launch(watch)


# -- autograd -----------------------------------------------------------------------------------


class LSTMLayerFunction(torch.autograd.Function):
    """One LSTM layer for training: x [T, B, I] (time-major), weights as nn.LSTM's, h0, c0 [B, H].

    Returns (hs [T, B, H], h_n, c_n). The input projection of all steps is one GEMM
    (torch); the recurrence runs in the Triton kernels above, forward and backward.
    """

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, h0, c0, plan):
        T, B, _ = x.shape
        H = w_hh.shape[1]
        xw = (x.reshape(T * B, -1) @ w_ih.t()).view(T, B, 4 * H)  # x_t·W_ihᵀ for every t at once
        w_hh = w_hh.contiguous()
        hs, c_n, cs, gates = lstm_layer_forward(xw, w_hh, b_ih, b_hh, h0, c0, save=True, plan=plan)
        ctx.save_for_backward(x, w_ih, w_hh, h0, c0, hs, cs, gates)
        ctx.plan = plan
        return hs, hs[T - 1].clone(), c_n

    @staticmethod
    def backward(ctx, d_hs, d_hn, d_cn):
        x, w_ih, w_hh, h0, c0, hs, cs, gates = ctx.saved_tensors
        T, B, H = hs.shape
        dy = torch.zeros_like(hs) if d_hs is None else d_hs.contiguous().clone()
        if d_hn is not None:
            dy[T - 1] += d_hn
        dc_last = torch.zeros(B, H, device=x.device, dtype=torch.float32) if d_cn is None else d_cn
        dgates, dc0 = lstm_layer_backward(dy, w_hh, c0, cs, gates, dc_last, ctx.plan)
        flat = dgates.reshape(T * B, 4 * H)
        d_x = (flat @ w_ih).view_as(x)  # δx_t = δgates_t·W_ih
        d_w_ih = flat.t() @ x.reshape(T * B, -1)  # Σ_t δgates_tᵀ·x_t
        d_w_hh = dgates[0].t() @ h0  # Σ_t δgates_tᵀ·h_{t-1}: h_{-1} = h0, then h_0 … h_{T-2}
        if T > 1:
            d_w_hh = torch.addmm(d_w_hh, dgates[1:].reshape(-1, 4 * H).t(), hs[:T - 1].reshape(-1, H))
        d_b = flat.sum(dim=0, dtype=torch.float32).to(x.dtype)
        d_h0 = dgates[0] @ w_hh
        return d_x, d_w_ih, d_w_hh, d_b, d_b.clone(), d_h0, dc0.to(c0.dtype), None


def lstm_layer(x, w_ih, w_hh, b_ih, b_hh, h0, c0, design: str = "auto", precision: str | None = None):
    """One layer, time-major: returns (hs [T, B, H], h_n, c_n).

    Saves for the backward only when a gradient can flow: grad mode on and an input
    that requires it (inside an autograd.Function grad mode is always off, so the choice
    is made here). At inference the kernel keeps nothing but h_t and c_n.
    """
    T, B, _ = x.shape
    H = w_hh.shape[1]
    plan = plan_for(B, H, x.dtype, x.device, design, precision)
    inputs = (x, w_ih, w_hh, b_ih, b_hh, h0, c0)
    if torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
        return LSTMLayerFunction.apply(*inputs, plan)
    xw = (x.reshape(T * B, -1) @ w_ih.t()).view(T, B, 4 * H)
    hs, c_n, _, _ = lstm_layer_forward(xw, w_hh.contiguous(), b_ih, b_hh, h0, c0, save=False, plan=plan)
    return hs, hs[T - 1], c_n


def tanh(x: torch.Tensor) -> torch.Tensor:
    """The kernels' tanh on a tensor (for tests of its edge values)."""
    x = x.contiguous()
    y = torch.empty_like(x)
    n = x.numel()
    tanh_kernel[(triton.cdiv(n, 128),)](x, y, n, BLOCK=128)
    return y


# -- ahead-of-time compilation (benchmarks/compile_check.py) -------------------------------------

_TRITON_TYPES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


@dataclass(frozen=True)
class KernelVariant:
    """One specialisation of a kernel that a plan launches, as ``triton.compile`` takes it."""

    label: str
    fn: object
    signature: dict
    constants: dict
    num_warps: int


def kernel_variants(plan: LaunchPlan, dtype: torch.dtype, hidden: int) -> list[KernelVariant]:
    """Every kernel specialisation the plan launches for a layer of ``hidden`` units:
    the forward when training and at inference, decoding's fused step, and the backward."""
    t = _TRITON_TYPES[dtype]
    synced = plan.synced(hidden)
    fwd_types = dict(xw_ptr=f"*{t}", x_ptr=f"*{t}", w_ih_ptr=f"*{t}", w_ptr=f"*{t}", b_ih_ptr=f"*{t}",
                     b_hh_ptr=f"*{t}", h0_ptr=f"*{t}", c_in_ptr="*fp32" if plan.design == "per-step" else f"*{t}",
                     c_out_ptr="*fp32" if plan.design == "per-step" else f"*{t}", hs_ptr=f"*{t}", cs_ptr="*fp32",
                     gates_ptr=f"*{t}", count_ptr="*i32", err_ptr="*i32", B="i32", H="i32", I="i32", T="i32",
                     t_start="i32", t_stop="i32", spin_limit="i32", stride_x_t="i32", stride_x_b="i32",
                     stride_h0_b="i32")
    bwd_types = dict(dy_ptr=f"*{t}", w_ptr=f"*{t}", c0_ptr=f"*{t}", cs_ptr="*fp32", gates_ptr=f"*{t}",
                     dgates_ptr=f"*{t}", dc_ptr="*fp32", count_ptr="*i32", err_ptr="*i32", B="i32", H="i32",
                     T="i32", s_start="i32", s_stop="i32", spin_limit="i32")
    variants = []
    for label, fuse, save in (("forward (training)", False, True), ("forward (inference)", False, False),
                              ("decode step", True, False)):
        meta = _forward_meta(plan, fuse_input=fuse, save=save, sync=synced and not fuse)
        warps = meta.pop("num_warps")
        types = dict(fwd_types)
        if fuse:
            types.update(c_in_ptr=f"*{t}", c_out_ptr=f"*{t}", cs_ptr=f"*{t}")
        variants.append(KernelVariant(label, _lstm_forward_kernel, {**types, **{k: "constexpr" for k in meta}},
                                      meta, warps))
    meta = _backward_meta(plan, sync=synced)
    warps = meta.pop("num_warps")
    variants.append(KernelVariant("backward", _lstm_backward_kernel, {**bwd_types, **{k: "constexpr" for k in meta}},
                                  meta, warps))
    return variants
