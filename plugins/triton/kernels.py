"""Triton kernels of the fused LSTM recurrence, forward and backward through time.

The package splits by concern: this module holds the ``@triton.jit`` code only;
:mod:`.planning` chooses design and tiles, :mod:`.barrier_safety` guards the grid barrier
(co-residency, timeout flag), :mod:`.launchers` builds and issues the launches, and
:mod:`.autograd` wraps them for training. This module imports triton at the top:
:mod:`rnnbench.plugins.triton.lstm` imports it only when an ``lstm@triton`` model is
built, so ``rnnbench list`` works without triton.
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
  once; the launchers check that against the compiled kernel's registers and
  shared memory before launching (and launches cooperatively where Triton offers it).
  The spin is bounded: a program that waits longer than ``SPIN_LIMIT`` polls sets an
  error flag and stops waiting, and the next launch (or ``barrier_safety.check_barrier``)
  raises ``BarrierTimeout``; an impossible grid fails with an error, it never hangs.
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
    for s in tl.range(steps, num_stages=1):
        budget = _grid_barrier(count, err_ptr, (s + 1) * participants, budget)


# -- tiles of W and their products ---------------------------------------------------------------


@triton.jit
def _add(x, y):
    return x + y


@triton.jit
def _product(a, w, acc, PRECISION: tl.constexpr):
    """acc + a·w for a [M, K], w [K, N], accumulated in float32.

    Tensor-core types (16-bit, or float32 opted into tf32) use tl.dot. IEEE float32 is a
    broadcast product reduced over K instead: tl.dot on FMAs lays a small [M, N] output
    over every thread (at M=1, N=8 on 8 warps each output was computed 32 times, its W
    columns read from shared memory 1 KiB apart), while the reduction splits K over the
    threads, computes each product once and keeps W in registers.
    """
    if PRECISION == "ieee":
        # K is the last axis ([M, N, K], reduced over axis 2): the form a[:, :, None]·w[None]
        # reduced over axis 1 is rewritten by Triton into a tl.dot, which Triton 3.6 made a
        # tf32 one (silently not IEEE) and laid out as before. (tl.reduce with this module's
        # _add, not tl.sum: tl.sum is jit-decorated when triton is imported, and the
        # interpreter cannot call it if triton came before TRITON_INTERPRET.)
        return acc + tl.reduce(a.to(tl.float32)[:, None, :] * tl.trans(w.to(tl.float32))[None, :, :], 2, _add)
    else:
        return tl.dot(a, w, acc, input_precision=PRECISION)


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
    # Two stages (the next slab's loads in flight while this one is multiplied): at the
    # default three, ptxas spilled a few bytes in the fused decode step (compile_check).
    for k0 in tl.range(0, K, BLOCK_K, num_stages=2):
        ks = k0 + tl.arange(0, BLOCK_K)
        k_ok = ks < K
        a = tl.load(a_ptr + rows[:, None] * a_stride + ks[None, :], mask=row_ok[:, None] & k_ok[None, :], other=0.0,
                    cache_modifier=".cg")
        acc_i = _product(a, _w_rows_t(w_ptr, 0, H, ld, ks, k_ok, units, unit_ok), acc_i, PRECISION)
        acc_f = _product(a, _w_rows_t(w_ptr, 1, H, ld, ks, k_ok, units, unit_ok), acc_f, PRECISION)
        acc_g = _product(a, _w_rows_t(w_ptr, 2, H, ld, ks, k_ok, units, unit_ok), acc_g, PRECISION)
        acc_o = _product(a, _w_rows_t(w_ptr, 3, H, ld, ks, k_ok, units, unit_ok), acc_o, PRECISION)
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
    # num_stages=1: the time loop is never software-pipelined. Its loads of h_{t-1} depend on the
    # previous step's stores (by this or, after the barrier, any program): a pipeliner issuing
    # them steps ahead would read unwritten memory. The slab loops inside stay pipelined.
    for step in tl.range(t_start, t_stop, num_stages=1):
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
            acc_i = _product(h_prev, w_i, acc_i, PRECISION)
            acc_f = _product(h_prev, w_f, acc_f, PRECISION)
            acc_g = _product(h_prev, w_g, acc_g, PRECISION)
            acc_o = _product(h_prev, w_o, acc_o, PRECISION)
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
    # num_stages=1 as in the forward: δgates_{t+1} is written by the step before.
    for s in tl.range(s_start, s_stop, num_stages=1):
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
            dh = _product(tl.load(dg_next + ks[None, :], mask=k_all, other=0.0, cache_modifier=".cg"), u_i, dh,
                         PRECISION)
            dh = _product(tl.load(dg_next + H + ks[None, :], mask=k_all, other=0.0, cache_modifier=".cg"), u_f, dh,
                         PRECISION)
            dh = _product(tl.load(dg_next + 2 * H + ks[None, :], mask=k_all, other=0.0, cache_modifier=".cg"), u_g, dh,
                         PRECISION)
            dh = _product(tl.load(dg_next + 3 * H + ks[None, :], mask=k_all, other=0.0, cache_modifier=".cg"), u_o, dh,
                         PRECISION)
        elif PRECISION == "ieee":
            for k0 in range(0, H, BLOCK_K):
                kk = k0 + tl.arange(0, BLOCK_K)
                kk_ok = kk < H
                a_ok = row_ok[:, None] & (kk < k_stop)[None, :]
                for gate in tl.static_range(4):
                    d_tile = tl.load(dg_next + gate * H + kk[None, :], mask=a_ok, other=0.0, cache_modifier=".cg")
                    dh = _product(d_tile, _w_cols(w_ptr, gate, H, kk, kk_ok, units, unit_ok), dh, PRECISION)
        else:
            # Tensor cores: one tl.dot per slab, its K = BLOCK_K spanning BLOCK_K/4 columns of each
            # gate's δ (and the matching rows of W_hh). Four chained dots per slab, one per gate, made
            # Triton lay 8 warps along M ([8, 1] on a 64-row tile): every output computed twice.
            j = tl.arange(0, BLOCK_K)
            for k0 in range(0, H, BLOCK_K // 4):
                kk = k0 + j % (BLOCK_K // 4)
                cols = (j // (BLOCK_K // 4)) * H + kk  # gate j // (BLOCK_K/4), column kk
                d_tile = tl.load(dg_next + cols[None, :], mask=row_ok[:, None] & (kk < k_stop)[None, :], other=0.0,
                                 cache_modifier=".cg")
                dh = _product(d_tile, _w_cols(w_ptr, 0, H, cols, kk < H, units, unit_ok), dh, PRECISION)

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
