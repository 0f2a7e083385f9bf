"""Threads chosen per case and re-checked during it (issue 27, item 2): a fake clock and a fake load meter."""

from __future__ import annotations

from rnnbench.execution.load import CpuSnapshot, MachineLoad
from rnnbench.execution.thread_policy import (
    MIN_WORK_FOR_TWO_THREADS,
    ThreadGovernor,
    case_threads,
    threads_for,
    worth_more_threads,
)


def machine(others: float, cores: int = 2) -> MachineLoad:
    return MachineLoad(cores=cores, sample_s=0.05, others_runnable=others, others_cpus=others, load_average=None)


def test_the_readme_main_jobs_size_runs_on_one_thread_without_sampling():
    sampled = []
    threads, why = case_threads(2, True, batch_size=64, hidden=128, sample=lambda: sampled.append(1) or machine(0))
    assert threads == 1 and "below" in why and sampled == []
    assert not worth_more_threads(64, 128) and worth_more_threads(64, 256)


def test_a_large_case_takes_one_thread_per_free_cpu():
    assert case_threads(2, True, 64, 512, sample=lambda: machine(0.0))[0] == 2
    assert case_threads(2, True, 64, 512, sample=lambda: machine(1.0))[0] == 1  # one busy-loop process
    assert case_threads(8, True, 64, 512, sample=lambda: machine(3.0, cores=8))[0] == 5


def test_threads_given_are_kept_whatever_the_size_and_load():
    assert case_threads(2, False, 4, 8, sample=lambda: machine(5.0)) == (2, "--threads as given")


def test_threads_for_stays_between_one_and_the_cap():
    assert threads_for(2, 7.0, 2) == 1 and threads_for(2, 0.0, 4) == 2 and threads_for(4, None, 4) == 4


class FakeMeter:
    """CpuSnapshots whose other-process CPU time grows at ``others`` CPUs per second of the fake clock."""

    def __init__(self) -> None:
        self.now, self.others, self.busy = 0.0, 0.0, 0.0

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.busy += self.others * seconds

    def snapshot(self) -> CpuSnapshot:
        return CpuSnapshot(monotonic=self.now, busy_s=self.busy, own_s=0.0)


def governor(meter: FakeMeter, set_to: list[int]) -> ThreadGovernor:
    return ThreadGovernor(cap=2, threads=2, set_threads=set_to.append, clock=lambda: meter.now,
                          snapshot=meter.snapshot, total=2, interval_s=5.0)


def test_a_machine_that_gets_busy_mid_case_drops_to_one_thread_and_back_when_it_is_free():
    meter, set_to = FakeMeter(), []
    gov = governor(meter, set_to)
    meter.advance(6.0)
    gov.tick()
    assert set_to == []  # idle: two threads stay
    meter.others = 1.0  # a busy loop starts
    meter.advance(2.0)
    gov.tick()
    assert set_to == []  # not re-checked before the interval has passed
    meter.advance(4.0)
    gov.tick()
    assert set_to == [1] and gov.threads == 1
    meter.others = 0.0
    meter.advance(5.0)
    gov.tick()
    assert set_to == [1, 2]
    assert gov.facts()["changes"] == [[12.0, 1], [17.0, 2]]


def test_without_proc_the_governor_changes_nothing():
    meter, set_to = FakeMeter(), []
    gov = ThreadGovernor(cap=2, threads=2, set_threads=set_to.append, clock=lambda: meter.now,
                         snapshot=lambda: CpuSnapshot(monotonic=meter.now, busy_s=None, own_s=0.0), total=2)
    meter.advance(60.0)
    gov.tick()
    assert set_to == [] and MIN_WORK_FOR_TWO_THREADS > 64 * 128 * 128
