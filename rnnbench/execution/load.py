"""How busy the machine is: before a run and during each case (the threads are chosen in
:mod:`rnnbench.execution.thread_policy`).

Two readings, both from Linux's ``/proc`` (elsewhere they are absent, never guessed):

* :func:`sample_machine` — before the run, for :func:`choose_threading`. It samples for a
  fraction of a second how many other threads want a CPU (``/proc/loadavg``'s count of
  runnable threads, minus this one) and how many CPUs' worth of time other processes took
  (``/proc/stat``). The 1-minute load average lags by a minute, so it is kept only as a fact.
* :class:`LoadMeter` — around one case: CPU time the whole machine spent busy (``/proc/stat``)
  minus the CPU time of this process (``os.times``: every thread, plus reaped children), over
  the case's wall time. That is the CPU time *other* processes took while the case ran.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any

from rnnbench.records import Metric

#: /proc/stat columns (after "cpu") that count as busy: user nice system irq softirq steal.
#: idle and iowait are free time; guest and guest_nice are already inside user and nice.
_BUSY_COLUMNS = (0, 1, 2, 5, 6, 7)
#: a CPU's worth of slack: background daemons and the sampling itself stay below it
TOLERANCE_CPUS = 0.25
#: seconds the start-of-run sample takes (kept short: it is paid by every run, idle or not)
DEFAULT_SAMPLE_S = 0.15


def cores() -> int:
    """Logical CPUs of the machine: what ``/proc/stat``'s totals are spread over."""
    return os.cpu_count() or 1


def _clock_ticks() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not Linux
        return 100


def _busy_cpu_seconds() -> float | None:
    """Seconds all CPUs have spent busy since boot, or ``None`` without ``/proc/stat``."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:]]
    return sum(values[i] for i in _BUSY_COLUMNS if i < len(values)) / _clock_ticks()


def _own_cpu_seconds() -> float:
    """CPU time of this process (all its threads) and of the children it has reaped."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _runnable_threads() -> int | None:
    """Threads running or ready to run right now, machine-wide (``/proc/loadavg``'s 4th field)."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return None


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except (AttributeError, OSError):  # pragma: no cover - not Unix
        return None


# -- during a case -------------------------------------------------------------------------------

@dataclass(frozen=True)
class CpuSnapshot:
    monotonic: float
    busy_s: float | None
    own_s: float

    @classmethod
    def now(cls) -> "CpuSnapshot":
        return cls(time.monotonic(), _busy_cpu_seconds(), _own_cpu_seconds())


@dataclass(frozen=True)
class LoadDuring:
    """What other processes took from the machine while a block of code ran.

    ``others_cpu_s`` is ``None`` where ``/proc/stat`` does not exist. It counts whole
    clock ticks (10 ms each), so it is meaningful for blocks of a second or more.
    """

    wall_s: float
    own_cpu_s: float
    others_cpu_s: float | None
    cores: int
    load_average_1min_end: float | None

    @property
    def others_cpus(self) -> float | None:
        """Mean number of CPUs other processes kept busy during the block."""
        if self.others_cpu_s is None or self.wall_s <= 0:
            return None
        return self.others_cpu_s / self.wall_s

    def distorted(self, threads: int) -> bool:
        """True when other processes left fewer free CPUs than the block's ``threads`` needed."""
        others = self.others_cpus
        return others is not None and others + threads > self.cores + TOLERANCE_CPUS

    @classmethod
    def from_facts(cls, facts: dict[str, Any]) -> "LoadDuring | None":
        """Back from a stored row's ``WorkerRecord.load``; ``None`` for rows stored without it."""
        try:
            return cls(wall_s=float(facts["wall_s"]), own_cpu_s=float(facts["own_cpu_s"]),
                       others_cpu_s=None if facts.get("others_cpu_s") is None else float(facts["others_cpu_s"]),
                       cores=int(facts["cores"]), load_average_1min_end=facts.get("load_average_1min_end"))
        except (KeyError, TypeError, ValueError):
            return None

    def facts(self) -> dict[str, Any]:
        """JSON-ready facts for a row's ``worker`` record (``others_cpus`` included)."""
        data = asdict(self)
        data["others_cpus"] = self.others_cpus
        return data

    def metrics(self) -> list[Metric]:
        """The readings as :class:`rnnbench.records.Metric` rows (scenario ``"machine"``)."""
        how = ("(/proc/stat busy CPU time of the machine - this process's CPU time from os.times)"
               f" over the case's wall time; whole 10 ms ticks; {self.cores} logical CPUs")
        out = []
        if self.others_cpu_s is not None:
            out += [
                Metric("machine", "others_cpu_s", self.others_cpu_s, "s", "CPU time other processes took " + how),
                Metric("machine", "others_cpus", self.others_cpus, "CPUs",
                       "mean CPUs other processes kept busy " + how),
            ]
        out.append(Metric("machine", "own_cpu_s", self.own_cpu_s, "s",
                          "CPU time of the process running the case, all threads (os.times)"))
        if self.load_average_1min_end is not None:
            out.append(Metric("machine", "load_average_1min", self.load_average_1min_end, "",
                              "1-minute load average at the case's end (os.getloadavg)"))
        return out


