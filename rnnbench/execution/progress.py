"""Progress within a case: what the runner tells an observer between steps, and how often.

The runner calls a :class:`CaseObserver` (the terminal's progress bar, or a test's recorder) when a case
starts, when it enters a phase (training, testing, timing the forward...) and after training steps.
Every call happens between steps, outside every timed call: a step's own timer has stopped before the
observer hears of it. Under ``--time-budget`` the budget's clock runs through the whole loop, so a call
inside it must be cheap: :class:`StepReporter` forwards at most a few updates a second (one clock read
per step otherwise), and the terminal's observer only sets fields that rich draws from its own thread.

Cases that run in other processes (``--executor process`` or ``dask``) report nothing here: their
observers would have to cross the process boundary, and the run's per-case bar still advances.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Protocol

from rnnbench.records import CaseConfig

#: the fewest seconds between two training updates an observer receives (at most 4 a second)
MIN_UPDATE_INTERVAL_S = 0.25


@dataclass(frozen=True)
class TrainingProgress:
    """Where training stands after ``steps_done`` steps.

    :param steps_done: training steps finished so far.
    :param total_steps: steps the case will run (``--steps``, or a FLOPs budget's); ``None`` under a
        time budget, where the clock decides.
    :param loss: the loss of the last step's batch.
    :param elapsed_s: seconds since training started.
    :param budget_s: the ``--time-budget``, or ``None``.
    """

    steps_done: int
    total_steps: int | None
    loss: float
    elapsed_s: float
    budget_s: float | None = None

    def remaining_s(self) -> float | None:
        """Seconds of training left: the budget's rest, or the steps left at the mean pace so far."""
        if self.budget_s is not None:
            return max(0.0, self.budget_s - self.elapsed_s)
        if self.total_steps is None or self.steps_done <= 0:
            return None
        return self.elapsed_s / self.steps_done * max(0, self.total_steps - self.steps_done)

    def fraction(self) -> float | None:
        """How much of training is done, 0 to 1 (``None`` when unknown)."""
        if self.budget_s is not None:
            return min(1.0, self.elapsed_s / self.budget_s) if self.budget_s > 0 else 1.0
        if not self.total_steps:
            return None
        return min(1.0, self.steps_done / self.total_steps)


class CaseObserver(Protocol):
    """What the runner reports of a case while it runs; each method returns quickly and never raises."""

    def case_started(self, config: CaseConfig) -> None:
        """A case starts (building the task and the model)."""

    def phase(self, description: str) -> None:
        """The case enters a phase: ``"training"``, ``"testing"``, ``"timing forward"``..."""

    def training(self, progress: TrainingProgress) -> None:
        """Training advanced (at most every :data:`MIN_UPDATE_INTERVAL_S` seconds)."""


class StepReporter:
    """Forwards training progress to an observer at most every ``interval`` seconds, and the first step at once.

    ``clock`` is injectable for tests; the runner uses the monotonic clock.
    """

    def __init__(self, observer: CaseObserver, *, total_steps: int | None, budget_s: float | None,
                 interval: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.observer = observer
        self.total_steps = total_steps
        self.budget_s = budget_s
        self.interval = MIN_UPDATE_INTERVAL_S if interval is None else interval
        self.clock = clock
        self._last: float | None = None

    def step_done(self, steps_done: int, loss: float, elapsed_s: float) -> None:
        now = self.clock()
        if self._last is not None and now - self._last < self.interval and steps_done != self.total_steps:
            return
        self._last = now
        report(self.observer.training, TrainingProgress(steps_done, self.total_steps, loss, elapsed_s,
                                                        self.budget_s))


def report(method: Callable[..., None], *args) -> None:
    """Call an observer's method; a display that fails must not fail the case it displays."""
    try:
        method(*args)
    except Exception:  # noqa: BLE001 - progress is a courtesy: the case's measurement goes on
        pass
