"""Launch planning for lstm@triton's kernels: which design, grid and tiles run one layer.

:func:`plan_launch` is the rule (its docstring and docs/triton.md state it); the constants
below are its knobs, each with the reason for its value. Nothing here launches anything.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import triton

DESIGNS = ("auto", "persistent", "per-step")
FP32_PRECISIONS = ("ieee", "tf32", "tf32x3")
#: Bytes of W_hh one program keeps in registers for all T steps (its 4·BLOCK_N rows in the
#: forward, as many columns in the backward): 64 KiB is 64 registers a thread at 8 warps,
#: half the 128 a thread may hold when one program runs per SM.
W_RESIDENT_MAX_BYTES = 64 * 1024
#: Bytes a thread holds of the [block_b, hp] operand of a resident tensor-core product
#: (every warp holds all of it): 256 B is 64 registers. Above it the reduction is streamed
#: in BLOCK_K slabs, and W with it.
MMA_OPERAND_MAX_BYTES = 256
#: IEEE float32: the most elements of one gate's broadcast product [block_b, hp, block_n]
#: for W to stay resident (32 a thread at 8 warps), the slab size when streamed, and the
#: elements a thread takes of a product at 4 warps above which 8 run it.
FMA_PRODUCT_MAX = 8192
FMA_SLAB = 512
FMA_ELEMENTS_PER_THREAD = 8
#: IEEE float32, streamed: the most elements of one slab's product a thread holds. A slab of 16
#: in a 32 x 64 tile at 8 warps is 128 a thread (ptxas on Triton 3.6 spilled 8-16 B there); the
#: slab halves to 8, which reductions accept (only tl.dot needs K >= 16).
FMA_SLAB_PER_THREAD = 64
#: Tensor cores, streamed: the most bytes of the four gates' W slab (4 x block_k x block_n) a
#: thread holds. bfloat16 16 x 64 at block_k 64 was 256 B a thread on 4 warps, and the fused
#: decode step spilled 80 B on Triton 3.6.
W_SLAB_MAX_BYTES = 128
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

    * Batch tiles: float32 with IEEE products multiplies by broadcasting and reducing over K
      (no tl.dot), so a tile is as many rows as the batch has (1, 2, 4, …, 32: batch 1 is
      not padded to 16); tensor-core types (16-bit, or float32 opted into tf32) pad to 16
      rows (an mma's M) and take up to 64.
    * Hidden slices: on CUDA, as narrow as 8 units (``MIN_BLOCK_N`` for tl.dot) but widened
      (doubling) until batch tiles × slices ≤ SMs, so every program has an SM to itself and
      can be co-resident for the barrier; one slice only when W_hh is tiny
      (``ONE_SLICE_MAX_W_BYTES``), where a barrier would cost more than the split saves.
    * Warps: no more than the output has work for: tensor cores, one per 16 × 16 of a
      gate's output (a 16 × 8 tile runs on one warp); IEEE float32, 4, or 8 for products of
      more than ``128 · FMA_ELEMENTS_PER_THREAD`` elements. tf32x3 on one or two warps
      spilled, and on 8 warps over 64 rows computed each output twice: such plans take
      IEEE products (as precise).
    * W_hh stays on chip when the slice (4·hp·block_n elements) fits
      ``W_RESIDENT_MAX_BYTES`` and the operand fits: tensor cores, the [block_b, hp] operand
      every warp holds ≤ ``MMA_OPERAND_MAX_BYTES`` a thread (4× that wide in the backward);
      IEEE float32, one gate's product ≤ ``FMA_PRODUCT_MAX`` elements. Otherwise each step
      re-reads the program's own slice in ``block_k`` slabs (K ≥ 16: Triton 3.6's tl.dot
      needs it; IEEE reductions take 8 where a slab of 16 would exceed
      ``FMA_SLAB_PER_THREAD`` elements a thread), tensor-core slabs halved until the four
      gates' slab is at most ``W_SLAB_MAX_BYTES`` a thread. Beyond these limits ptxas
      spilled (benchmarks/compile_check.py).
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
    # IEEE float32 products are reductions (no tl.dot): any row count; tl.dot needs 16 before 3.5
    block_b = min(32, rows) if fma else min(64, max(16, rows))
    batch_tiles = triton.cdiv(batch, block_b)
    design = "persistent" if design == "auto" else design

    if device.type != "cuda" and design == "persistent":
        block_n = hp  # the interpreter: one program owns every unit, no barrier
    elif 4 * hp * hp * size <= ONE_SLICE_MAX_W_BYTES and design == "persistent":
        block_n = hp
    else:
        sms = num_sms or DEFAULT_NUM_SMS
        block_n = min(8 if fma else MIN_BLOCK_N, hp)
        while block_n < hp and device.type == "cuda" and batch_tiles * triton.cdiv(hidden, block_n) > sms:
            block_n *= 2
    w_bytes = 4 * hp * block_n * size
    if fma:
        # The broadcast product [block_b, K, block_n] of one gate is spread over the threads:
        # resident when the whole reduction fits FMA_PRODUCT_MAX elements, else streamed in
        # slabs of about FMA_SLAB elements (K ≥ 16).
        resident = w_bytes <= W_RESIDENT_MAX_BYTES and block_b * hp * block_n <= FMA_PRODUCT_MAX
        resident_backward = resident
        block_k = min(hp, max(16, triton.next_power_of_2(FMA_SLAB // (block_b * block_n))))
        # 4 warps, 8 for large products (over FMA_ELEMENTS_PER_THREAD a thread at 4): ptxas
        # spilled a few bytes of stack at 1 or 2 warps in streamed plans, at 8 in small ones.
        product = block_b * (hp if resident else block_k) * block_n
        num_warps = 8 if product > 128 * FMA_ELEMENTS_PER_THREAD else 4
        if not resident and block_b * block_k * block_n > FMA_SLAB_PER_THREAD * 32 * num_warps:
            block_k = 8
    else:
        # One warp per 16 x 16 of the output, at most 8: Triton lays the warps of a narrow
        # product along M, so warps beyond the tiles compute the same outputs again (8 warps on
        # a 16x8 tile did so 8x; 2 warps on 16x16, 2x); 16x32 on 2 warps, 16x64 on 4 split N.
        num_warps = max(1, min(8, (block_b // 16) * max(1, block_n // 16)))
        # Every warp holds the [block_b, hp] operand it multiplies (warps split the units):
        # resident only while that is at most MMA_OPERAND_MAX_BYTES a thread.
        operand_bytes = block_b * hp * size // 32
        resident = (w_bytes <= W_RESIDENT_MAX_BYTES and operand_bytes <= MMA_OPERAND_MAX_BYTES
                    and block_b <= 32)
        # The backward reduces over all four gates' δ (4·hp wide): 4x the operand.
        resident_backward = resident and 4 * operand_bytes <= MMA_OPERAND_MAX_BYTES
        # tl.dot needs K >= 16 (Triton 3.6); narrower slabs for the large tiles of big batches
        # (ptxas spilled at 64 x 32 x 64).
        block_k = min(hp, 32 if block_b * block_n >= 2048 or num_warps == 1 else 64)
        if size == 4:  # tf32 operands are twice as wide in registers (ptxas spilled at 32 on few warps)
            block_k = 16
        while block_k > 16 and 4 * block_k * block_n * size > W_SLAB_MAX_BYTES * 32 * num_warps:
            block_k //= 2
        if precision == "tf32x3" and (num_warps <= 2 or (block_b >= 64 and num_warps == 8)):
            # tf32x3's three products spilled on one or two warps, and on 8 warps over 64 rows Triton
            # laid their chain along M ([8, 1]: every output computed twice); IEEE products are as precise
            return plan_launch(batch, hidden, dtype, device, design, num_sms, "ieee")
    # Prefetching the next step hides latency where a step is short (small tiles); in large
    # tiles its extra live registers spilled, and so they did with tf32x3's three products and
    # with tf32 float32 operands on one warp.
    prefetch = block_b * block_n <= 512 and precision != "tf32x3" and not (size == 4 and num_warps == 1 and not fma)
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
