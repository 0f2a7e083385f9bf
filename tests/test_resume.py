"""Killed, interrupted and resumed sweeps, with real processes and real signals."""

import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest

from conftest import cli_env
from rnnbench.store import ResultsStore

FAST = ["--steps", "6", "--hidden", "8", "--batch-size", "4", "--seq-len", "3", "--min-time", "0.01",
        "--scenarios", "forward", "--no-progress"]
SEEDS = [0, 1, 2, 3]
#: a sweep of slow@test cases; while a test waits to interrupt it, each pauses 2 s in its
#: factory, so the signal lands before the last case (the resumed part runs without pauses)
SLOW_SWEEP = ["-p", "testplugins.misbehaving", "--models", "slow@test", "--seeds", ",".join(map(str, SEEDS)), *FAST]


def start(args, out_dir, marker="", slow_s="2"):
    env = cli_env()
    env["RNNBENCH_TEST_SLOW_S"] = slow_s
    env["RNNBENCH_TEST_MARKER"] = marker  # inherited by workers, so the test can find leftovers
    return subprocess.Popen([sys.executable, "-m", "rnnbench", "run", *args, "--out", str(out_dir)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_as_from_a_terminal)


def _as_from_a_terminal():
    # A test runner started in the background ignores SIGINT, and its children inherit
    # that; a command typed in a terminal has the default disposition, so restore it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stored_count(db, deadline_s=240):
    """Wait until a case is stored, as a user would watch the database; return how many are."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as conn:
                    count = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
                if count:
                    return count
            except sqlite3.OperationalError:  # the tables are being created
                pass
        time.sleep(0.2)
    raise AssertionError("no case was stored in time")


def the_run(out_dir):
    with ResultsStore(out_dir / "rnnbench.db", create=False) as store:
        [run_id] = store.run_ids()
        status = store.conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
        return run_id, status, store.results(run_id)


def processes_with(marker):
    """Processes (workers included) that still carry the test's environment marker."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if f"RNNBENCH_TEST_MARKER={marker}".encode() in handle.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.mark.slow
def test_a_sweep_killed_with_sigkill_resumes_to_exactly_the_full_set(cli, tmp_path):
    proc = start(SLOW_SWEEP, tmp_path)
    stored_count(tmp_path / "rnnbench.db")
    proc.kill()  # SIGKILL: no cleanup at all
    proc.communicate()
    run_id, status, partial = the_run(tmp_path)
    assert status == "running"  # nobody marked it: it was killed
    assert 1 <= len(partial) < len(SEEDS)
    assert all(r.status == "ok" and r.metric("forward", "latency_s").value > 0 for r in partial)
    before = {r.case_id: r.started_at for r in partial}

    # the flags come from the stored run: --resume alone repeats the sweep
    resumed = cli("run", "--out", tmp_path, "--resume", run_id, "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(SEEDS) - len(partial)} case(s) to run, {len(partial)} already done" in resumed.stderr
    _, status, results = the_run(tmp_path)
    assert status == "finished"
    assert sorted(r.config.seed for r in results) == SEEDS  # each case exactly once
    assert len({r.case_id for r in results}) == len(SEEDS)
    assert all(r.status == "ok" for r in results)
    for r in results:  # what was stored before the kill was kept, not run again
        if r.case_id in before:
            assert r.started_at == before[r.case_id]


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["local", "process"])
def test_ctrl_c_stores_what_is_done_and_prints_the_command_that_resumes(tmp_path, executor):
    marker = uuid.uuid4().hex
    proc = start([*SLOW_SWEEP, "--executor", executor], tmp_path, marker)
    stored_count(tmp_path / "rnnbench.db")
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    run_id, status, partial = the_run(tmp_path)
    assert status == "interrupted"
    assert 1 <= len(partial) < len(SEEDS) and all(r.status == "ok" for r in partial)
    assert processes_with(marker) == []  # no worker outlives the sweep
    lines = err.splitlines()
    command = lines[lines.index(next(l for l in lines if "resume with:" in l)) + 1].strip()
    assert command == f"rnnbench run --out {tmp_path} --resume {run_id}"

    argv = shlex.split(command)[1:]  # run exactly what was printed
    resumed = subprocess.run([sys.executable, "-m", "rnnbench", *argv, "--no-progress"], env=cli_env(),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    _, status, results = the_run(tmp_path)
    assert status == "finished" and sorted(r.config.seed for r in results) == SEEDS


@pytest.mark.slow
def test_sigterm_stops_like_ctrl_c(tmp_path):
    proc = start(SLOW_SWEEP, tmp_path)
    stored_count(tmp_path / "rnnbench.db")
    proc.terminate()  # SIGTERM, to the main process only, as a batch scheduler sends it
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "resume with:" in err and "Traceback" not in err
    _, status, partial = the_run(tmp_path)
    assert status == "interrupted" and len(partial) >= 1


def test_resume_reruns_failed_cases_and_keeps_ok_ones(cli, tmp_path):
    args = ["-p", "testplugins.tiny", "-p", "testplugins.failing_factory", "--models", "tiny@test,broken@test",
            "--out", tmp_path, *FAST]
    first = cli("run", *args)
    assert first.returncode == 1
    run_id, _, results = the_run(tmp_path)
    first_start = {r.config.model: r.started_at for r in results}
    assert {r.config.model: r.status for r in results} == {"tiny@test": "ok", "broken@test": "error"}

    again = cli("run", "--out", tmp_path, "--resume", run_id, "--no-progress")
    assert again.returncode == 1  # it fails again, as it should
    assert "1 case(s) to run, 1 already done" in again.stderr
    _, _, results = the_run(tmp_path)
    by_model = {r.config.model: r for r in results}
    assert len(results) == 2
    assert by_model["tiny@test"].started_at == first_start["tiny@test"]  # kept
    assert by_model["broken@test"].started_at > first_start["broken@test"]  # retried


def test_resume_flags_given_again_override_the_stored_ones(cli, tmp_path):
    first = cli("run", "-p", "testplugins.tiny", "--models", "tiny@test", "--out", tmp_path, *FAST)
    assert first.returncode == 0, first.stderr
    run_id, _, _ = the_run(tmp_path)
    more = cli("run", "--out", tmp_path, "--resume", run_id, "--seeds", "0,1", "--no-progress")
    assert more.returncode == 0, more.stderr
    _, _, results = the_run(tmp_path)
    assert sorted(r.config.seed for r in results) == [0, 1]
    assert {r.config.hidden for r in results} == {8}  # the rest still from the stored run


@pytest.mark.parametrize("setup,expected,code", [
    ("empty", "no results database at", 2),
    ("other_run", "unknown run id 'nope'", 2),
])
def test_resume_of_something_that_is_not_there(cli, tmp_path, setup, expected, code):
    if setup == "other_run":
        ResultsStore(tmp_path / "rnnbench.db").close()
    proc = cli("run", "--out", tmp_path, "--resume", "nope")
    assert proc.returncode == code
    [line] = [l for l in proc.stderr.splitlines() if l.strip()]
    assert line.startswith("rnnbench: error: ") and expected in line
