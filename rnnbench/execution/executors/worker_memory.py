"""Peak resident memory of a worker process, for executors that run one case per process.

The trap: ``getrusage(RUSAGE_SELF).ru_maxrss`` of a freshly spawned process is not
its own peak. Linux carries the high-water mark of the memory image that exec
replaced over into the new process, so a worker spawned by an 800 MB parent
reports at least 800 MB. ``VmHWM`` in ``/proc/self/status`` is the peak of the
worker's own address space, so it is used where it exists; ``ru_maxrss`` (KiB on
Linux, bytes on macOS) is the fallback, and the method says which one was read.
"""

from __future__ import annotations

import resource
import sys

from rnnbench.records import Metric

_PROC_STATUS = "/proc/self/status"


def _proc_status_bytes(field: str) -> int | None:
    try:
        with open(_PROC_STATUS, encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024  # the kernel writes kB (KiB)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _ru_maxrss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def peak_rss_metrics(*, after_loading: bool = False, baseline: list[Metric] | None = None) -> list[Metric]:
    """``after_loading=True``: the worker's resident bytes before its case (interpreter,
    imports, plugins). Otherwise: its peak over its life, plus that baseline."""
    if after_loading:
        current = _proc_status_bytes("VmRSS")
        if current is None:
            return []
        return [Metric("worker", "baseline_rss_bytes", float(current), "bytes",
                       "resident set of the worker after loading plugins, before the case (VmRSS)")]
    peak = _proc_status_bytes("VmHWM")
    if peak is not None:
        method = ("peak resident set of the worker process over its life: interpreter, imports, plugins"
                  " and the case (VmHWM, /proc/self/status)")
    else:
        peak = _ru_maxrss_bytes()
        method = ("peak resident set of the worker process over its life (getrusage ru_maxrss; may include"
                  " the parent's peak, which exec carries over)")
    return [*(baseline or []), Metric("worker", "peak_rss_bytes", float(peak), "bytes", method)]
