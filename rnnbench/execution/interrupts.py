"""SIGTERM ends a sweep as Ctrl-C does: stop, keep what is stored, print how to resume.

Batch schedulers (Slurm, Kubernetes, ``timeout``) send SIGTERM before SIGKILL;
without this the sweep would die without marking the run interrupted.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

#: seconds before an interrupt that Python dropped (raised inside a callback) is delivered again
REDELIVER_AFTER_S = 0.1


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def sigterm_as_interrupt() -> None:
    """Turn SIGTERM into KeyboardInterrupt in this process (main thread only, as Python requires)."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _interrupt)


class interrupt_once:
    """The first Ctrl-C (or SIGTERM) interrupts the run; later ones are counted, not obeyed.

    After the first interrupt the run still has to be marked interrupted, its folder
    written and the resume command printed. A second Ctrl-C a moment later (people press
    it twice) used to cut that short, leaving an empty run folder and no resume command
    (issue 13). Installed for the whole run, so there is no moment in which a second
    signal could slip through. SIGKILL still ends everything at once.
    Outside the main thread it does nothing (Python delivers signals to the main thread).
    """

    def __init__(self) -> None:
        self.count = 0
        #: once the run is being wrapped up, every interrupt is held, the first one too
        self.holding = False
        self._previous: dict[int, object] = {}
        self._outer: "interrupt_once | None" = None
        self._signum: int | None = None
        self._previous_hook = sys.unraisablehook

    def _handler(self, signum, frame) -> None:
        self.count += 1
        if self.count == 1 and not self.holding:
            self._signum = signum
            raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    def _unraisable(self, unraisable) -> None:
        """An interrupt raised where Python cannot propagate it (a ``__del__``, a callback from C such
        as numba's and llvmlite's while they compile) is printed as "Exception ignored" and dropped; the
        run would go on with its one interrupt spent. Instead it is delivered again a moment later, when
        the main thread is likely back in ordinary code, until it lands or the run starts wrapping up."""
        if not issubclass(unraisable.exc_type, KeyboardInterrupt) or self.holding or self._signum is None:
            self._previous_hook(unraisable)
            return
        self.count = 0  # the dropped interrupt does not count: the next delivery raises again
        timer = threading.Timer(REDELIVER_AFTER_S, os.kill, (os.getpid(), self._signum))
        timer.daemon = True
        timer.start()

    @property
    def held(self) -> int:
        """Interrupts that arrived after the first and were held."""
        return max(0, self.count - 1)

    def __enter__(self) -> "interrupt_once":
        global _active
        self._outer, _active = _active, self
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
                # a signal ignored on purpose (nohup, a background job) stays ignored
                if signum is not None and signal.getsignal(signum) is not signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handler)
            self._previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        return self

    def __exit__(self, *exc: object) -> None:
        global _active
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if sys.unraisablehook == self._unraisable:
            sys.unraisablehook = self._previous_hook
        self._previous.clear()
        _active = self._outer


_active: interrupt_once | None = None


def hold_interrupts() -> None:
    """From now on, until the active :class:`interrupt_once` ends, interrupts are only counted.

    Called when a run starts its wrap-up (marking it, writing its folder): that work takes
    a moment and must not be cut short. Does nothing when no guard is active.
    """
    if _active is not None:
        _active.holding = True
