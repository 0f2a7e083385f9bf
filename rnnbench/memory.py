"""Memory meters for model backends; each names its method beside the number.

* :func:`cuda_peak` — ``torch.cuda.max_memory_allocated`` after resetting peak stats
  (``max_memory_reserved`` goes in ``extra``); neither includes the CUDA context.
* :func:`saved_tensors` — the bytes autograd saves for backward on CPU (activation
  memory), through ``torch.autograd.graph.saved_tensors_hooks``. tracemalloc cannot
  see torch tensors, so this is the CPU figure for torch training.
* :func:`tracemalloc_peak` — Python's tracemalloc peak, which sees NumPy arrays.
"""

from __future__ import annotations

import contextlib
import tracemalloc
from typing import Iterator

from rnnbench.model_api import MemoryReading


@contextlib.contextmanager
def cuda_peak(device: str = "cuda") -> Iterator[MemoryReading]:
    import torch

    reading = MemoryReading(None, "torch.cuda.max_memory_allocated (peak, excludes CUDA context)")
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    baseline = torch.cuda.memory_allocated(device)
    yield reading
    torch.cuda.synchronize(device)
    reading.bytes = int(torch.cuda.max_memory_allocated(device))
    reading.extra = {
        "max_memory_reserved": int(torch.cuda.max_memory_reserved(device)),
        "allocated_before": int(baseline),
    }


@contextlib.contextmanager
def saved_tensors() -> Iterator[MemoryReading]:
    """Sum the bytes of every tensor autograd saves for backward inside the block.

    A tensor saved twice (the same storage) is counted once, and parameters are
    not counted: they exist whether or not a backward pass follows.
    """
    import torch

    reading = MemoryReading(
        0, "autograd saved-tensor bytes, parameters excluded (torch.autograd.graph.saved_tensors_hooks)"
    )
    seen: set[tuple[int, int]] = set()

    def pack(tensor: "torch.Tensor") -> "torch.Tensor":
        if tensor.is_leaf and tensor.requires_grad:
            return tensor
        try:
            storage = tensor.untyped_storage()
            key = (storage.data_ptr(), storage.nbytes())
            if key not in seen:
                seen.add(key)
                reading.bytes += int(storage.nbytes())
        except Exception:  # tensors without storage (e.g. some wrapper subclasses)
            reading.bytes += int(tensor.element_size() * tensor.numel())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield reading


@contextlib.contextmanager
def tracemalloc_peak() -> Iterator[MemoryReading]:
    """Peak bytes allocated through Python's allocators (NumPy arrays included) in the block."""
    reading = MemoryReading(None, "tracemalloc peak (Python and NumPy allocations)")
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    try:
        yield reading
    finally:
        _, peak = tracemalloc.get_traced_memory()
        if not was_tracing:
            tracemalloc.stop()
        reading.bytes = int(max(0, peak - before))
