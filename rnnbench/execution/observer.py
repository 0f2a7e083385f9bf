"""What a run tells whoever started it: the observer that ``rnnbench.run_service`` reports to.

The service prints nothing; the commands pass an observer that prints to the terminal
(:mod:`rnnbench.render.run_console`), a test may pass one that records.
"""

from __future__ import annotations

from rnnbench.execution.progress import CaseObserver
from rnnbench.records import CaseResult, RunInfo


class RunObserver:
    """What a run tells whoever started it. Every method does nothing here; a subclass prints."""

    def skipping(self, note: str) -> None:
        """A point of the sweep that is not a case (a model that lacks the device, ...)."""

    def note(self, text: str) -> None:
        """A line worth showing (a --match-params choice)."""

    def warning(self, text: str) -> None:
        """A warning, without the leading ``rnnbench: warning:``."""

    def run_started(self, run: RunInfo, to_run: int, already_done: int, resume: str) -> None:
        """The run exists in the store; ``resume`` is the command that continues it."""

    def case_finished(self, result: CaseResult, index: int, total: int) -> None:
        """A case is stored: ``index`` of ``total`` done."""

    def case_observer(self) -> CaseObserver | None:
        """Who hears the phases and training steps of each case run in this process (None: nobody)."""
        return None

    def run_stopped(self) -> None:
        """No more cases will run (finished, failed or interrupted)."""
