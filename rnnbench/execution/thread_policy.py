"""How many threads a case runs with: chosen per case, in the process that runs it, and re-checked.

* :func:`choose_threading` — once, before torch is imported: the OpenMP wait policy (and, with
  ``--threads``, the count as given).
* :func:`case_threads` — per case, where it runs: one thread per CPU other processes leave free.
* :func:`probe_threads` — then, on the CPU, with the case's model built: its own forward timed on
  one thread and on that many, alternating; more than one thread is kept only where it runs the
  forward at least :data:`MIN_GAIN_FOR_MORE_THREADS` times faster (:class:`ThreadProbe`).
* :class:`ThreadGovernor` — during a long case (training): every :data:`RECHECK_S` seconds the
  CPU share other processes took is read again and the thread count follows it, so that a
  machine that gets busy mid-run costs about the share it lost, not a spinning partner thread.

Why threads are chosen here, before torch is imported: torch's CPU build runs its parallel
regions on libgomp, whose threads spin at every barrier while a partner thread finishes. When
other processes hold the cores, the partner is descheduled for whole time slices and the
spinning thread burns its own share waiting: a 2-thread sweep on a 2-core machine shared with
six busy processes ran 16x slower than idle, where sharing the cores explains about 4x (issue
13). libgomp reads its wait policy (``OMP_WAIT_POLICY``) once, when it is loaded, so the choice
must be in the environment before the first ``import torch`` of the process that runs cases.

Why the gain is measured and not read off the case's size: it depends on the CPU. A rule of
batch x hidden^2 >= 2^22 for two threads, set from one machine, put the README's main job
(64 x 128^2) on one thread; on the AMD EPYC 2-core machine it was then checked on, two threads ran
training steps at that size 1.4-1.7x faster (``benchmarks/thread_gain.py``, which prints the gain
at several sizes on a quiet machine), and the whole job took 186-198 s against 132 s (issue 27).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, MutableMapping

from rnnbench.execution.load import TOLERANCE_CPUS, CpuSnapshot, MachineLoad, between, cores, sample_machine

#: environment variables that already decide the OpenMP wait behaviour: never overridden
_USER_OPENMP_KEYS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
#: how many times faster the case's forward must run on more threads than on one for the case to keep
#: them: a second thread that saves less than about a sixth of the time is not worth the risk of
#: spinning for a descheduled partner when the machine gets busy (issue 13: 16x slower)
MIN_GAIN_FOR_MORE_THREADS = 1.2
#: alternating blocks per thread count in the probe, and the seconds of calls a block lasts at least
PROBE_ROUNDS = 3
PROBE_BLOCK_S = 0.005
#: calls per block at most (a forward of microseconds): the probe stays within tens of milliseconds
PROBE_MAX_CALLS = 200
#: seconds between re-checks of the load during a case
RECHECK_S = 5.0


def threads_for(cap: int, others_cpus: float | None, total: int) -> int:
    """One thread per CPU that other processes leave free, between 1 and ``cap``: the one free-CPU formula.

    ``others_cpus`` is what other processes want or take (``None``: not measured, every CPU is free);
    a CPU counts as free with :data:`TOLERANCE_CPUS` of slack for daemons and the sampling itself.
    """
    free = total - (others_cpus or 0.0)
    return max(1, min(cap, int(free + TOLERANCE_CPUS)))


@dataclass(frozen=True)
class CaseThreads:
    """The threads one case ran with, as the runner chose and applied them (stored as ``WorkerRecord.thread_record``).

    ``chosen`` is the count its timed regions ran on (WorkerRecord.threads too, for readers of one
    number); ``cap`` and ``automatic`` what the run allowed; ``reason`` every step of the choice;
    ``probe`` the thread probe's measurement (:meth:`ThreadProbe.facts`) where it ran; and
    ``during_training`` the governor's changes while training (:meth:`ThreadGovernor.facts`).
    """

    cap: int
    automatic: bool
    chosen: int
    reason: str
    probe: dict[str, Any] | None = None
    during_training: dict[str, Any] | None = None

    def facts(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any]) -> "CaseThreads | None":
        """Back from a stored row; ``None`` for rows stored before rnnbench kept the record."""
        try:
            return cls(cap=int(facts["cap"]), automatic=bool(facts["automatic"]), chosen=int(facts["chosen"]),
                       reason=str(facts["reason"]), probe=facts.get("probe"),
                       during_training=facts.get("during_training"))
        except (KeyError, TypeError, ValueError):
            return None

    def changed(self) -> bool:
        """Whether the count moved during the case (the governor followed the load while training)."""
        return bool((self.during_training or {}).get("changes"))


def case_threads(cap: int, automatic: bool,
                 sample: Callable[[], MachineLoad] = lambda: sample_machine(0.05)) -> CaseThreads:
    """The threads of one case: ``cap`` as given with --threads; otherwise one per CPU the others leave free.

    With more than one, :func:`probe_threads` then decides whether the case gains from them.
    """
    if not automatic:
        return CaseThreads(cap=cap, automatic=False, chosen=cap, reason="--threads as given")
    if cap <= 1:
        return CaseThreads(cap=cap, automatic=True, chosen=1, reason="one CPU")
    load = sample()
    threads = threads_for(cap, load.others_demand if load.measured else None, load.cores)
    return CaseThreads(cap=cap, automatic=True, chosen=threads,
                       reason=f"{load.describe()}: {threads} of {cap} thread(s), one per free CPU")


@dataclass(frozen=True)
class ThreadProbe:
    """The case's forward timed on one thread and on ``more``: medians of alternating blocks."""

    more: int
    one_s: float
    more_s: float
    rounds: int
    calls_per_block: int

    @property
    def gain(self) -> float:
        return self.one_s / self.more_s if self.more_s > 0 else math.inf

    def choice(self) -> tuple[int, str]:
        """(threads, why): ``more`` where they gain at least MIN_GAIN_FOR_MORE_THREADS, else one."""
        measured = (f"the case's forward took {self.one_s * 1e3:.3g} ms on 1 thread and {self.more_s * 1e3:.3g} ms"
                    f" on {self.more} (medians of {self.rounds} alternating blocks of {self.calls_per_block}"
                    f" call(s), time.perf_counter): {self.gain:.2f}x")
        if self.gain >= MIN_GAIN_FOR_MORE_THREADS:
            return self.more, f"{measured}, at least {MIN_GAIN_FOR_MORE_THREADS:g}x: {self.more} threads"
        return 1, f"{measured}, under {MIN_GAIN_FOR_MORE_THREADS:g}x: 1 thread (more gain less than they risk)"

    def facts(self) -> dict[str, Any]:
        return {"more": self.more, "one_s": self.one_s, "more_s": self.more_s, "gain": self.gain,
                "rounds": self.rounds, "calls_per_block": self.calls_per_block,
                "min_gain": MIN_GAIN_FOR_MORE_THREADS, "method": "forward, time.perf_counter, alternating blocks"}


