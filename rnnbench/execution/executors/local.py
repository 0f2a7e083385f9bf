"""The ``local`` executor: every case in this process, one after another.

The fastest way to start and the easiest to debug; a case that crashes the
interpreter (a segfault) takes the sweep down, which the ``process`` executor
prevents.
"""

from __future__ import annotations

import sys
from typing import Iterable, Iterator

from rnnbench.execution.runner import execute_job
from rnnbench.hookspecs import hookimpl
from rnnbench.records import CaseJob, CaseResult
from rnnbench.specs import ExecutorOptions, ExecutorSpec


class LocalExecutor:
    def __init__(self, options: ExecutorOptions):
        self.options = options
        if options.timeout is not None:  # silently ignoring it would let a hang run forever
            print("rnnbench: warning: the local executor cannot stop a case, so --timeout is ignored;"
                  " use --executor process", file=sys.stderr)
        ignored = [flag for flag, given in (("--workers", options.workers != 1), ("--scheduler", options.scheduler))
                   if given]
        if ignored:
            print(f"rnnbench: warning: the local executor runs every case in this process, so"
                  f" {' and '.join(ignored)} {'is' if len(ignored) == 1 else 'are'} ignored; use --executor process"
                  " (--workers) or --executor dask (--workers, --scheduler)", file=sys.stderr)

    def map(self, jobs: Iterable[CaseJob]) -> Iterator[CaseResult]:
        for job in jobs:
            yield execute_job(job, self.options.registry, self.options.case_observer)

    def close(self) -> None:
        pass


@hookimpl
def rnnbench_register_executors(register):
    register(ExecutorSpec(
        name="local", factory=LocalExecutor,
        description="in this process, one case after another (default)",
    ))
