"""A run on the terminal: the :class:`~rnnbench.execution.observer.RunObserver` that ``run`` and ``study run`` pass in.

Its lines go to stderr (the results table is stdout's); a progress bar follows the cases unless
it is turned off. The bar starts only once the run exists: an error before that (a bad --out, a
missing executor package) is then the only thing printed.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress, TaskID

from rnnbench.execution.observer import RunObserver
from rnnbench.execution.progress import CaseObserver
from rnnbench.records import CaseResult, RunInfo
from rnnbench.render.progress import TerminalCaseProgress, run_progress


class ConsoleObserver(RunObserver):
    """Prints a run's notes and warnings on ``err``, and its progress bar when ``show_progress``."""

    def __init__(self, err: Console, show_progress: bool = True) -> None:
        self.err = err
        self.show_progress = show_progress
        self._progress: Progress | None = None
        self._bar: TaskID | None = None
        # the case row (steps, loss, time left of the case running in this process) is handed to the
        # executor before the run starts; each run (a study's sweep) gets bars of its own in run_started
        self._case_row = TerminalCaseProgress(run_progress(err)) if show_progress else None

    def skipping(self, note: str) -> None:
        self.err.print(f"[yellow]rnnbench: skipping[/yellow] {note}")

    def note(self, text: str) -> None:
        self.err.print(text)

    def warning(self, text: str) -> None:
        # on a terminal rich wraps between words; piped, a warning stays one whole line
        self.err.print(f"rnnbench: warning: {text}", markup=False, highlight=False, soft_wrap=not self.err.is_terminal)

    def run_started(self, run: RunInfo, to_run: int, already_done: int, resume: str) -> None:
        err = self.err
        done = f", {already_done} already done" if already_done else ""
        # on a terminal rich wraps between words, and the command gets a line of its own, so neither the
        # run id nor the command is cut by the terminal; piped, lines stay whole
        sep = "\n  " if err.is_terminal else " "
        err.print(f"run {run.run_id}: {to_run} case(s) to run{done}; if it stops, continue with:{sep}{resume}",
                  highlight=False, soft_wrap=not err.is_terminal)
        if self._case_row is not None:
            self._progress = run_progress(err)
            self._case_row.progress, self._case_row.row = self._progress, None
            self._progress.start()
            self._bar = self._progress.add_task(f"run {run.run_id}", total=to_run)

    def case_finished(self, result: CaseResult, index: int, total: int) -> None:
        if self._progress is None or self._bar is None:
            return
        mark = "ok" if result.status == "ok" else result.status.upper()
        self._progress.update(self._bar, completed=index, total=total,
                              description=f"{result.config.model} {result.config.task}: {mark}")
        if self._case_row is not None:
            self._case_row.case_finished()

    def case_observer(self) -> CaseObserver | None:
        return self._case_row

    def run_stopped(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress, self._bar = None, None