def probe_threads(call: Callable[[], Any], set_threads: Callable[[int], None], more: int,
                  clock: Callable[[], float] = time.perf_counter, rounds: int = PROBE_ROUNDS,
                  block_s: float = PROBE_BLOCK_S) -> ThreadProbe:
    """Time ``call`` (a forward of the case's model) on 1 and ``more`` threads, alternating blocks.

    Each count gets a warm-up call first; a block repeats the call for at least ``block_s``
    (sized from the warm-up, at most PROBE_MAX_CALLS calls) so that a block of a fast forward
    is not one timer tick. It leaves the thread count at ``more``; the caller sets the choice.
    """
    set_threads(1)
    start = clock()
    call()
    single = clock() - start
    set_threads(more)
    call()
    calls = max(1, min(PROBE_MAX_CALLS, math.ceil(block_s / single) if single > 0 else PROBE_MAX_CALLS))
    blocks: dict[int, list[float]] = {1: [], more: []}
    for _ in range(rounds):
        for threads in (1, more):
            set_threads(threads)
            start = clock()
            for _ in range(calls):
                call()
            blocks[threads].append((clock() - start) / calls)
    return ThreadProbe(more=more, one_s=statistics.median(blocks[1]), more_s=statistics.median(blocks[more]),
                       rounds=rounds, calls_per_block=calls)


