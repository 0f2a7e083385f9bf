"""``rnnbench study run``/``report`` against misbehaving studies and flags (issue 27, item 3).

In-process CLI calls; a real second process holds the study's lock where two processes are the point.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from rnnbench.cli import main
from rnnbench.store import ResultsStore
from test_hostile_inputs import error_of  # one line on stderr, no traceback

P = ["-p", "testplugins.hostile_study"]




def test_an_unknown_key_in_a_sweeps_flags_is_refused(capsys, tmp_path):
    code, line = error_of(capsys, "study", "run", "typo-study", *P, "--out", tmp_path)
    assert code == 2 and "study 'typo-study', sweep 'one': unknown flag key(s) 'seq_lens'" in line, line


def test_a_bad_model_in_the_second_sweep_is_caught_before_the_first_runs(capsys, tmp_path):
    code, line = error_of(capsys, "study", "run", "second-bad", *P, "--out", tmp_path)
    assert code == 2 and "study 'second-bad', sweep 'two': unknown model 'nosuch'" in line, line
    assert not (tmp_path / "rnnbench.db").exists()  # the first sweep did not run


@pytest.mark.parametrize("flags, message", [
    (["--threads", "0"], "--threads: must be positive, got 0"),
    (["--workers", "abc"], "--workers: 'abc' is not an integer"),
    (["--timeout", "-1"], "--timeout: must be positive, got -1"),
    (["--out", ""], "--out: empty path"),
])
def test_usage_errors_in_study_run_flags_exit_2(capsys, tmp_path, flags, message):
    code, line = error_of(capsys, "study", "run", "plugin-sweep", *P, "--out", tmp_path, *flags)
    assert code == 2 and message in line, line


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """plugin-sweep run once: its sweep loads testplugins.tiny through its own plugins flag."""
    out = tmp_path_factory.mktemp("study")
    assert main(["study", "run", "plugin-sweep", *P, "--out", str(out), "--threads", "1", "--no-progress"]) == 0
    return out


def test_a_sweeps_plugins_flag_is_loaded(ran):
    with ResultsStore(ran / "rnnbench.db", create=False) as store:
        [run_id] = store.run_ids()
        assert [r.status for r in store.results(run_id)] == ["ok"]


def test_a_stopped_study_run_continued_with_other_threads_is_refused(capsys, ran, tmp_path):
    out = tmp_path / "copy"
    out.mkdir()
    src = sqlite3.connect(ran / "rnnbench.db")
    src.backup(dst := sqlite3.connect(out / "rnnbench.db"))
    src.close()
    dst.execute("UPDATE cases SET status = 'error'")  # as if the sweep had stopped with a case left to run
    dst.commit()
    dst.close()
    code, line = error_of(capsys, "study", "run", "plugin-sweep", *P, "--out", out, "--threads", "2")
    assert code == 2, line
    assert "study 'plugin-sweep', sweep 'one' continues run" in line, line
    assert "this would change thread_cap=1 to 2" in line and "--fresh" in line, line


def test_a_second_study_run_of_one_study_is_refused_while_the_first_holds_it(capsys, tmp_path):
    lock = tmp_path / ".study-plugin-sweep.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time\n"
                               f"f = open({str(lock)!r}, 'a+'); fcntl.flock(f, fcntl.LOCK_EX)\n"
                               "f.write('pid 1234 on elsewhere'); f.flush(); print('held', flush=True)\n"
                               "time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code, line = error_of(capsys, "study", "run", "plugin-sweep", *P, "--out", tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and "study 'plugin-sweep' is already running on" in line and "pid 1234" in line, line
    assert not (tmp_path / "rnnbench.db").exists()


def test_claims_that_name_a_missing_figure_or_return_a_string_verdict_are_reported(capsys, tmp_path):
    assert main(["study", "run", "odd-claims", *P, "--out", str(tmp_path), "--threads", "1", "--no-progress"]) == 0
    report = (tmp_path / "study-odd-claims-quick" / "report.md").read_text()
    assert "which it did not write" in report
    assert "expected a Verdict" in report
    assert "internal error" not in capsys.readouterr().err


def test_study_report_into_a_folder_it_cannot_write_is_one_line(capsys, ran, monkeypatch):
    import rnnbench.render.study_report as study_report  # the command imports it when it runs

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(study_report, "write_study_report", refuse)
    code, line = error_of(capsys, "study", "report", "plugin-sweep", *P, "--out", ran)
    assert code == 1 and "cannot write the study report into" in line and "Permission denied" in line, line
