"""``rnnbench study``: list, run (ordinary runs, stored sweeps skipped, a killed study continued), report."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import cli_env
from rnnbench.commands.study import MAX_SIDE_BY_SIDE

PLUGINS = ["-p", "testplugins.tiny_study", "-p", "testplugins.tiny", "-p", "testplugins.paced"]


def study_runs(out):
    """(run_id, sweep, status) of every run in the database, oldest first."""
    with sqlite3.connect(out / "rnnbench.db") as db:
        rows = db.execute("SELECT run_id, settings_json, status FROM runs ORDER BY created_at").fetchall()
    return [(run_id, (json.loads(settings).get("study") or {}).get("sweep"), status)
            for run_id, settings, status in rows]


def run_request(out, run_id):
    with sqlite3.connect(out / "rnnbench.db") as db:
        [(settings,)] = db.execute("SELECT settings_json FROM runs WHERE run_id = ?", (run_id,)).fetchall()
    return json.loads(settings)["request"]


def cases(out, run_id):
    with sqlite3.connect(out / "rnnbench.db") as db:
        return dict(db.execute("SELECT case_id, started_at FROM cases WHERE run_id = ?", (run_id,)).fetchall())


def test_list_shows_the_builtin_and_a_plugin_study(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # wide enough for every column: each claim's title on one line
    proc = cli("study", "list", "-p", "testplugins.tiny_study")
    assert proc.returncode == 0, proc.stderr
    assert "rnn-claims" in proc.stdout and "tiny-study" in proc.stdout
    assert "1. Vanilla RNNs" in proc.stdout and "6b. Counterpoint" in proc.stdout


@pytest.mark.parametrize("overrides, device, cores, expected", [
    ({}, None, 2, {"executor": "process", "workers": 2, "threads": 1}),
    ({}, "cpu", 64, {"executor": "process", "workers": MAX_SIDE_BY_SIDE, "threads": 1}),
    ({}, None, 1, {}),                    # one core: nothing to run beside
    ({}, "cuda", 16, {}),                 # cases on one GPU would share it
    ({"threads": 2}, None, 2, {}),        # the command's own choice stands
    ({"executor": "dask"}, None, 2, {}),
    ({"workers": 3}, None, 2, {}),
])
def test_side_by_side_sweeps_run_one_case_per_core_unless_told(monkeypatch, overrides, device, cores, expected):
    from rnnbench.commands import study
    from rnnbench.study_api import StudySweep

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    marked = StudySweep("a", {"models": "lstm"}, side_by_side=True)
    assert study.side_by_side(marked, overrides, device) == expected
    assert study.side_by_side(StudySweep("b", {"models": "lstm"}), overrides, device) == {}


@pytest.mark.slow
def test_run_stores_ordinary_runs_reports_and_skips_them_the_second_time(cli, tmp_path):
    proc = cli("study", "run", "tiny-study", *PLUGINS, "--out", tmp_path, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    report = tmp_path / "study-tiny-study-quick" / "report.html"
    assert proc.stdout.strip().splitlines()[-1] == str(report) and report.exists()
    assert "claims and verdicts" in proc.stdout and "supported" in proc.stdout
    assert re.search(r"\[1/2\] sweep fast: \d+ case\(s\) in \d+ s of wall clock", proc.stderr), proc.stderr
    runs = study_runs(tmp_path)
    assert [sweep for _, sweep, _ in runs] == ["fast", "slow"]
    assert all(status == "finished" for _, _, status in runs)
    # the side-by-side sweep ran its cases one per core; the other kept the machine to itself
    fast, slow = (run_request(tmp_path, run_id) for run_id, _, _ in runs)
    cores = min(len(os.sched_getaffinity(0)), MAX_SIDE_BY_SIDE)
    if cores > 1:
        assert (fast["executor"], fast["workers"], fast["threads"]) == ("process", cores, 1), fast
    assert slow["executor"] == "local" and slow["workers"] == 1, slow

    # each sweep is an ordinary run: the run report and compare work on it
    first, second = runs[0][0], runs[1][0]
    assert cli("report", first, "--out", tmp_path).returncode == 0
    assert (tmp_path / first / "report.html").exists()

    again = cli("study", "run", "tiny-study", *PLUGINS, "--out", tmp_path, "--no-progress")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("; skipped") == 2
    assert len(study_runs(tmp_path)) == 2  # nothing new was run

    rebuilt = cli("study", "report", second, "--out", tmp_path, *PLUGINS)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert str(report) in rebuilt.stdout


@pytest.mark.slow
def test_a_killed_study_continues_where_it_stopped(tmp_path):
    env = cli_env()
    args = [sys.executable, "-m", "rnnbench", "study", "run", "tiny-study", *PLUGINS, "--out", str(tmp_path),
            "--no-progress"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 300
    slow = None
    while time.time() < deadline:  # wait until the second sweep has stored some, not all, of its cases
        time.sleep(0.2)
        if not (tmp_path / "rnnbench.db").exists():
            continue
        try:
            slow = [r for r, sweep, _ in study_runs(tmp_path) if sweep == "slow"]
            if slow and len(cases(tmp_path, slow[0])) >= 2:
                break
        except sqlite3.OperationalError:
            continue
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert slow, "the second sweep never started"
    before = cases(tmp_path, slow[0])
    assert 2 <= len(before) < 6

    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "sweep fast: all 2 case(s) stored" in again.stderr
    assert f"continuing run {slow[0]}" in again.stderr
    after = cases(tmp_path, slow[0])
    assert len(after) == 6
    assert all(after[case_id] == started for case_id, started in before.items())  # not run again
    assert [sweep for _, sweep, _ in study_runs(tmp_path)] == ["fast", "slow"]


@pytest.mark.parametrize("args, message", [
    (("study", "run", "no-such-study"), "unknown study 'no-such-study'"),
    (("study", "run", "tiny-study", *PLUGINS, "--profile", "huge"), "has no profile 'huge'"),
    (("study", "report", "nothing-here"), "is not an installed study"),
    (("study", "run", "tiny-study", *PLUGINS, "--executor", "nope"), "unknown executor 'nope'"),
    (("study", "run", "tiny-study", *PLUGINS, "--device", "tpu"), "invalid choice: 'tpu'"),
])
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, message):
    proc = cli(*args, "--out", tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_dask_executor_runs_a_study(cli, tmp_path):
    pytest.importorskip("distributed")
    proc = cli("study", "run", "tiny-study", *PLUGINS, "--out", tmp_path, "--no-progress",
               "--executor", "dask", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(tmp_path / "rnnbench.db") as db:
        executors = {json.loads(s)["executor"] for (s,) in db.execute("SELECT settings_json FROM runs")}
    assert executors == {"dask"}