class LoadMeter:
    """Context manager: ``with LoadMeter() as meter: ...`` then ``meter.result`` (a :class:`LoadDuring`)."""

    def __init__(self) -> None:
        self.result: LoadDuring | None = None
        self._start: CpuSnapshot | None = None

    def __enter__(self) -> "LoadMeter":
        self._start = CpuSnapshot.now()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._start is not None
        end = CpuSnapshot.now()
        self.result = between(self._start, end)


def between(start: CpuSnapshot, end: CpuSnapshot) -> LoadDuring:
    """The load between two snapshots taken in the same process."""
    own = max(0.0, end.own_s - start.own_s)
    others = None
    if start.busy_s is not None and end.busy_s is not None:
        # tick accounting can attribute a little of our own time differently: never negative
        others = max(0.0, (end.busy_s - start.busy_s) - own)
    average = load_average()
    return LoadDuring(wall_s=end.monotonic - start.monotonic, own_cpu_s=own, others_cpu_s=others,
                      cores=cores(), load_average_1min_end=average[0] if average else None)


# -- before a run --------------------------------------------------------------------------------

@dataclass(frozen=True)
class MachineLoad:
    """The machine's load over a short sample, taken while this process is idle."""

    cores: int
    sample_s: float
    #: mean number of other threads running or waiting for a CPU (``None`` without /proc)
    others_runnable: float | None
    #: mean CPUs other processes kept busy (saturates at ``cores``; ``None`` without /proc)
    others_cpus: float | None
    load_average: tuple[float, float, float] | None

    @property
    def others_demand(self) -> float:
        """How many CPUs other processes want: runnable threads, which can exceed the cores."""
        values = [v for v in (self.others_runnable, self.others_cpus) if v is not None]
        return max(values) if values else 0.0

    @property
    def measured(self) -> bool:
        return self.others_runnable is not None or self.others_cpus is not None

    def busy_for(self, threads: int) -> bool:
        """True when ``threads`` of ours would not each find a free CPU."""
        return self.measured and self.others_demand + threads > self.cores + TOLERANCE_CPUS

    def describe(self) -> str:
        if not self.measured:
            return "machine load not measured (no /proc)"
        average = f", 1-minute load average {self.load_average[0]:.2f}" if self.load_average else ""
        return (f"other processes wanted {self.others_demand:.1f} of {self.cores} CPUs"
                f" (sampled over {self.sample_s:.2g} s{average})")

    def facts(self) -> dict[str, Any]:
        data = asdict(self)
        data["others_demand"] = self.others_demand
        return data


def sample_machine(sample_s: float = DEFAULT_SAMPLE_S, interval_s: float = 0.02) -> MachineLoad:
    """Sample the machine for ``sample_s`` seconds; this process sleeps meanwhile.

    The runnable count includes the thread that reads it, so one is subtracted; the
    process's other threads (none before torch is imported) would count as others.
    """
    start = CpuSnapshot.now()
    counts: list[int] = []
    deadline = time.monotonic() + sample_s
    while True:
        count = _runnable_threads()
        if count is not None:
            counts.append(max(0, count - 1))
        if time.monotonic() >= deadline:
            break
        time.sleep(interval_s)
    during = between(start, CpuSnapshot.now())
    return MachineLoad(cores=cores(), sample_s=sample_s,
                       others_runnable=sum(counts) / len(counts) if counts else None,
                       others_cpus=during.others_cpus, load_average=load_average())
