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

The forward kernel fuses, per step and per tile of (batch rows × hidden units), the
h_{t-1}·W_hhᵀ product of all four gates, the biases (folded into the input projection),
the nonlinearities and the cell and hidden updates: the pre-activations live only in
registers. When training, it also writes the activated gates (once, for the backward);
at inference it writes only h_t and c_t.

The backward kernel runs the recurrence in reverse. For the tile of hidden units n it
owns, step t needs the recurrent gradient (δgates_{t+1}·W_hh)[:, n], which it computes
itself, then the gate gradients of step t::

    δh_t = ∂L/∂h_t + δgates_{t+1}·W_hh;   δc_t = δc_{t+1} ⊙ f_{t+1} + δh_t ⊙ o ⊙ (1 − tanh²c_t)
    δi = δc_t ⊙ g ⊙ i(1−i);  δf = δc_t ⊙ c_{t-1} ⊙ f(1−f);  δg = δc_t ⊙ i ⊙ (1−g²);  δo = δh_t ⊙ tanh c_t ⊙ o(1−o)

The gate gradients of all steps go to global memory once, and torch turns them into the
weight, bias and input gradients with a few large GEMMs (dW_hh = Σ_t δgates_tᵀ·h_{t-1}, …).

Two launch designs share the same kernels (see :func:`plan_launch` for which runs when):

* persistent: one launch for the whole sequence; each program owns a tile of batch rows
  and all hidden units and loops over time, synchronising its own warps between steps
  (h_{t-1} is read back from L1/L2, never from another program). When W_hh is small
  enough (``w_on_chip``) its tiles are loaded once, before the time loop, and stay on
  chip (registers or shared memory, wherever the compiler keeps dot operands) for all
  T steps.
* per-step: one launch per time step over a grid of (batch tiles × hidden tiles); the
  launch boundary is the grid-wide barrier that step t+1 needs.
