"""Threads chosen per case and re-checked during it (issue 27, item 2): a fake clock and a fake load meter."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rnnbench.execution import runner
from rnnbench.execution.load import CpuSnapshot, MachineLoad
from rnnbench.execution.thread_policy import (
    MIN_GAIN_FOR_MORE_THREADS,
    PROBE_MAX_CALLS,
    ThreadGovernor,
    ThreadProbe,
    case_threads,
    probe_threads,
    threads_for,
    CaseThreads,
)
from rnnbench.records import CaseConfig, CaseResult, RunSettings


def machine(others: float, cores: int = 2) -> MachineLoad:
    return MachineLoad(cores=cores, sample_s=0.05, others_runnable=others, others_cpus=others, load_average=None)


def test_a_case_takes_one_thread_per_free_cpu_whatever_its_size():
    assert case_threads(2, True, sample=lambda: machine(0.0)).chosen == 2
    assert case_threads(2, True, sample=lambda: machine(1.0)).chosen == 1  # one busy-loop process
    assert case_threads(8, True, sample=lambda: machine(3.0, cores=8)).chosen == 5


def test_threads_given_are_kept_whatever_the_load():
    assert case_threads(2, False, sample=lambda: machine(5.0)) == CaseThreads(
        cap=2, automatic=False, chosen=2, reason="--threads as given")


def test_threads_for_stays_between_one_and_the_cap():
    assert threads_for(2, 7.0, 2) == 1 and threads_for(2, 0.0, 4) == 2 and threads_for(4, None, 4) == 4


class FakeForward:
    """A forward that takes ``cost[threads]`` seconds of a fake clock at the thread count last set."""

    def __init__(self, cost: dict[int, float]) -> None:
        self.cost, self.now, self.threads, self.calls, self.set_to = cost, 0.0, 1, 0, []

    def set_threads(self, threads: int) -> None:
        self.threads = threads
        self.set_to.append(threads)

    def __call__(self) -> None:
        self.now += self.cost[self.threads]
        self.calls += 1


def test_the_probe_keeps_two_threads_where_they_run_the_forward_faster():
    forward = FakeForward({1: 0.004, 2: 0.002})
    probe = probe_threads(forward, forward.set_threads, 2, clock=lambda: forward.now)
    assert (probe.one_s, probe.more_s, probe.gain) == pytest.approx((0.004, 0.002, 2.0))
    assert probe.calls_per_block == 2  # 5 ms blocks of a 4 ms call
    assert forward.calls == 2 + 2 * 3 * 2  # a warm-up at each count, then 3 alternating rounds
    assert forward.set_to == [1, 2] + [1, 2] * 3
    threads, why = probe.choice()
    assert threads == 2 and "2.00x" in why and "4 ms on 1 thread" in why


def test_the_probe_keeps_one_thread_where_a_second_gains_too_little():
    forward = FakeForward({1: 0.010, 2: 0.010 / (MIN_GAIN_FOR_MORE_THREADS - 0.05)})
    threads, why = probe_threads(forward, forward.set_threads, 2, clock=lambda: forward.now).choice()
    assert threads == 1 and "under 1.2x" in why


def test_a_forward_of_microseconds_is_timed_in_blocks_of_bounded_calls():
    forward = FakeForward({1: 1e-7, 4: 1e-7})
    probe = probe_threads(forward, forward.set_threads, 4, clock=lambda: forward.now)
    assert probe.calls_per_block == PROBE_MAX_CALLS and probe.choice()[0] == 1


def _case(device: str = "cpu") -> CaseConfig:
    return CaseConfig(model="lstm@torch", task="copy", seq_len=10, batch_size=4, hidden=8, layers=1, device=device,
                      dtype="float32", seed=0, steps=1, lr=2e-3, task_options=())


class RandomForward:
    """A model whose forward draws random numbers: the probe must not move the case's random state."""

    def to_device(self, batch):
        return batch

    def forward(self, batch):
        return torch.rand(3), np.random.rand(3)


class OneBatchTask:
    def batch(self, split, index, size):
        return (split, index, size)


def test_the_runner_applies_the_probes_choice_records_it_and_leaves_the_random_state(monkeypatch):
    monkeypatch.setattr(runner, "probe_threads", lambda call, set_threads, more: (
        call(), ThreadProbe(more=more, one_s=0.01, more_s=0.004, rounds=3, calls_per_block=2))[1])
    result = CaseResult(config=_case(), worker={"threads": 2})
    torch.manual_seed(5)
    np.random.seed(5)
    before = torch.get_rng_state(), np.random.get_state()[1].copy()
    started = CaseThreads(cap=2, automatic=True, chosen=2, reason="idle: 2 of 2 thread(s)")
    threads = runner._settle_threads(RandomForward(), OneBatchTask(), _case(), started, result)
    assert torch.equal(torch.get_rng_state(), before[0]) and (np.random.get_state()[1] == before[1]).all()
    assert threads.chosen == 2 and result.worker["threads"] == 2
    assert CaseThreads.from_facts(result.worker["thread_record"]) == threads
    assert threads.probe["gain"] == 2.5 and threads.cap == 2
    assert threads.reason.startswith("idle: 2 of 2 thread(s); the case's forward took 10 ms")


def test_the_runner_probes_nothing_with_threads_given_or_off_the_cpu(monkeypatch):
    monkeypatch.setattr(runner, "probe_threads", lambda *a, **k: (_ for _ in ()).throw(AssertionError("probed")))
    for config, threads in ((_case(), CaseThreads(cap=2, automatic=False, chosen=2, reason="given")),
                            (_case("cuda"), CaseThreads(cap=2, automatic=True, chosen=2, reason="idle")),
                            (_case(), CaseThreads(cap=1, automatic=True, chosen=1, reason="one CPU"))):
        assert runner._settle_threads(RandomForward(), OneBatchTask(), config, threads,
                                      CaseResult(config=config)) is threads


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
    assert set_to == []


def test_a_real_case_on_a_free_machine_probes_its_forward_and_trains_as_without_the_probe(monkeypatch):
    """The probe's path through run_case with a real model: the choice and its figures are stored,
    and the case's training is the same as with the threads given (the probe moved no random state)."""
    config = dataclasses.replace(_case(), steps=5, seq_len=4, task_options=(("alphabet_size", 8), ("num_symbols", 10)))
    registry = runner.registry_for(())
    monkeypatch.setattr(runner, "case_threads", lambda cap, automatic: CaseThreads(
        cap=2, automatic=True, chosen=2, reason="2 of 2 thread(s), one per free CPU"))
    probed = runner.run_case(config, registry, RunSettings(thread_cap=2, auto_threads=True, scenarios=("train",)))
    given = runner.run_case(config, registry, RunSettings(thread_cap=probed.worker["threads"], auto_threads=False,
                                                          scenarios=("train",)))
    assert probed.status == "ok", probed.error
    record = CaseThreads.from_facts(probed.worker["thread_record"])  # what the case ran with, as stored
    probe = record.probe
    assert probe["more"] == 2 and probe["one_s"] > 0 and probe["more_s"] > 0 and probed.worker["threads"] in (1, 2)
    assert record.chosen == probed.worker["threads"] and record.cap == 2 and "on 1 thread" in record.reason
    assert probed.metric("train", "final_loss").value == given.metric("train", "final_loss").value
