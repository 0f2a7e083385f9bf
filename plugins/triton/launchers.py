"""Launching lstm@triton's kernels: buffers, grid, arguments and constants of each launch.

Each ``*_launches`` function builds the launches one call issues, as :class:`Launch`
records, without running them; the launcher beside it allocates, runs them and watches
the barrier. ``benchmarks/compile_check.py`` compiles the same records for a GPU it does
not have, so what it checks is what runs (arguments, their values and alignment
included: Triton specialises on them at launch).

The kernels are looked up in :mod:`rnnbench.plugins.triton.kernels` at call time, so a
reload of that module (the tests do one to switch to Triton's interpreter) takes effect.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton

from rnnbench.plugins.triton import barrier_safety, kernels
from rnnbench.plugins.triton.planning import LaunchPlan


@dataclass(frozen=True)
class Launch:
    """One kernel launch: ``kernel[grid](*args, **launch_meta(self, device))``."""

    label: str
    kernel_name: str  # an attribute of the kernels module
    grid: tuple[int, int]
    args: tuple
    meta: dict  # the constexprs and num_warps
    synced: bool  # the launch runs the software grid barrier

    @property
    def kernel(self):
        return getattr(kernels, self.kernel_name)


def register_cap(num_warps: int) -> int:
    """Registers a thread may use: the SM's 64 Ki shared by one program's threads, at most 255.

    The plans give each program an SM to itself, so it may have them all. Without an
    explicit cap ptxas aimed at a lower count and spilled a few bytes of stack in small
    kernels (at 48-96 registers; benchmarks/compile_check.py)."""
    return min(255, 65536 // (32 * num_warps)) // 8 * 8 if num_warps > 1 else 255


def launch_meta(launch: Launch, device_type: str) -> dict:
    """The keyword arguments of the launch on a device of ``device_type``. On CUDA: the
    recurrence kernels' register cap, and a synced launch is cooperative where Triton
    offers it (the driver then refuses a grid that cannot be co-resident)."""
    meta = dict(launch.meta)
    if device_type == "cuda":
        if launch.kernel_name in ("_lstm_forward_kernel", "_lstm_backward_kernel"):
            meta["maxnreg"] = register_cap(meta["num_warps"])
        if launch.synced and barrier_safety.COOPERATIVE:
            meta["launch_cooperative_grid"] = True
    return meta


def run_launch(launch: Launch, device: torch.device) -> None:
    meta = launch_meta(launch, device.type)
    if launch.synced and device.type == "cuda":  # compiles the very variant launched next
        barrier_safety.check_co_resident(launch.kernel, launch.args, launch.grid, meta, device)
    launch.kernel[launch.grid](*launch.args, **meta)


def _forward_meta(plan: LaunchPlan, fuse_input: bool, save: bool, sync: bool) -> dict:
    return dict(BLOCK_B=plan.block_b, BLOCK_N=plan.block_n, BLOCK_K=plan.block_k, HP=plan.hp,
                FUSE_INPUT=fuse_input, W_RESIDENT=plan.w_resident and not fuse_input, SAVE=save, SYNC=sync,
                PRECISION=plan.precision, PREFETCH=plan.prefetch, num_warps=plan.num_warps)


def _backward_meta(plan: LaunchPlan, sync: bool) -> dict:
    return dict(BLOCK_B=plan.block_b, BLOCK_N=plan.block_n, BLOCK_K=plan.block_k, HP=plan.hp,
                W_RESIDENT=plan.w_resident_backward, SYNC=sync, PRECISION=plan.precision, PREFETCH=plan.prefetch,
                num_warps=plan.num_warps)


def _time_ranges(T: int, per_step: bool) -> list[tuple[int, int]]:
    return [(t, t + 1) for t in range(T)] if per_step else [(0, T)]


@dataclass
class ForwardBuffers:
    """What a forward launch writes: hs [T, B, H]; c_out [B, H]; with ``save`` cs and gates."""

    hs: torch.Tensor
    c_out: torch.Tensor
    cs: torch.Tensor | None
    gates: torch.Tensor | None


def forward_launches(xw: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor, b_hh: torch.Tensor,
                     h0: torch.Tensor, c0: torch.Tensor, save: bool,
                     plan: LaunchPlan) -> tuple[ForwardBuffers, list[Launch]]:
    """The buffers and launches of one layer's forward over ``xw`` [T, B, 4H]."""
    T, B, four_h = xw.shape
    H = four_h // 4
    device, dtype = xw.device, xw.dtype
    flag = barrier_safety.watch_for(device).flag
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
    count = torch.zeros(grid[0], dtype=torch.int32, device=device) if synced else flag
    h0 = h0 if h0.stride(-1) == 1 else h0.contiguous()
    meta = _forward_meta(plan, fuse_input=False, save=save, sync=synced)
    label = "forward (training)" if save else "forward (inference)"
    launches = [Launch(label, "_lstm_forward_kernel", grid,
                       (xw, xw, w_hh, w_hh, b_ih, b_hh, h0, c_in, c_out, hs, cs if save else hs,
                        gates if save else hs, count, flag, B, H, H, T, t_start, t_stop,
                        barrier_safety.SPIN_LIMIT, 0, 0, h0.stride(0)), meta, synced)
                for t_start, t_stop in _time_ranges(T, per_step)]
    return ForwardBuffers(hs, c_out, cs, gates), launches


