"""Whether a timed region ran alone in its process: a check every case's timings get, whatever the task does.

A library can leave something behind in the process that runs the cases: a thread that
keeps spinning, or a changed OpenMP thread count. The first case of the ``uea`` task did
both through aeon's 1-NN DTW baseline (issue 37): numba's OpenMP threading layer binds to
the libgomp torch loaded, and when it starts it calls ``omp_set_num_threads(NUMBA_NUM_THREADS)``
on the calling thread, so the next forward ran on every core although the case was pinned
to one; on a busy 2-core machine it took 10-250x longer. The runner re-pins the thread
pools before each timed region and computes baselines after them (rnnbench.execution.runner);
this check is the guard for whatever else a plugin may do.

The check reads CPU time, never the wall clock, so a busy machine does not trip it (that is
the load meter's job, rnnbench.execution.load): over the timed region, the CPU time of the
process's other threads is compared with what the case's own threads allow. With one
thread, torch's pool has no partner and the others take nothing; with ``n`` threads, the
partners take at most ``n - 1`` times the timing thread's CPU time. Anything above that,
or a torch thread count other than the case's, means the time measured something else too.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator

#: CPU time other threads of the process may take beyond what the case's threads allow,
#: as a fraction of the timing thread's CPU time (Python's own housekeeping, timer ticks)
SLACK = 0.25
#: and in seconds: a region of a few milliseconds reads CPU clocks in whole ticks
SLACK_S = 0.02


@dataclass(frozen=True)
class TimingCheck:
    """CPU time over one timed region: the timing thread's, the whole process's, and the threads torch ran on."""

    scenario: str
    threads: int
    torch_threads: int | None
    wall_s: float
    thread_cpu_s: float
    process_cpu_s: float

    @property
    def others_cpu_s(self) -> float:
        """CPU time the process's other threads took during the region."""
        return max(0.0, self.process_cpu_s - self.thread_cpu_s)

    @property
    def allowed_s(self) -> float:
        """What the case's own partner threads may take: (threads - 1) x the timing thread's time, plus slack."""
        return (self.threads - 1) * self.thread_cpu_s + SLACK * self.thread_cpu_s + SLACK_S

    @property
    def distorted(self) -> bool:
        return self.reason is not None

    @property
    def reason(self) -> str | None:
        """Why the region's time measured more than the case, or ``None`` when it ran alone."""
        if self.torch_threads is not None and self.torch_threads != self.threads:
            return (f"the {self.scenario} ran on {self.torch_threads} torch thread(s), not the case's"
                    f" {self.threads}: something in the process changed the thread pool")
        if self.others_cpu_s > self.allowed_s:
            return (f"other threads of the process took {self.others_cpu_s:.3g} s of CPU during the {self.scenario}'s"
                    f" timing, against {self.thread_cpu_s:.3g} s of the timing thread ({self.threads} thread(s)"
                    " allowed): a thread left running by a task, a baseline or a library")
        return None

    def facts(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(others_cpu_s=self.others_cpu_s, allowed_s=self.allowed_s, reason=self.reason,
                    method="CPU time over the timed region: time.thread_time of the timing thread against"
                           " time.process_time of the process")
        return data

    @classmethod
    def from_facts(cls, facts: dict[str, Any]) -> "TimingCheck | None":
        try:
            return cls(scenario=str(facts["scenario"]), threads=int(facts["threads"]),
                       torch_threads=None if facts.get("torch_threads") is None else int(facts["torch_threads"]),
                       wall_s=float(facts["wall_s"]), thread_cpu_s=float(facts["thread_cpu_s"]),
                       process_cpu_s=float(facts["process_cpu_s"]))
        except (KeyError, TypeError, ValueError):
            return None


def _torch_threads() -> int | None:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        return None
    return torch.get_num_threads()


@contextlib.contextmanager
def checked(scenario: str, threads: int, record: Callable[[TimingCheck], None],
            torch_threads: Callable[[], int | None] = _torch_threads) -> Iterator[None]:
    """Measure the CPU time of the block and hand the :class:`TimingCheck` to ``record``."""
    wall, thread, process = time.perf_counter(), time.thread_time(), time.process_time()
    yield
    # read after the timed calls: a library that changes the pool during the warm-up shows here
    record(TimingCheck(scenario=scenario, threads=threads, torch_threads=torch_threads(),
                       wall_s=time.perf_counter() - wall, thread_cpu_s=time.thread_time() - thread,
                       process_cpu_s=time.process_time() - process))