@dataclass
class ThreadGovernor:
    """Re-checks the load during a case and follows it with the thread count (automatic threading only).

    ``clock`` and ``snapshot`` are injectable so that tests drive it with a fake clock and a fake meter.
    """

    cap: int
    threads: int
    set_threads: Callable[[int], None]
    clock: Callable[[], float]
    snapshot: Callable[[], CpuSnapshot] = CpuSnapshot.now
    total: int = field(default_factory=cores)
    interval_s: float = RECHECK_S
    #: (seconds into the case, threads from then on) for every change
    changes: list[tuple[float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._start = self._last_time = self.clock()
        self._last = self.snapshot()

    def tick(self) -> None:
        """Called between steps; cheap unless ``interval_s`` has passed since the last check."""
        now = self.clock()
        if now - self._last_time < self.interval_s:
            return
        current = self.snapshot()
        others = between(self._last, current).others_cpus
        self._last, self._last_time = current, now
        if others is None:
            return
        threads = threads_for(self.cap, others, self.total)
        if threads != self.threads:
            self.threads = threads
            self.set_threads(threads)
            self.changes.append((round(now - self._start, 3), threads))

    def facts(self) -> dict[str, Any]:
        return {"threads_at_end": self.threads, "changes": [list(c) for c in self.changes],
                "recheck_s": self.interval_s}


@dataclass(frozen=True)
class ThreadingChoice:
    """Threads for every case of a run, and the OpenMP wait policy to start torch with."""

    threads: int
    #: the OMP_WAIT_POLICY to set, or ``None`` to leave OpenMP's default (spin, then sleep)
    wait_policy: str | None
    #: whether rnnbench chose ``threads`` (no ``--threads`` given)
    automatic: bool
    reason: str


def choose_threading(requested: int | None, load: MachineLoad,
                     environ: Mapping[str, str] | None = None) -> ThreadingChoice:
    """Pick threads and wait policy from the load; an explicit ``requested`` count is kept.

    * Not requested: one thread per CPU that other processes leave free, at least one
      (on an idle machine all cores, as before). On a busy 2-core machine that is one
      thread, which has no partner to spin for (issue 13: 45 s against 204 s with two).
    * Requested, and more than the free CPUs: the count is kept (the user asked for it),
      and OpenMP threads sleep at barriers (``OMP_WAIT_POLICY=PASSIVE``) instead of spinning.
    * An idle machine keeps OpenMP's default, which is fastest there (PASSIVE cost 60%
      on the idle 2-core machine of issue 13).
    * A wait policy already in the environment (``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``,
      ``KMP_BLOCKTIME``) is the user's and is never changed.
    """
    environ = os.environ if environ is None else environ
    total = load.cores
    if requested is None:
        threads = threads_for(total, load.others_demand if load.measured else None, total)
        automatic = True
    else:
        threads, automatic = int(requested), False
    oversubscribed = load.busy_for(threads)
    user_set = [k for k in _USER_OPENMP_KEYS if k in environ]
    policy = "PASSIVE" if oversubscribed and threads > 1 and not user_set else None
    if not load.measured:
        reason = "machine load unknown (no /proc): " + ("all cores" if automatic else "threads as given")
    elif automatic and threads < total:
        reason = f"{load.describe()}: {threads} thread(s), one per free CPU"
    elif oversubscribed and threads > 1:
        how = (f"OpenMP threads sleep at barriers (OMP_WAIT_POLICY={policy})" if policy
               else f"OpenMP wait policy left to {', '.join(user_set)} from the environment")
        reason = f"{load.describe()}: {threads} thread(s) as asked; {how}"
    else:
        reason = f"{load.describe()}: {threads} thread(s)"
    return ThreadingChoice(threads=threads, wait_policy=policy, automatic=automatic, reason=reason)


def apply_threading(choice: ThreadingChoice, environ: MutableMapping[str, str] | None = None) -> str | None:
    """Put the wait policy into the environment before OpenMP starts; a note if it is too late.

    Worker processes started afterwards (``--executor process``) inherit it too.
    """
    environ = os.environ if environ is None else environ
    if choice.wait_policy is None:
        return None
    if "torch" in sys.modules:  # libgomp is loaded: its wait policy is fixed for this process
        return (f"OMP_WAIT_POLICY={choice.wait_policy} comes too late for this process (torch is already"
                " imported); it applies to worker processes only")
    environ["OMP_WAIT_POLICY"] = choice.wait_policy
    return None