"""

from __future__ import annotations

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


# -- forward ------------------------------------------------------------------------------------


@triton.jit
def _load_w_t(w_ptr, gate, H, ks, k_ok, cols, col_ok):
    """The tile W_hh[gate·H + cols, ks]ᵀ, shape [BLOCK_K, BLOCK_H] (W_hh is [4H, H], row-major)."""
    offs = (gate * H + cols)[None, :] * H + ks[:, None]
    return tl.load(w_ptr + offs, mask=k_ok[:, None] & col_ok[None, :], other=0.0)


# The time range changes with every per-step launch: not specialised on (no recompiles for
# t = 1 or t divisible by 16).
@triton.jit(do_not_specialize=["t_start", "t_stop"])
def _lstm_forward_kernel(
    xw_ptr, w_ptr, hs_ptr, cs_ptr, gates_ptr,
    B, H, t_start, t_stop,
    stride_xw_t, stride_xw_b, stride_hs_t, stride_cs_t, stride_g_t,
    BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr,
    W_ON_CHIP: tl.constexpr, SAVE_GATES: tl.constexpr, PRECISION: tl.constexpr,
):
    """Steps t_start..t_stop-1 of one layer.

    xw [T, B, 4H] (strided): x_t·W_ihᵀ + b_ih + b_hh. hs and cs are [T+1, B, H] with
    h_{-1}, c_{-1} in slot 0, so step t reads slot t and writes slot t+1 (hs and cs are
    contiguous in (batch, hidden): row stride H). gates [T, B, 4H] receives the activated
    gates when SAVE_GATES. Program (pid_b, pid_h) owns batch rows pid_b·BLOCK_B… and the
    hidden tiles pid_h, pid_h + num_programs(1), …
    """
    pid_b = tl.program_id(0)
    pid_h = tl.program_id(1)
    hidden_step = tl.num_programs(1) * BLOCK_H
    rows = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    row_ok = rows < B
    dtype = hs_ptr.dtype.element_ty

    if W_ON_CHIP:
        # One tile covers all of H (the launcher checks it): W_hh is read once, not T times.
        cols = tl.arange(0, BLOCK_H)
        col_ok = cols < H
        ks = tl.arange(0, BLOCK_K)
        k_ok = ks < H
        w_i = _load_w_t(w_ptr, 0, H, ks, k_ok, cols, col_ok)
        w_f = _load_w_t(w_ptr, 1, H, ks, k_ok, cols, col_ok)
        w_g = _load_w_t(w_ptr, 2, H, ks, k_ok, cols, col_ok)
        w_o = _load_w_t(w_ptr, 3, H, ks, k_ok, cols, col_ok)

    for step in range(t_start, t_stop):
        t = tl.cast(step, tl.int64)  # t·stride exceeds int32 at T·B·4H ≥ 2³¹ (e.g. T=2048, B=256, H=1024)
        for n0 in range(pid_h * BLOCK_H, H, hidden_step):
            cols = n0 + tl.arange(0, BLOCK_H)
            col_ok = cols < H
            tile_ok = row_ok[:, None] & col_ok[None, :]
            xw = xw_ptr + t * stride_xw_t + rows[:, None] * stride_xw_b + cols[None, :]
            acc_i = tl.load(xw, mask=tile_ok, other=0.0).to(tl.float32)
            acc_f = tl.load(xw + H, mask=tile_ok, other=0.0).to(tl.float32)
            acc_g = tl.load(xw + 2 * H, mask=tile_ok, other=0.0).to(tl.float32)
            acc_o = tl.load(xw + 3 * H, mask=tile_ok, other=0.0).to(tl.float32)

            h_prev_ptr = hs_ptr + t * stride_hs_t + rows[:, None] * H
            if W_ON_CHIP:
                h_prev = tl.load(h_prev_ptr + ks[None, :], mask=row_ok[:, None] & k_ok[None, :], other=0.0)
                acc_i = tl.dot(h_prev, w_i, acc_i, input_precision=PRECISION)
                acc_f = tl.dot(h_prev, w_f, acc_f, input_precision=PRECISION)
                acc_g = tl.dot(h_prev, w_g, acc_g, input_precision=PRECISION)
                acc_o = tl.dot(h_prev, w_o, acc_o, input_precision=PRECISION)
            else:
                for k0 in range(0, H, BLOCK_K):
                    kk = k0 + tl.arange(0, BLOCK_K)
                    kk_ok = kk < H
                    h_prev = tl.load(h_prev_ptr + kk[None, :], mask=row_ok[:, None] & kk_ok[None, :], other=0.0)
                    acc_i = tl.dot(h_prev, _load_w_t(w_ptr, 0, H, kk, kk_ok, cols, col_ok), acc_i,
                                   input_precision=PRECISION)
                    acc_f = tl.dot(h_prev, _load_w_t(w_ptr, 1, H, kk, kk_ok, cols, col_ok), acc_f,
                                   input_precision=PRECISION)
                    acc_g = tl.dot(h_prev, _load_w_t(w_ptr, 2, H, kk, kk_ok, cols, col_ok), acc_g,
                                   input_precision=PRECISION)
                    acc_o = tl.dot(h_prev, _load_w_t(w_ptr, 3, H, kk, kk_ok, cols, col_ok), acc_o,
                                   input_precision=PRECISION)

            gate_i = _sigmoid(acc_i)
            gate_f = _sigmoid(acc_f)
            gate_g = _tanh(acc_g)
            gate_o = _sigmoid(acc_o)
            state = rows[:, None] * H + cols[None, :]
            c_prev = tl.load(cs_ptr + t * stride_cs_t + state, mask=tile_ok, other=0.0).to(tl.float32)
            c = gate_f * c_prev + gate_i * gate_g
            h = gate_o * _tanh(c)
            tl.store(cs_ptr + (t + 1) * stride_cs_t + state, c.to(cs_ptr.dtype.element_ty), mask=tile_ok)
            tl.store(hs_ptr + (t + 1) * stride_hs_t + state, h.to(dtype), mask=tile_ok)
            if SAVE_GATES:
                g_out = gates_ptr + t * stride_g_t + rows[:, None] * (4 * H) + cols[None, :]
                g_dtype = gates_ptr.dtype.element_ty
                tl.store(g_out, gate_i.to(g_dtype), mask=tile_ok)
                tl.store(g_out + H, gate_f.to(g_dtype), mask=tile_ok)
                tl.store(g_out + 2 * H, gate_g.to(g_dtype), mask=tile_ok)
                tl.store(g_out + 3 * H, gate_o.to(g_dtype), mask=tile_ok)
        # h_t of every hidden tile is read by every tile at t+1: the program's warps meet here.
        tl.debug_barrier()


# -- backward -----------------------------------------------------------------------------------


@triton.jit(do_not_specialize=["s_start", "s_stop"])
def _lstm_backward_kernel(
    dy_ptr, w_ptr, cs_ptr, gates_ptr, dgates_ptr, dc_ptr,
    B, H, T, s_start, s_stop,
    stride_dy_t, stride_cs_t, stride_g_t, stride_dg_t,
    BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr,
    W_ON_CHIP: tl.constexpr, PRECISION: tl.constexpr,
):
    """Reverse steps t = T-1-s for s in s_start..s_stop-1 of one layer.

    dy [T, B, H]: ∂L/∂h_t from above (∂L/∂h_n already added to step T-1). cs [T+1, B, H]
    from the forward (slot t+1 is c_t). gates [T, B, 4H]: activated gates. dgates
    [T+1, B, 4H] receives the pre-activation gradients; slot T holds zeros, so step T-1
    needs no special case. dc [B, H], float32: δc carried from step t+1 to t (∂L/∂c_n at
    the start; ∂L/∂c_{-1} at the end), updated in place by the program that owns the tile.
    """
    pid_b = tl.program_id(0)
    pid_h = tl.program_id(1)
    hidden_step = tl.num_programs(1) * BLOCK_H
    rows = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    row_ok = rows < B
    g_dtype = dgates_ptr.dtype.element_ty
    # The reduction over 4H runs over the four gates at once: column j of a [·, 4·BLOCK_K]
    # tile is gate j // BLOCK_K, hidden unit k0 + j % BLOCK_K. Fewer, larger dots.
    j = tl.arange(0, 4 * BLOCK_K)
    j_gate = j // BLOCK_K
    j_unit = j % BLOCK_K
    j_ok = j_unit < H
    if W_ON_CHIP:
        # One tile covers all of H: W_hh, as [4H, H], is read once for all T steps.
        cols = tl.arange(0, BLOCK_H)
        w_all = tl.load(w_ptr + (j_gate * H + j_unit)[:, None] * H + cols[None, :],
                        mask=j_ok[:, None] & (cols < H)[None, :], other=0.0)

    for s in range(s_start, s_stop):
        t = tl.cast(T - 1 - s, tl.int64)  # t·stride exceeds int32 at T·B·4H ≥ 2³¹
        for n0 in range(pid_h * BLOCK_H, H, hidden_step):
            cols = n0 + tl.arange(0, BLOCK_H)
            col_ok = cols < H
            tile_ok = row_ok[:, None] & col_ok[None, :]
            state = rows[:, None] * H + cols[None, :]

            # δh_t = ∂L/∂h_t + (δgates_{t+1}·W_hh)[:, cols]
            dh = tl.load(dy_ptr + t * stride_dy_t + state, mask=tile_ok, other=0.0).to(tl.float32)
            dg_next = dgates_ptr + (t + 1) * stride_dg_t + rows[:, None] * (4 * H)
            if W_ON_CHIP:
                d_tile = tl.load(dg_next + (j_gate * H + j_unit)[None, :], mask=row_ok[:, None] & j_ok[None, :],
                                 other=0.0)
                dh = tl.dot(d_tile, w_all, dh, input_precision=PRECISION)
            else:
                for k0 in range(0, H, BLOCK_K):
                    kk = k0 + j_unit
                    kk_ok = kk < H
                    d_tile = tl.load(dg_next + (j_gate * H + kk)[None, :], mask=row_ok[:, None] & kk_ok[None, :],
                                     other=0.0)
                    w_tile = tl.load(w_ptr + (j_gate * H + kk)[:, None] * H + cols[None, :],
                                     mask=kk_ok[:, None] & col_ok[None, :], other=0.0)
                    dh = tl.dot(d_tile, w_tile, dh, input_precision=PRECISION)

            g_in = gates_ptr + t * stride_g_t + rows[:, None] * (4 * H) + cols[None, :]
            gate_i = tl.load(g_in, mask=tile_ok, other=0.0).to(tl.float32)
            gate_f = tl.load(g_in + H, mask=tile_ok, other=0.0).to(tl.float32)
            gate_g = tl.load(g_in + 2 * H, mask=tile_ok, other=0.0).to(tl.float32)
            gate_o = tl.load(g_in + 3 * H, mask=tile_ok, other=0.0).to(tl.float32)
            c = tl.load(cs_ptr + (t + 1) * stride_cs_t + state, mask=tile_ok, other=0.0).to(tl.float32)
            c_prev = tl.load(cs_ptr + t * stride_cs_t + state, mask=tile_ok, other=0.0).to(tl.float32)
            tanh_c = _tanh(c)

            dc = tl.load(dc_ptr + state, mask=tile_ok, other=0.0) + dh * gate_o * (1.0 - tanh_c * tanh_c)
            d_i = dc * gate_g * gate_i * (1.0 - gate_i)
            d_f = dc * c_prev * gate_f * (1.0 - gate_f)
            d_g = dc * gate_i * (1.0 - gate_g * gate_g)
            d_o = dh * tanh_c * gate_o * (1.0 - gate_o)
            tl.store(dc_ptr + state, dc * gate_f, mask=tile_ok)

            dg_out = dgates_ptr + t * stride_dg_t + rows[:, None] * (4 * H) + cols[None, :]
            tl.store(dg_out, d_i.to(g_dtype), mask=tile_ok)
            tl.store(dg_out + H, d_f.to(g_dtype), mask=tile_ok)
            tl.store(dg_out + 2 * H, d_g.to(g_dtype), mask=tile_ok)
            tl.store(dg_out + 3 * H, d_o.to(g_dtype), mask=tile_ok)
        # δgates_t of every hidden tile is read by every tile at t-1.
        tl.debug_barrier()


# -- launch planning ----------------------------------------------------------------------------

#: W_hh bytes (four gates, padded to a power-of-two tile) kept on chip for all T steps:
#: 32 KiB is hidden ≤ 32 in float32 and ≤ 64 in 16-bit. The backward holds it as one
#: [4·tile, tile] operand beside a [BLOCK_B, 4·tile] one; larger tiles would need more
#: than the 99 KiB of shared memory that every GPU from sm_80 on offers a program.
W_ON_CHIP_MAX_BYTES = 32 * 1024
#: W_hh bytes up to which one program per batch tile, streaming W_hh from L2 every step,
#: beats launching a grid per step. An estimate (one SM reads ~100 GB/s from L2, a
#: launch costs ~5 µs, so ~0.5 MB per step is where they cross), to be tuned with
#: benchmarks/triton_vs_cudnn.py on the GPU at hand.
PERSISTENT_MAX_W_BYTES = 512 * 1024


@dataclass(frozen=True)
class LaunchPlan:
    """How one layer's recurrence is launched; :func:`plan_launch` picks it.

    Tile sizes keep every kernel within 99 KiB of shared memory at ``num_stages``
    (benchmarks/compile_check.py compiles them for sm_80 and sm_90 without a GPU).
    """

    persistent: bool
    w_on_chip: bool
    block_b: int
    block_h: int
    #: the forward's reduction tile over h_{t-1}
    block_k: int
    #: the backward's reduction tile over δgates, per gate (the four gates go together)
    block_k_backward: int
    num_warps: int = 4
    num_stages: int = 2

    def describe(self) -> str:
        if self.persistent:
            where = "W_hh on chip" if self.w_on_chip else "W_hh streamed from L2 each step"
            return f"persistent (one launch per layer, {where}), tiles {self.block_b}x{self.block_h}"
        return f"per-step launches over (batch x hidden) tiles {self.block_b}x{self.block_h}"


def _pow2_at_least_16(n: int) -> int:
    return max(16, triton.next_power_of_2(n))


def plan_launch(batch: int, hidden: int, element_size: int, device: torch.device,
                design: str = "auto", num_sms: int | None = None) -> LaunchPlan:
    """Which design runs (``design``: ``"auto"``, ``"persistent"`` or ``"per-step"``).

    * W_hh ≤ 32 KiB (hidden ≤ 32 in float32, ≤ 64 in 16-bit): persistent with W_hh on
      chip. The whole step is a few tiny dots; a launch per step would cost more than
      the work, and W_hh is read from memory once, not T times.
    * W_hh ≤ 512 KiB (hidden ≤ 181 in float32, ≤ 256 in 16-bit): persistent, W_hh
      streamed from L2 (where it stays resident): one launch per layer.
    * larger: per-step launches. A batch tile is at most 32 or 64 rows, so at batch ≤ 256
      the persistent design has ≤ 16 programs, each reading all of W_hh every step;
      spreading the hidden units over programs uses the whole GPU, and the launch
      boundary is the grid-wide barrier each step needs. (A hidden-split persistent
      kernel with a software grid barrier would save the launches, but its programs must
      all be resident at once and spin on each other, which Triton's interpreter, running
      programs one after another, cannot execute: it could not be verified here.)
    * Triton's interpreter (CPU): persistent, since each launch there costs milliseconds.

    Per-step launches narrow the hidden tile (64, 32, 16) until the grid has at least
    ``num_sms`` programs, so that small batches still spread W_hh over the whole GPU.
    """
    if design not in ("auto", "persistent", "per-step"):
        raise ValueError(f"design must be auto, persistent or per-step, got {design!r}")
    block_b = min(32 if element_size >= 4 else 64, _pow2_at_least_16(batch))
    tile = _pow2_at_least_16(hidden)
    on_chip = 4 * tile * tile * element_size <= W_ON_CHIP_MAX_BYTES
    if design == "auto":
        small = 4 * hidden * hidden * element_size <= PERSISTENT_MAX_W_BYTES
        design = "persistent" if device.type != "cuda" or on_chip or small else "per-step"
    if design == "persistent" and on_chip:
        return LaunchPlan(True, True, block_b, tile, tile, block_k_backward=tile)
    block = min(64, tile)
    block_h = block
    if design == "per-step" and num_sms:
        batch_tiles = triton.cdiv(batch, block_b)
        while block_h > 16 and batch_tiles * triton.cdiv(hidden, block_h) < num_sms:
            block_h //= 2
    return LaunchPlan(design == "persistent", False, block_b, block_h, block, block_k_backward=min(32, tile))


def sm_count(device: torch.device) -> int | None:
    """Streaming multiprocessors of a CUDA device (None elsewhere)."""
    if device.type != "cuda":
        return None
    return torch.cuda.get_device_properties(device).multi_processor_count


def _precision(dtype: torch.dtype) -> str:
    # float32 parity with cuDNN run with TF32 off: IEEE products, not TF32 (Triton's default).
    return "ieee" if dtype == torch.float32 else "tf32"


def _grids(plan: LaunchPlan, batch: int, hidden: int) -> tuple[tuple[int, int], int]:
    """The launch grid and how many time steps each launch covers (0 = all)."""
    batch_tiles = triton.cdiv(batch, plan.block_b)
    if plan.persistent:
        return (batch_tiles, 1), 0
    return (batch_tiles, triton.cdiv(hidden, plan.block_h)), 1


def lstm_layer_forward(xw: torch.Tensor, w_hh: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor,
                       save_gates: bool, design: str = "auto"):
    """Run one layer's recurrence. ``xw`` is [T, B, 4H] (any strides with unit last stride).

    Returns ``hs`` [T+1, B, H] (slot 0 is h0), ``cs`` [T+1, B, H] float32 (slot 0 is c0),
    and ``gates`` [T, B, 4H] (activated) or None.
    """
    T, B, four_h = xw.shape
    H = four_h // 4
    assert xw.stride(2) == 1 and w_hh.is_contiguous()
    plan = plan_launch(B, H, xw.element_size(), xw.device, design, sm_count(xw.device))
    hs = torch.empty(T + 1, B, H, device=xw.device, dtype=xw.dtype)
    cs = torch.empty(T + 1, B, H, device=xw.device, dtype=torch.float32)
    hs[0] = h0
    cs[0] = c0
    gates = torch.empty(T, B, 4 * H, device=xw.device, dtype=xw.dtype) if save_gates else hs  # unused when not saved
    grid, steps_per_launch = _grids(plan, B, H)
    spans = [(0, T)] if steps_per_launch == 0 else [(t, t + 1) for t in range(T)]
    for t_start, t_stop in spans:
        _lstm_forward_kernel[grid](
            xw, w_hh, hs, cs, gates, B, H, t_start, t_stop,
            xw.stride(0), xw.stride(1), hs.stride(0), cs.stride(0), gates.stride(0) if save_gates else 0,
            BLOCK_B=plan.block_b, BLOCK_H=plan.block_h, BLOCK_K=plan.block_k,
            W_ON_CHIP=plan.w_on_chip, SAVE_GATES=save_gates, PRECISION=_precision(xw.dtype),
            num_warps=plan.num_warps, num_stages=plan.num_stages,
        )
    return hs, cs, (gates if save_gates else None), plan


def lstm_layer_backward(dy: torch.Tensor, w_hh: torch.Tensor, cs: torch.Tensor, gates: torch.Tensor,
                        dc_last: torch.Tensor, design: str = "auto"):
    """Gradients through one layer's recurrence.

    ``dy`` [T, B, H] contiguous (∂L/∂h_n added to step T-1), ``dc_last`` ∂L/∂c_n.
    Returns ``dgates`` [T, B, 4H] (pre-activation gradients) and ∂L/∂c0 (float32).
    """
    T, B, H = dy.shape
    plan = plan_launch(B, H, dy.element_size(), dy.device, design, sm_count(dy.device))
    dgates = torch.empty(T + 1, B, 4 * H, device=dy.device, dtype=gates.dtype)
    dgates[T].zero_()
    dc = dc_last.to(torch.float32).contiguous().clone()
    grid, steps_per_launch = _grids(plan, B, H)
    spans = [(0, T)] if steps_per_launch == 0 else [(s, s + 1) for s in range(T)]
    for s_start, s_stop in spans:
        _lstm_backward_kernel[grid](
            dy, w_hh, cs, gates, dgates, dc, B, H, T, s_start, s_stop,
            dy.stride(0), cs.stride(0), gates.stride(0), dgates.stride(0),
            BLOCK_B=plan.block_b, BLOCK_H=plan.block_h, BLOCK_K=plan.block_k_backward, W_ON_CHIP=plan.w_on_chip,
            PRECISION=_precision(dy.dtype), num_warps=plan.num_warps, num_stages=plan.num_stages,
        )
    return dgates[:T], dc


# -- autograd -----------------------------------------------------------------------------------


class LSTMLayerFunction(torch.autograd.Function):
    """One LSTM layer: x [T, B, I] (time-major), weights as nn.LSTM's, h0 and c0 [B, H].

    Returns (hs [T, B, H], h_n, c_n). The input projection of all steps is one GEMM
    (torch); the recurrence runs in the Triton kernels above, forward and backward.
    """

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, h0, c0, design="auto"):
        T, B, _ = x.shape
        H = w_hh.shape[1]
        # x_t·W_ihᵀ + b_ih + b_hh for every t at once: [T·B, I] × [I, 4H]
        xw = torch.addmm(b_ih + b_hh, x.reshape(T * B, -1), w_ih.t()).view(T, B, 4 * H)
        save = any(ctx.needs_input_grad[:7])
        w_hh = w_hh.contiguous()
        hs, cs, gates, _ = lstm_layer_forward(xw, w_hh, h0, c0, save_gates=save, design=design)
        if save:
            ctx.save_for_backward(x, w_ih, w_hh, hs, cs, gates)
            ctx.design = design
        c_n = cs[T].to(x.dtype)
        return hs[1:], hs[T], c_n

    @staticmethod
    def backward(ctx, d_hs, d_hn, d_cn):
        x, w_ih, w_hh, hs, cs, gates = ctx.saved_tensors
        T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        dy = torch.zeros(T, B, H, device=x.device, dtype=x.dtype) if d_hs is None else d_hs.contiguous().clone()
        if d_hn is not None:
            dy[T - 1] += d_hn
        dc_last = torch.zeros(B, H, device=x.device, dtype=torch.float32) if d_cn is None else d_cn
        dgates, dc0 = lstm_layer_backward(dy, w_hh, cs, gates, dc_last, ctx.design)
        flat = dgates.reshape(T * B, 4 * H)
        d_x = (flat @ w_ih).view_as(x)  # δx_t = δgates_t·W_ih
        d_w_ih = flat.t() @ x.reshape(T * B, -1)  # Σ_t δgates_tᵀ·x_t
        d_w_hh = flat.t() @ hs[:T].reshape(T * B, H)  # Σ_t δgates_tᵀ·h_{t-1}
        d_b = flat.sum(dim=0, dtype=torch.float32).to(x.dtype)
        d_h0 = dgates[0] @ w_hh
        return d_x, d_w_ih, d_w_hh, d_b, d_b.clone(), d_h0, dc0.to(x.dtype), None


def lstm_layer(x, w_ih, w_hh, b_ih, b_hh, h0, c0, design: str = "auto"):
    """Functional form of :class:`LSTMLayerFunction` (time-major)."""
    return LSTMLayerFunction.apply(x, w_ih, w_hh, b_ih, b_hh, h0, c0, design)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """The kernels' tanh on a tensor (for tests of its edge values)."""
    x = x.contiguous()
    y = torch.empty_like(x)
    n = x.numel()
    tanh_kernel[(triton.cdiv(n, 128),)](x, y, n, BLOCK=128)
    return y
