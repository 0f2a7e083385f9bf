"""A resume keeps the run's measurement settings, or says what varied (issue 13, item 6)."""

from __future__ import annotations

from run_helpers import one_line_error

from rnnbench.store import ResultsStore

TINY = ["-p", "testplugins.tiny", "--models", "tiny@test", "--steps", "6", "--hidden", "8", "--batch-size", "4",
        "--seq-len", "3", "--min-time", "0.01", "--scenarios", "forward", "--no-progress"]


def runs_of(out):
    with ResultsStore(out / "rnnbench.db", create=False) as store:
        [run_id] = store.run_ids()
        return run_id, store.run_info(run_id), store.results(run_id)


def test_a_resume_that_changes_threads_is_refused(cli, tmp_path):
    first = cli("run", *TINY, "--threads", "2", "--out", tmp_path)
    assert first.returncode == 0, first.stderr
    run_id, _, before = runs_of(tmp_path)
    proc = cli("run", "--out", tmp_path, "--resume", run_id, "--threads", "1", "--seeds", "0,1", "--no-progress")
    assert proc.returncode == 2, proc.stderr
    line = one_line_error(proc)
    assert "thread_cap=2 to 1" in line and "--allow-changed-settings" in line, line
    _, _, after = runs_of(tmp_path)
    assert len(after) == len(before)  # nothing ran


def test_the_same_settings_given_again_are_not_a_change(cli, tmp_path):
    first = cli("run", *TINY, "--threads", "1", "--out", tmp_path)
    assert first.returncode == 0, first.stderr
    run_id, _, _ = runs_of(tmp_path)
    proc = cli("run", "--out", tmp_path, "--resume", run_id, "--threads", "1", "--seeds", "0,1", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    _, _, results = runs_of(tmp_path)
    assert {r.worker["threads"] for r in results} == {1}


def test_allowed_changes_are_recorded_and_reported(cli, tmp_path):
    first = cli("run", *TINY, "--threads", "2", "--out", tmp_path)
    assert first.returncode == 0, first.stderr
    run_id, _, _ = runs_of(tmp_path)
    proc = cli("run", "--out", tmp_path, "--resume", run_id, "--threads", "1", "--seeds", "0,1",
               "--allow-changed-settings", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    _, run, results = runs_of(tmp_path)
    assert sorted(r.worker["threads"] for r in results) == [1, 2]  # each row says how it was measured
    assert "thread_cap varied" in proc.stderr + proc.stdout  # the terminal says so
    report = (tmp_path / run_id / "report.md").read_text(encoding="utf-8")
    assert "thread_cap varied" in report
