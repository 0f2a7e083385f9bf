"""The dask executor with real processes: a `dask scheduler`, `dask worker`s, SIGKILL.

Every cluster here listens on 127.0.0.1 only; the scheduler picks a free port and
writes its address to a scheduler file, so tests never race for a port.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnbench.extras import install_hint

from conftest import TESTS, cli_env, run_cli
from rnnbench.store import ResultsStore

distributed = pytest.importorskip("distributed", reason="the dask executor needs dask.distributed (rnnbench[dask])")

FAST = ["--steps", "6", "--hidden", "8", "--batch-size", "4", "--seq-len", "3", "--min-time", "0.01",
        "--threads", "1", "--no-progress"]
SIX_CASES = ["-p", "testplugins.sleepy", "--models", "sleepy@test", "--seeds", "0,1,2,3,4,5"]
START_TIMEOUT = 60  # dask starts slowly on a loaded 2-core machine


def stored(out: Path):
    with ResultsStore(out / "rnnbench.db", create=False) as store:
        [run_id] = store.run_ids()
        return store.results(run_id)


def dask_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "dask", *args]  # the `dask` command of this interpreter


class Cluster:
    """A `dask scheduler` and two `dask worker` processes (nanny, one thread each) on 127.0.0.1."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.markers = folder / "markers"
        self.markers.mkdir()
        self.procs: list[subprocess.Popen] = []
        self.client = None
        self.address = ""

    def start(self) -> None:
        env = cli_env()
        env["RNNBENCH_TEST_MARKERS"] = str(self.markers)
        scheduler_file = self.folder / "scheduler.json"
        self._start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(scheduler_file)], env, "scheduler")
        deadline = time.monotonic() + START_TIMEOUT
        while not self.address:
            assert time.monotonic() < deadline, "the dask scheduler did not start"
            assert self.procs[0].poll() is None, (self.folder / "scheduler.log").read_text()
            try:
                self.address = json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):  # not written yet, or half-written
                time.sleep(0.1)
        for name in ("w1", "w2"):
            self._start(["worker", self.address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
                         "--name", name], env, name)
        self.client = distributed.Client(self.address, timeout=START_TIMEOUT, set_as_default=False)
        self.client.wait_for_workers(2, timeout=START_TIMEOUT)

    def _start(self, args, env, name):
        with open(self.folder / f"{name}.log", "w") as log:
            self.procs.append(subprocess.Popen(dask_cli(*args), env=env, stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True))

    def worker_pids(self) -> set[int]:
        return set(self.client.run(os.getpid).values())

    def close(self):
        if self.client is not None:
            try:
                self.client.close(timeout=10)
            except Exception:  # the cluster is torn down below either way
                pass
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # the worker's nanny and its worker process
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    started = Cluster(tmp_path_factory.mktemp("dask-cluster"))
    try:
        started.start()
        yield started
    finally:
        started.close()


@pytest.mark.slow
def test_a_sweep_runs_on_two_external_workers(cluster, tmp_path):
    proc = run_cli("run", *SIX_CASES, "--executor", "dask", "--scheduler", cluster.address, "--out", tmp_path,
                   *FAST, timeout=180)
    assert proc.returncode == 0, proc.stderr
    results = stored(tmp_path)
    assert sorted(r.config.seed for r in results) == [0, 1, 2, 3, 4, 5]
    assert all(r.status == "ok" and r.metric("forward", "latency_s").samples for r in results)
    pids = {r.worker["pid"] for r in results}
    # the pid is the dask worker process that ran the case, not this process or a nanny
    assert len(pids) == 2 and pids <= cluster.worker_pids()
    assert all(r.worker["threads"] == 1 and r.worker["cpu"] and r.worker["host"] for r in results)
    assert {r.worker["dask_worker"] for r in results} == set(cluster.client.scheduler_info()["workers"])


@pytest.mark.slow  # over 6 s on a quiet 2-core machine: run by `pytest -m slow`
def test_a_case_that_raises_on_a_worker_is_an_error_row(cluster, tmp_path):
    proc = run_cli("run", "-p", "testplugins.failing_factory", "-p", "testplugins.tiny",
                   "--models", "broken@test,tiny@test", "--executor", "dask", "--scheduler", cluster.address,
                   "--out", tmp_path, *FAST, timeout=180)
    assert proc.returncode == 1 and "1 of 2 case(s) failed" in proc.stderr, proc.stderr
    by_model = {r.config.model: r for r in stored(tmp_path)}
    assert by_model["broken@test"].status == "error"
    assert "this factory always fails" in by_model["broken@test"].error
    assert by_model["broken@test"].worker["pid"] in cluster.worker_pids()
    assert by_model["tiny@test"].status == "ok"


