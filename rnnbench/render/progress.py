"""The run's progress bar on the terminal: one row for the run's cases, one for the case that runs now.

The case row is a :class:`rnnbench.execution.progress.CaseObserver`: the runner tells it the phase and,
during training, the steps done, the last loss and the time left. It only sets fields of a rich task;
rich redraws them from its own thread, so the runner's call returns at once.
"""

from __future__ import annotations

import datetime
import math

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from rnnbench.execution.progress import TrainingProgress
from rnnbench.records import CaseConfig

#: the widest a row's label gets before it ends in an ellipsis (the bar and the numbers keep their room)
LABEL_WIDTH = 30


class _FieldColumn(ProgressColumn):
    """A task's own field (empty for a task without it); by default its ``completed``/``total``."""

    def __init__(self, field: str, counts: bool = False):
        super().__init__(table_column=Column(no_wrap=True))
        self.field = field
        self.counts = counts

    def render(self, task: Task) -> Text:
        text = task.fields.get(self.field)
        if text is None and self.counts and task.total is not None:
            text = f"{task.completed:g}/{task.total:g}"
        return Text(text or "")


def run_progress(console: Console) -> Progress:
    """The progress display of a run: label, bar, count, time elapsed, and (for the case row) loss and time left."""
    return Progress(
        TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis",
                                                             max_width=LABEL_WIDTH)),
        BarColumn(bar_width=16),
        _FieldColumn("count", counts=True),
        TimeElapsedColumn(),
        _FieldColumn("detail"),
        console=console, transient=False,
    )


def clock_text(seconds: float) -> str:
    """``0:03:10``, as rich writes the time elapsed."""
    return str(datetime.timedelta(seconds=max(0, int(math.ceil(seconds)))))


def training_fields(progress: TrainingProgress) -> dict[str, str]:
    """The case row's count and detail for a training update: ``step 120/400`` and ``loss 0.412, ~0:03:10 left``.

    The time left is the budget's rest under ``--time-budget``, else an estimate (``~``) at the pace so far;
    both are training's only (testing and timing follow it).
    """
    total = f"/{progress.total_steps}" if progress.total_steps is not None else ""
    detail = f"loss {progress.loss:.3g}"
    remaining = progress.remaining_s()
    if remaining is not None:
        detail += f", {'' if progress.budget_s is not None else '~'}{clock_text(remaining)} left"
    return {"count": f"step {progress.steps_done}{total}", "detail": detail}


class TerminalCaseProgress:
    """The case row of :func:`run_progress`: a :class:`~rnnbench.execution.progress.CaseObserver`.

    Added under the rows that exist when the first case reports (the run's), hidden between cases;
    cases that run in other processes never report, so it never shows for them.
    """

    def __init__(self, progress: Progress):
        self.progress = progress
        self.row: TaskID | None = None
        self.label = ""

    def case_started(self, config: CaseConfig) -> None:
        self.label = config.label()
        if self.row is None:
            self.row = self.progress.add_task(self.label, total=None, count="", detail="starting")
        else:
            self.progress.reset(self.row, total=None, visible=True, description=self.label, count="",
                                detail="starting")

    def phase(self, description: str) -> None:
        if self.row is None:
            return
        # a phase without steps: a pulsing bar (total None), the case's time still counting
        self.progress.update(self.row, total=None, completed=0, count="", detail=description)

    def training(self, progress: TrainingProgress) -> None:
        if self.row is None:
            return
        total = progress.budget_s if progress.budget_s is not None else progress.total_steps
        done = progress.elapsed_s if progress.budget_s is not None else progress.steps_done
        self.progress.update(self.row, total=total, completed=done, **training_fields(progress))

    def case_finished(self) -> None:
        if self.row is not None:
            self.progress.update(self.row, visible=False)
