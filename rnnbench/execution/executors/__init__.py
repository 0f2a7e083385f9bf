"""The executor contract. Executors are plugins (``rnnbench_register_executors``).

An executor takes :class:`~rnnbench.records.CaseJob` objects and yields one
:class:`~rnnbench.records.CaseResult` per job, in whatever order they finish.
It never raises for a case's failure: a case that fails, crashes or times out
comes back as a result with that status. The caller stores each result as it
arrives, so the executor must not write to the results store itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol

from rnnbench.manager import Registry
from rnnbench.records import CaseJob, CaseResult


@dataclass(frozen=True)
class ExecutorOptions:
    """Options from the command line that executors may use.

    :param timeout: seconds a case may take before it is stopped (executors that can stop one).
    :param workers: worker processes to start, for executors that start them.
    :param scheduler: address of an existing cluster scheduler, for executors that use one.
    :param registry: the plugins of the run, for executors that run cases in this process;
        executors that run them elsewhere load the same modules there (``CaseJob.plugin_modules``).
    """

    timeout: float | None = None
    workers: int = 1
    scheduler: str | None = None
    registry: Registry | None = None


class Executor(Protocol):
    def map(self, jobs: Iterable[CaseJob]) -> Iterator[CaseResult]:
        """Run the jobs; yield each result as it finishes."""
        ...

    def close(self) -> None:
        """Release workers and connections; called once, even after an interrupt."""
        ...