def test_a_plugin_the_workers_lack_is_one_clear_line(cluster, tmp_path):
    only_here = tmp_path / "client_only"
    only_here.mkdir()
    (only_here / "onlyhere.py").write_text((TESTS / "testplugins" / "tiny.py").read_text().replace(
        'arch="tiny"', 'arch="onlyhere"'))
    proc = run_cli("run", "-p", "onlyhere", "--models", "onlyhere@test", "--executor", "dask",
                   "--scheduler", cluster.address, "--out", tmp_path / "out", *FAST,
                   extra_pythonpath=[only_here], timeout=180)
    assert proc.returncode == 1
    # the run announces itself (id and resume command, a busy machine) before the workers are checked
    lines = [line for line in proc.stderr.splitlines()
             if line.strip() and not line.startswith(("run ", "rnnbench: warning: the machine is busy"))]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    line = lines[0]
    assert line.startswith("rnnbench: error: dask worker tcp://127.0.0.1:")
    assert "lacks model 'onlyhere@test' from plugin 'onlyhere'" in line
    assert "No module named 'onlyhere'" in line


def wait_for_marker(markers: Path, proc: subprocess.Popen) -> Path:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        started = sorted(markers.iterdir())
        if started:
            return started[0]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("no case started within the time limit")


def kill_first_case(markers: Path, args: list[str], out: Path, env: dict) -> tuple[int, int, subprocess.CompletedProcess]:
    """Start a sweep, SIGKILL the worker that starts a case first, let the sweep finish."""
    for old in markers.iterdir():  # the first marker must be the first case of this sweep
        old.unlink()
    proc = subprocess.Popen([sys.executable, "-m", "rnnbench", "run", *args, "--out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group: local workers included
    try:
        marker = wait_for_marker(markers, proc)
        pid, seed = map(int, marker.name.split("-"))
        os.kill(pid, signal.SIGKILL)  # mid-case: a first case sleeps 3 s after dropping its marker
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:  # a failed test leaves no rnnbench and no local cluster behind
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return pid, seed, subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.slow
def test_a_killed_worker_s_case_is_retried_elsewhere(cluster, tmp_path):
    args = [*SIX_CASES, "--executor", "dask", "--scheduler", cluster.address, *FAST]
    killed_pid, _, proc = kill_first_case(cluster.markers, args, tmp_path, cli_env())
    assert proc.returncode == 0, proc.stderr
    results = stored(tmp_path)
    assert sorted(r.config.seed for r in results) == [0, 1, 2, 3, 4, 5]  # each case exactly once
    assert {r.status for r in results} == {"ok"}  # dask allows 3 failures per case; one kill is retried
    assert killed_pid not in {r.worker["pid"] for r in results}


@pytest.mark.slow
def test_a_case_whose_worker_dies_is_marked_crashed(tmp_path):
    """LocalCluster (--workers 2), no retries allowed: the killed case is a `crashed` row."""
    markers = tmp_path / "markers"
    markers.mkdir()
    env = cli_env()
    env.update(RNNBENCH_TEST_MARKERS=str(markers), DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0")
    args = ["-p", "testplugins.sleepy", "--models", "sleepy@test", "--seeds", "0,1,2",
            "--executor", "dask", "--workers", "2", *FAST]
    killed_pid, killed_seed, proc = kill_first_case(markers, args, tmp_path / "out", env)
    assert proc.returncode == 1 and "1 of 3 case(s) failed" in proc.stderr, proc.stderr
    results = stored(tmp_path / "out")
    assert sorted(r.config.seed for r in results) == [0, 1, 2]
    # workers are handed one case at a time, so only the case that was running crashed
    [killed] = [r for r in results if r.status == "crashed"]
    assert killed.config.seed == killed_seed and "dask worker running this case died" in killed.error
    assert all(r.status == "ok" for r in results if r is not killed)
    assert killed_pid not in {r.worker.get("pid") for r in results}


def test_without_distributed_the_dask_executor_says_what_to_install(tmp_path):
    shim = tmp_path / "shim" / "distributed"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('simulated: distributed is not installed')\n")
    proc = run_cli("run", "--models", "gru", "--executor", "dask", "--out", tmp_path / "out", *FAST,
                   extra_pythonpath=[shim.parent])
    assert proc.returncode == 2  # a usage error: the executor asked for needs a package that is not here
    assert "Traceback" not in proc.stderr
    # the install command in the form this checkout takes (an editable clone here: pip install -e '.[dask]')
    assert proc.stderr.strip() == f"rnnbench: error: --executor dask needs dask.distributed: {install_hint('dask')}"


def test_an_unreachable_scheduler_is_one_clear_line(tmp_path):
    import socket

    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = cli_env()
    env["DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT"] = "2s"  # dask's own setting, read by the executor
    proc = subprocess.run([sys.executable, "-m", "rnnbench", "run", "--models", "gru", "--executor", "dask",
                           "--scheduler", f"tcp://127.0.0.1:{port}", "--out", str(tmp_path), *FAST],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"rnnbench: error: cannot reach the dask scheduler at tcp://127.0.0.1:{port} within 2 s")
