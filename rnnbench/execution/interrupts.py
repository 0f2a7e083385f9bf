"""SIGTERM ends a sweep as Ctrl-C does: stop, keep what is stored, print how to resume.

Batch schedulers (Slurm, Kubernetes, ``timeout``) send SIGTERM before SIGKILL;
without this the sweep would die without marking the run interrupted.
"""

from __future__ import annotations

import signal
import threading


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def sigterm_as_interrupt() -> None:
    """Turn SIGTERM into KeyboardInterrupt in this process (main thread only, as Python requires)."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _interrupt)
