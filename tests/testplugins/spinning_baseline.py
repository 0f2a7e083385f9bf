"""A task whose baseline leaves a thread spinning in the process, as a heavy baseline's library can.

``spinbase`` is the copy task with one more baseline: computing it starts a daemon
thread that spins on Python code for the rest of the process (once per process). Any
timing taken after it competes with that thread for the GIL and a CPU, whatever the
machine's load. uea's 1-NN DTW baseline did the same kind of thing through numba's OpenMP
layer (it changed the thread count torch ran on; issue 37). The runner must keep the case's
timed regions clear of it, and flag a later case timed while it runs.
"""

import threading

import rnnbench
from rnnbench.specs import TaskDefaults
from rnnbench.tasks.copy import factory as copy_factory

_started = threading.Event()


def _spin() -> None:
    count = 0
    while True:  # pure Python: holds the GIL but for the interpreter's forced switches
        count += 1


class SpinningBaselineTask:
    """Wraps a copy task; only ``baselines`` differs."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def baselines(self):
        if not _started.is_set():
            _started.set()
            threading.Thread(target=_spin, name="spinning-baseline", daemon=True).start()
        return self._inner.baselines()


def factory(options, seq_len, seed):
    return SpinningBaselineTask(copy_factory(options, seq_len, seed))


@rnnbench.hookimpl
def rnnbench_register_tasks(register):
    register(rnnbench.TaskSpec(
        name="spinbase", factory=factory, options={"num_symbols": 3, "alphabet_size": 4},
        defaults=TaskDefaults(seq_len=8, steps=3, lr=2e-3, hidden=16),
    ))
