"""A model whose forward takes a known time, slowed by a configurable fraction, for compare's tests.

``paced@test`` does a tiny real forward (and training step), then sleeps until a
fixed budget has passed: 5 ms (``RNNBENCH_TEST_FORWARD_BUDGET_MS``) for a forward times
``1 + RNNBENCH_TEST_SLOWDOWN`` (a fraction, default 0), 5 ms for a training step. Sleeping (not spinning) keeps
the duration nearly independent of machine load: a sleeping process uses no CPU
time, so the scheduler wakes it promptly, while a spinning one is preempted for
whole time slices on a busy machine. So a +25% or +2% change is what compare sees. The environment variable is not part of the case id, so the
slowed run is the same case as the normal one, as a slower commit would be.
"""

import os
import random
import time

import rnnbench
from rnnbench.torch_model import TorchModel
from testplugins.tiny import PositionwiseCore

FORWARD_BUDGET_S = 5e-3
TRAIN_BUDGET_S = 5e-3


def forward_budget_s() -> float:
    """``RNNBENCH_TEST_FORWARD_BUDGET_MS`` (default 5): longer budgets keep a real forward that a busy
    machine slows (two threads waiting for a core) inside the budget."""
    return float(os.environ.get("RNNBENCH_TEST_FORWARD_BUDGET_MS", FORWARD_BUDGET_S * 1e3)) * 1e-3


def slowdown() -> float:
    return float(os.environ.get("RNNBENCH_TEST_SLOWDOWN", "0"))


#: set (to anything) while a run is made in this process: rnnbench's timer reads a virtual clock that
#: advances only by the budgets paced forwards declare (each with a seeded +-1% jitter, so that the
#: samples have a spread as measured ones do), and forwards do not sleep. At load 30 on two cores even
#: a sleeping process wakes milliseconds late and its real forward waits whole time slices for a core,
#: so a sleep-paced +25% drowned in the machine's noise; the thread's CPU time was no better (with two
#: torch threads the main thread spins at the barrier for as long as the other waits for a core). The
#: virtual clock does not depend on the machine at all. Only the timer of rnnbench.execution.timing
#: reads it; rnnbench's load meter still sees the real machine (a run may be flagged busy).
VIRTUAL_CLOCK = "RNNBENCH_TEST_VIRTUAL_CLOCK"
JITTER = 0.01


class _VirtualTime:
    """``time`` for rnnbench.execution.timing: perf_counter is virtual while VIRTUAL_CLOCK is set."""

    def __init__(self, real):
        self._real = real
        self.declared = 0.0
        self.jitter = random.Random(0)

    def declare(self, seconds: float) -> None:
        self.declared += seconds * (1.0 + self.jitter.uniform(-JITTER, JITTER))

    def perf_counter(self) -> float:
        if os.environ.get(VIRTUAL_CLOCK):
            return self.declared
        return self._real.perf_counter()

    def __getattr__(self, name):
        return getattr(self._real, name)


def _install_virtual_time() -> "_VirtualTime":
    from rnnbench.execution import timing

    if not isinstance(timing.time, _VirtualTime):
        timing.time = _VirtualTime(timing.time)
    return timing.time


_virtual = _install_virtual_time()


def _wait_until(deadline: float) -> None:
    left = deadline - time.perf_counter()
    if left > 0:
        time.sleep(left)


class PacedModel(TorchModel):
    def forward(self, batch):
        budget = forward_budget_s() * (1.0 + slowdown())
        if os.environ.get(VIRTUAL_CLOCK):
            out = super().forward(batch)
            _virtual.declare(budget)  # the forward "took" its budget, whatever the load
            return out
        deadline = time.perf_counter() + budget
        out = super().forward(batch)
        _wait_until(deadline)
        return out

    def train_step(self, batch):
        deadline = time.perf_counter() + TRAIN_BUDGET_S
        loss = super().train_step(batch)
        _wait_until(deadline)
        return loss


def factory(config):
    return PacedModel(config, lambda c: PositionwiseCore(c.hidden), lambda T, B: 2.0 * B * T * config.hidden ** 2)


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(arch="paced", backend="test", family="other", factory=factory,
                                devices=("cpu",), dtypes=("float32",)))
