"""A busy machine is noticed, said and recorded, and the threads follow it (issue 13, item 8).

Real competing processes: busy loops that end by themselves after a deadline, so a test
that fails cannot leave them behind. No assertion on wall-clock time (the machine running
the suite may be shared); what is asserted is what rnnbench noticed and did.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest

from conftest import cli_env
from rnnbench.store import ResultsStore

TINY = ["-p", "testplugins.tiny", "--models", "tiny@test", "--steps", "10", "--hidden", "8", "--batch-size", "4",
        "--seq-len", "3", "--min-time", "0.02", "--scenarios", "train,forward", "--no-progress"]
_SPIN = "import time, sys\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"
#: seconds the busy loops may live: the test's bound
LIMIT_S = 300


@contextlib.contextmanager
def busy_loops(count: int):
    procs = [subprocess.Popen([sys.executable, "-c", _SPIN, str(LIMIT_S)]) for _ in range(count)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def the_results(out):
    with ResultsStore(out / "rnnbench.db", create=False) as store:
        [run_id] = store.run_ids()
        return run_id, store.run_info(run_id), store.results(run_id)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="the load is read from Linux /proc")
def test_a_busy_machine_is_flagged_and_gets_fewer_threads(tmp_path):
    cores = os.cpu_count() or 1
    with busy_loops(cores + 2):  # more demand than cores: every thread of ours must wait its turn
        proc = subprocess.run([sys.executable, "-m", "rnnbench", "run", *TINY, "--out", str(tmp_path)],
                              env=cli_env(), capture_output=True, text=True, timeout=LIMIT_S)
    assert proc.returncode == 0, proc.stderr
    assert "machine is busy" in proc.stderr, proc.stderr
    run_id, run, results = the_results(tmp_path)
    assert {r.worker["threads"] for r in results} == {1}  # one thread per free CPU, at least one
    [result] = results
    assert result.worker["load"]["others_cpus"] > 0.5  # the CPU time the spinners took, per case
    assert result.metric("machine", "others_cpus").value > 0.5
    report = (tmp_path / run_id / "report.md").read_text(encoding="utf-8")
    assert "busy" in report and "other processes" in report


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="the load is read from Linux /proc")
def test_explicit_threads_on_a_busy_machine_sleep_at_barriers(tmp_path):
    cores = os.cpu_count() or 1
    env = {k: v for k, v in cli_env().items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")}
    with busy_loops(cores + 2):
        proc = subprocess.run([sys.executable, "-m", "rnnbench", "run", *TINY, "--threads", "2", "--out",
                               str(tmp_path)], env=env, capture_output=True, text=True, timeout=LIMIT_S)
    assert proc.returncode == 0, proc.stderr
    assert "OMP_WAIT_POLICY=PASSIVE" in proc.stderr, proc.stderr
    _, run, results = the_results(tmp_path)
    assert {r.worker["threads"] for r in results} == {2}
    assert run.env["openmp_wait_policy"] == "PASSIVE"
