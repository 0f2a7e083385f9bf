"""The persistent design's safety: a grid that cannot be co-resident is refused before
launch, and a barrier that waited too long is reported instead of hanging.

A software grid barrier only completes if every program of the grid is resident at once:
:func:`check_co_resident` compiles the launched variant, reads its registers and shared
memory, and raises :class:`GridTooLargeError` when ``programs_per_sm × SMs`` is smaller
than the grid. The spin in the kernel is bounded (``SPIN_LIMIT`` polls): a program that
gives up sets a per-device error flag, and :func:`check_barrier` raises
:class:`BarrierTimeout` from a pinned copy of it that never blocks the stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: Polls a program makes at one barrier before it gives up and flags the launch as
#: failed (seconds, at an L2 round trip and two CTA barriers a poll): far longer than
#: any honest wait, short enough that a broken launch ends instead of hanging.
SPIN_LIMIT = 1 << 22

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


def watch_for(device: torch.device) -> _Watch:
    key = str(device)
    if key not in _watches:
        with torch.inference_mode(False):  # normal tensors, even when first made under inference_mode
            flag = torch.zeros(1, dtype=torch.int32, device=device)
            if device.type == "cuda":
                _watches[key] = _Watch(flag, torch.zeros(1, dtype=torch.int32, pin_memory=True), torch.cuda.Event())
            else:
                _watches[key] = _Watch(flag)
    return _watches[key]


def after_synced_launch(watch: _Watch) -> None:
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
