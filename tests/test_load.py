"""The machine-load readings and the thread choice that follows from them (issue 13, item 8)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnbench.execution import load
from rnnbench.execution.load import LoadMeter, MachineLoad
from rnnbench.execution.thread_policy import apply_threading, choose_threading

HAS_PROC = Path("/proc/stat").exists() and Path("/proc/loadavg").exists()
_SPIN = "import time, sys\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


def machine(others: float, cores: int = 2, measured: bool = True) -> MachineLoad:
    value = others if measured else None
    return MachineLoad(cores=cores, sample_s=0.2, others_runnable=value, others_cpus=value and min(value, cores),
                       load_average=(others, others, others))


def test_idle_machine_keeps_all_cores_and_openmp_default():
    choice = choose_threading(None, machine(0.1), environ={})
    assert (choice.threads, choice.wait_policy, choice.automatic) == (2, None, True)


def test_busy_machine_gets_one_thread_per_free_cpu():
    assert choose_threading(None, machine(6.0), environ={}).threads == 1
    assert choose_threading(None, machine(1.0), environ={}).threads == 1
    assert choose_threading(None, machine(3.0, cores=16), environ={}).threads == 13
    choice = choose_threading(None, machine(6.0), environ={})
    assert choice.wait_policy is None  # one thread has no partner to spin for
    assert "6.0 of 2 CPUs" in choice.reason


def test_explicit_threads_are_kept_and_sleep_at_barriers_when_oversubscribed():
    choice = choose_threading(2, machine(6.0), environ={})
    assert (choice.threads, choice.wait_policy, choice.automatic) == (2, "PASSIVE", False)
    assert "OMP_WAIT_POLICY=PASSIVE" in choice.reason
    assert choose_threading(2, machine(0.0), environ={}).wait_policy is None


def test_a_wait_policy_in_the_environment_is_the_users():
    for key in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"):
        choice = choose_threading(2, machine(6.0), environ={key: "1"})
        assert choice.wait_policy is None and key in choice.reason


def test_unmeasured_load_changes_nothing():
    choice = choose_threading(None, machine(0.0, measured=False), environ={})
    assert (choice.threads, choice.wait_policy) == (2, None)
    assert "unknown" in choice.reason


def test_apply_sets_the_policy_only_before_torch():
    environ: dict[str, str] = {}
    choice = choose_threading(2, machine(6.0), environ={})
    note = apply_threading(choice, environ)
    if "torch" in sys.modules:  # the test process may have imported torch already
        assert "too late" in note and environ == {}
    else:
        assert note is None and environ == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert apply_threading(choose_threading(None, machine(0.0), environ={}), environ) is None


def test_apply_in_a_fresh_process_reaches_openmp():
    """In a process that has not imported torch, the policy is in place when libgomp loads."""
    code = ("from rnnbench.execution.load import MachineLoad\nfrom rnnbench.execution.thread_policy import *\n"
            "m = MachineLoad(cores=2, sample_s=0.2, others_runnable=6.0, others_cpus=2.0, load_average=None)\n"
            "assert apply_threading(choose_threading(2, m, environ={})) is None\n"
            "import os; print(os.environ['OMP_WAIT_POLICY'])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in __import__("os").environ.items() if k != "OMP_WAIT_POLICY"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "PASSIVE"


@pytest.mark.skipif(not HAS_PROC, reason="needs Linux /proc")
def test_meter_sees_a_competing_process():
    """A real busy-looping process shows up as CPU time taken by others, not as our own."""
    spinner = subprocess.Popen([sys.executable, "-c", _SPIN, "3"])
    try:
        time.sleep(0.3)  # let it start spinning
        with LoadMeter() as meter:
            time.sleep(1.0)
    finally:
        spinner.kill()
        spinner.wait()
    result = meter.result
    assert result is not None and result.others_cpu_s is not None
    assert result.own_cpu_s < 0.2  # we slept
    assert result.others_cpus > 0.5  # the spinner had most of a CPU (more if the machine is shared)
    facts = result.facts()
    assert facts["others_cpus"] == result.others_cpus and facts["cores"] == load.cores()
    names = {m.name for m in result.metrics()}
    assert {"others_cpu_s", "others_cpus", "own_cpu_s"} <= names


@pytest.mark.skipif(not HAS_PROC, reason="needs Linux /proc")
def test_sample_sees_competing_processes():
    spinners = [subprocess.Popen([sys.executable, "-c", _SPIN, "3"]) for _ in range(3)]
    try:
        time.sleep(0.3)
        reading = load.sample_machine(0.2)
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()
    assert reading.measured and reading.others_demand >= 2.5  # three spinners want three CPUs
    assert reading.busy_for(reading.cores)
    assert choose_threading(None, reading, environ={}).threads == max(1, reading.cores - 3)


def test_distorted_compares_free_cpus_with_threads():
    during = load.LoadDuring(wall_s=2.0, own_cpu_s=2.0, others_cpu_s=2.0, cores=2, load_average_1min_end=None)
    assert during.others_cpus == 1.0
    assert during.distorted(2) and not during.distorted(1)
    unknown = load.LoadDuring(wall_s=2.0, own_cpu_s=2.0, others_cpu_s=None, cores=2, load_average_1min_end=None)
    assert unknown.others_cpus is None and not unknown.distorted(2)