def lstm_layer_forward(xw: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor, b_hh: torch.Tensor,
                       h0: torch.Tensor, c0: torch.Tensor, save: bool, plan: LaunchPlan):
    """One layer's recurrence over ``xw`` [T, B, 4H] (x·W_ihᵀ, no biases, contiguous).

    Returns ``hs`` [T, B, H] (h_t, the layer's output), ``c_n`` [B, H] in hs's dtype, and
    with ``save`` the tensors the backward needs: ``cs`` [T, B, H] float32 and the
    activated ``gates`` [T, B, 4H] (None without ``save``: inference keeps nothing).
    """
    device = xw.device
    barrier_safety.check_barrier(device)
    out, launches = forward_launches(xw, w_hh, b_ih, b_hh, h0, c0, save, plan)
    for launch in launches:
        run_launch(launch, device)
    if launches[0].synced:
        barrier_safety.after_synced_launch(barrier_safety.watch_for(device))
    return out.hs, out.c_out.to(xw.dtype), out.cs, out.gates


def decode_launch(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor,
                  b_hh: torch.Tensor, h_in: torch.Tensor, c_in: torch.Tensor, h_out: torch.Tensor,
                  c_out: torch.Tensor, plan: LaunchPlan) -> Launch:
    """The one launch of a decoding step through one layer (input projection fused in)."""
    B, I = x.shape
    H = w_hh.shape[1]
    flag = barrier_safety.watch_for(x.device).flag
    args = (x, x, w_ih, w_hh, b_ih, b_hh, h_in, c_in, c_out, h_out, h_out, h_out, flag, flag,
            B, H, I, 1, 0, 1, barrier_safety.SPIN_LIMIT, 0, x.stride(0), h_in.stride(0))
    return Launch("decode step", "_lstm_forward_kernel", plan.grid(B, H), args,
                  _forward_meta(plan, fuse_input=True, save=False, sync=False), False)


def lstm_decode_layer(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor,
                      b_hh: torch.Tensor, h_in: torch.Tensor, c_in: torch.Tensor, h_out: torch.Tensor,
                      c_out: torch.Tensor, plan: LaunchPlan) -> None:
    """One token through one layer (T = 1), written into ``h_out`` and ``c_out`` [B, H].

    The input projection runs inside the kernel too: one launch, no allocation. ``x`` is
    [B, I] with unit last stride; ``h_in``, ``c_in`` [B, H] are only read.
    """
    run_launch(decode_launch(x, w_ih, w_hh, b_ih, b_hh, h_in, c_in, h_out, c_out, plan), x.device)


def backward_launches(dy: torch.Tensor, w_hh: torch.Tensor, c0: torch.Tensor, cs: torch.Tensor,
                      gates: torch.Tensor, dc_last: torch.Tensor,
                      plan: LaunchPlan) -> tuple[tuple[torch.Tensor, torch.Tensor], list[Launch]]:
    """The outputs (dgates, dc) and launches of one layer's backward."""
    T, B, H = dy.shape
    device = dy.device
    flag = barrier_safety.watch_for(device).flag
    dgates = torch.empty(T, B, 4 * H, device=device, dtype=gates.dtype)
    dc = dc_last.to(torch.float32, copy=True).contiguous()
    per_step = plan.design == "per-step"
    grid = plan.grid(B, H)
    synced = plan.synced(H) and T > 1 and not per_step
    count = torch.zeros(grid[0], dtype=torch.int32, device=device) if synced else flag
    meta = _backward_meta(plan, sync=synced)
    c0 = c0.contiguous()
    launches = [Launch("backward", "_lstm_backward_kernel", grid,
                       (dy, w_hh, c0, cs, gates, dgates, dc, count, flag, B, H, T, s_start, s_stop,
                        barrier_safety.SPIN_LIMIT), meta, synced)
                for s_start, s_stop in _time_ranges(T, per_step)]
    return (dgates, dc), launches


def lstm_layer_backward(dy: torch.Tensor, w_hh: torch.Tensor, c0: torch.Tensor, cs: torch.Tensor,
                        gates: torch.Tensor, dc_last: torch.Tensor, plan: LaunchPlan):
    """Gradients through one layer's recurrence.

    ``dy`` [T, B, H] contiguous (∂L/∂h_n added to step T-1), ``dc_last`` ∂L/∂c_n.
    Returns ``dgates`` [T, B, 4H] (pre-activation gradients) and ∂L/∂c0 (float32).
    """
    device = dy.device
    barrier_safety.check_barrier(device)
    (dgates, dc), launches = backward_launches(dy, w_hh, c0, cs, gates, dc_last, plan)
    for launch in launches:
        run_launch(launch, device)
    if launches[0].synced:
        barrier_safety.after_synced_launch(barrier_safety.watch_for(device))
    return dgates, dc


def barrier_floor_launch(steps: int, batch_tiles: int, slices: int, device: torch.device) -> Launch:
    """:func:`kernels.barrier_floor_kernel` (empty steps, one barrier each) on a grid."""
    count = torch.zeros(batch_tiles, dtype=torch.int32, device=device)
    args = (count, barrier_safety.watch_for(device).flag, steps, barrier_safety.SPIN_LIMIT)
    return Launch("barrier only", "barrier_floor_kernel", (batch_tiles, slices), args, {"num_warps": 4}, True)


def barrier_floor(steps: int, batch_tiles: int, slices: int, device: torch.device) -> None:
    """Launch the barrier-only kernel on ``device`` (the floor a step cannot go below)."""
    run_launch(barrier_floor_launch(steps, batch_tiles, slices, device), device)
    barrier_safety.after_synced_launch(barrier_safety.watch_for(device))


def tanh(x: torch.Tensor) -> torch.Tensor:
    """The kernels' tanh on a tensor (for tests of its edge values)."""
    x = x.contiguous()
    y = torch.empty_like(x)
    n = x.numel()
    kernels.tanh_kernel[(triton.cdiv(n, 128),)](x, y, n, BLOCK=128)
    return y
