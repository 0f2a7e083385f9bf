"""Did the machine's load change while a case trained to a time budget?

A budgeted comparison is fair only if every case had the machine on the same terms:
a case that shared its cores with a burst of other work reaches fewer steps for a
reason that has nothing to do with its model. The budget is cut into up to four
parts of at least a second each; in each part the CPU time other processes took is
read with the load meter of :mod:`rnnbench.execution.load` (``/proc/stat``, 10 ms
ticks). The load *changed* when the busiest and the quietest part differ by at
least :data:`CHANGE_CPUS` CPUs, or when other work left the case fewer free CPUs
than its threads in some parts and not in others.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnbench.execution.load import CpuSnapshot, LoadDuring, between

#: CPUs of other work appearing or disappearing between parts of a budget that count as a change
CHANGE_CPUS = 0.5
#: the budget is read in at most this many parts
MAX_PARTS = 4
#: and each part lasts at least this long (the meter counts 10 ms ticks)
MIN_PART_S = 1.0


@dataclass(frozen=True)
class BudgetLoadReading:
    """Other processes' CPU use in each part of a budget; ``changed`` is None where it cannot be read."""

    others_cpus: tuple[float | None, ...]
    changed: bool | None
    sentence: str


class BudgetLoad:
    """Snapshots at the budget's part boundaries: ``tick(elapsed)`` after each step, ``finish()`` at the end."""

    def __init__(self, budget_s: float, threads: int):
        parts = max(1, min(MAX_PARTS, int(budget_s // MIN_PART_S)))
        self.bounds = [budget_s * (k + 1) / parts for k in range(parts - 1)]
        self.threads = threads
        self.snapshots = [CpuSnapshot.now()]

    def tick(self, elapsed_s: float) -> None:
        if len(self.snapshots) <= len(self.bounds) and elapsed_s >= self.bounds[len(self.snapshots) - 1]:
            self.snapshots.append(CpuSnapshot.now())

    def finish(self) -> BudgetLoadReading:
        self.snapshots.append(CpuSnapshot.now())
        parts = [between(a, b) for a, b in zip(self.snapshots, self.snapshots[1:])]
        return judge(parts, self.threads)


def judge(parts: list[LoadDuring], threads: int) -> BudgetLoadReading:
    """Whether the load of other processes changed between the parts of a budget, in a sentence."""
    others = tuple(part.others_cpus for part in parts)
    if len(parts) < 2:
        return BudgetLoadReading(others, None, "not judged: the budget is too short to read in parts"
                                 f" of at least {MIN_PART_S:g} s")
    if any(value is None for value in others):
        return BudgetLoadReading(others, None, "not measured: /proc/stat is not readable here")
    readings = ", ".join(f"{value:.2f}" for value in others)
    spread = max(others) - min(others)
    distorted = {part.distorted(threads) for part in parts}
    changed = spread >= CHANGE_CPUS or len(distorted) > 1
    cores = parts[0].cores
    what = (f"other processes kept {readings} CPUs busy in the budget's {len(parts)} parts"
            f" (of {cores} logical CPUs, the case used {threads} thread(s))")
    if not changed:
        return BudgetLoadReading(others, False, f"steady: {what}")
    return BudgetLoadReading(others, True, f"changed: {what}; steps reached are not at equal compute")
