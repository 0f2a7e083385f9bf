"""A memory estimate before a model is built: its parameters counted on torch's meta device.

An option such as ``mamba.d_state=100000000`` asks for tens of GB of parameters; building it
on the CPU grows the process for minutes (page by page, deaf to SIGTERM inside one allocation)
before the allocator gives up, if it does. Built on the ``meta`` device the same model has
shapes and no storage, in milliseconds: its parameter bytes, times what training keeps per
parameter (weights, gradients, Adam's two moments), is a lower bound of what the case needs.
A case whose bound exceeds the memory available is refused, before anything is allocated,
with the figures (an ``oom`` result, as an allocation failure would have been).

Only torch models can be built on meta, and only the built-in plugins' factories are known to do
nothing else while building; any other model (a NumPy one, a plugin's factory, one that refuses
the meta device) is built without an estimate.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from rnnbench.model_api import ModelConfig
from rnnbench.specs import ModelSpec

#: bytes training keeps per parameter byte: the weights, their gradients, Adam's exp_avg and exp_avg_sq
TRAINING_COPIES = 4
#: backends whose models are not torch modules: building them on meta would allocate for real
NOT_TORCH = ("numpy",)


class EstimatedOutOfMemory(MemoryError):
    """The case cannot fit in this machine's memory, by an estimate made before allocating."""


def available_bytes() -> int | None:
    """Memory a new allocation can have: /proc/meminfo's MemAvailable (or free pages), capped by RLIMIT_AS."""
    available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            available = min(available, soft)
    except (ImportError, OSError, ValueError):
        pass
    return available


def parameter_bytes(spec: ModelSpec, config: ModelConfig) -> int | None:
    """The model's parameter bytes, counted on the meta device; None where it cannot be built there."""
    if spec.backend in NOT_TORCH or not _built_in(spec):
        return None
    import torch

    try:
        with torch.device("meta"):
            model: Any = spec.factory(dataclasses.replace(config, device="meta"))
        modules = [m for m in vars(model).values() if isinstance(m, torch.nn.Module)]
        if not modules:
            return None
        return sum(p.numel() * p.element_size() for module in modules for p in module.parameters())
    except Exception:  # a factory that cannot build on meta: no estimate, the real build decides
        return None


def _built_in(spec: ModelSpec) -> bool:
    """A model of the plugins rnnbench ships, whose factories build on meta and do nothing else; another
    plugin's factory may do real work while building (count, download, start threads), which an estimate
    must not run twice."""
    return getattr(spec.factory, "__module__", "").startswith("rnnbench.plugins.")


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def refuse_if_too_big(spec: ModelSpec, config: ModelConfig) -> None:
    """Raise :class:`EstimatedOutOfMemory` when the model's training state cannot fit in memory."""
    if config.device != "cpu":
        return
    params = parameter_bytes(spec, config)
    available = available_bytes()
    if params is None or available is None:
        return
    needed = params * TRAINING_COPIES
    if needed > available:
        options = ", ".join(f"{k}={v}" for k, v in sorted(config.options.items()))
        raise EstimatedOutOfMemory(
            f"{spec.name} ({options or 'default options'}) has {_gib(params)} of parameters: with gradients and"
            f" Adam's state at least {_gib(needed)}, more than the {_gib(available)} of memory available;"
            " refused before allocating (a smaller option value, --hidden or --layers fits)"
        )
