"""A run on the terminal: the :class:`~rnnbench.execution.observer.RunObserver` that ``run`` and ``study run`` pass in.

Its lines go to stderr (the results table is stdout's); a progress bar follows the cases unless
it is turned off. The bar starts only once the run exists: an error before that (a bad --out, a
missing executor package) is then the only thing printed.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from rnnbench.records import CaseResult, RunInfo
from rnnbench.execution.observer import RunObserver


class ConsoleObserver(RunObserver):
    """Prints a run's notes and warnings on ``err``, and its progress bar when ``show_progress``."""

    def __init__(self, err: Console, show_progress: bool = True) -> None:
        self.err = err
        self.show_progress = show_progress
        self._progress: Progress | None = None
        self._bar: TaskID | None = None

    def skipping(self, note: str) -> None:
        self.err.print(f"[yellow]rnnbench: skipping[/yellow] {note}")

    def note(self, text: str) -> None:
        self.err.print(text)

    def warning(self, text: str) -> None:
        self.err.print(f"rnnbench: warning: {text}", markup=False, highlight=False, soft_wrap=True)

    def run_started(self, run: RunInfo, to_run: int, already_done: int, resume: str) -> None:
        err = self.err
        done = f", {already_done} already done" if already_done else ""
        # on a terminal rich wraps between words, and the command gets a line of its own, so neither the
        # run id nor the command is cut by the terminal; piped, lines stay whole
        sep = "\n  " if err.is_terminal else " "
        err.print(f"run {run.run_id}: {to_run} case(s) to run{done}; if it stops, continue with:{sep}{resume}",
                  highlight=False, soft_wrap=not err.is_terminal)
        if self.show_progress:
            columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
            self._progress = Progress(*columns, console=err, transient=False)
            self._progress.start()
            self._bar = self._progress.add_task(f"run {run.run_id}", total=to_run)

    def case_finished(self, result: CaseResult, index: int, total: int) -> None:
        if self._progress is None or self._bar is None:
            return
        mark = "ok" if result.status == "ok" else result.status.upper()
        self._progress.update(self._bar, completed=index, total=total,
                              description=f"{result.config.model} {result.config.task}: {mark}")

    def run_stopped(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress, self._bar = None, None
