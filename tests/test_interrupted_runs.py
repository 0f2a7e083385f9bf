"""Interrupted runs leave a consistent run folder; two resumers split the work (issue 13, item 5).

Real processes and real signals, as in tests/test_resume.py.
"""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import cli_env
from test_resume import SLOW_SWEEP, start, stored_count, the_run

SEEDS6 = ["--seeds", "0,1,2,3,4,5"]


def wait_for_run(db, deadline_s=240):
    """Wait until the run exists in the database (before any case has finished)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as conn:
                    if conn.execute("SELECT count(*) FROM runs").fetchone()[0]:
                        return
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    raise AssertionError("the run was not created in time")


def the_folder_holds(out_dir, run_id, count):
    folder = out_dir / run_id
    with open(folder / "results.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows and "case_id" in rows[0], "results.csv has no header"
    assert len(rows) - 1 == count
    assert (folder / "report.md").is_file() and (folder / "report.html").is_file()


def resume_line(err):
    lines = err.splitlines()
    return lines[lines.index(next(l for l in lines if "resume with:" in l)) + 1].strip()


@pytest.mark.slow  # over 6 s on a quiet 2-core machine: run by `pytest -m slow`
def test_a_double_ctrl_c_still_writes_the_folder_and_prints_the_resume_command(tmp_path):
    proc = start(SLOW_SWEEP, tmp_path)
    stored_count(tmp_path / "rnnbench.db")
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.05)  # a second Ctrl-C, 50 ms later
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    run_id, status, partial = the_run(tmp_path)
    assert status == "interrupted" and partial
    assert resume_line(err) == f"rnnbench run --out {tmp_path} --resume {run_id}"
    the_folder_holds(tmp_path, run_id, len(partial))


def test_ctrl_c_before_any_case_finishes_leaves_a_header(tmp_path):
    proc = start(SLOW_SWEEP, tmp_path, slow_s="5")
    wait_for_run(tmp_path / "rnnbench.db")
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    run_id, status, partial = the_run(tmp_path)
    assert status == "interrupted" and partial == []
    assert resume_line(err) == f"rnnbench run --out {tmp_path} --resume {run_id}"
    the_folder_holds(tmp_path, run_id, 0)


@pytest.mark.slow
def test_two_resumers_of_one_run_split_the_remaining_cases(tmp_path):
    """Each case is claimed in the database before it runs: no case is computed twice."""
    log = tmp_path / "computed.log"
    first = start([*SLOW_SWEEP, *SEEDS6], tmp_path, slow_s="5")
    wait_for_run(tmp_path / "rnnbench.db")
    os.killpg(first.pid, signal.SIGINT)  # interrupted before any case finished: all six remain
    first.communicate(timeout=120)
    run_id, _, partial = the_run(tmp_path)
    assert partial == []

    env = cli_env()
    env["RNNBENCH_TEST_SLOW_S"] = "1"
    env["RNNBENCH_TEST_COMPUTED_LOG"] = str(log)  # slow@test appends each case it builds
    resumers = [subprocess.Popen([sys.executable, "-m", "rnnbench", "run", "--out", str(tmp_path), "--resume",
                                  run_id, "--no-progress"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in resumers]
    for proc, (_, err) in zip(resumers, outputs):
        assert proc.returncode == 0, err
    computed = log.read_text().split()
    assert len(computed) == 6 and len(set(computed)) == 6, computed  # each seed built once, by one of them
    _, status, results = the_run(tmp_path)
    assert sorted(r.config.seed for r in results) == [0, 1, 2, 3, 4, 5]
    assert len({r.worker["pid"] for r in results}) == 2  # both did some of the work
