"""Bad input through the real command: one line, a non-zero exit, nothing stored is lost."""

import contextlib
import resource
import sqlite3
import subprocess
import sys

import pytest

from conftest import cli_env
from rnnbench.store import ResultsStore

FAST = ["--steps", "6", "--hidden", "8", "--batch-size", "4", "--seq-len", "3", "--min-time", "0.01",
        "--scenarios", "forward", "--no-progress"]
TINY = ["-p", "testplugins.tiny", "--models", "tiny@test"]


def error_line(proc):
    """The one error line; other stderr lines may only be the run's own notes."""
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines()
             if l.strip() and not l.startswith(("run ", "rnnbench: warning: ", "rnnbench: note: "))]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("rnnbench: error: ")
    return lines[0]


def test_an_unavailable_backend_alone_is_an_error_with_its_reason(cli, tmp_path):
    proc = cli("run", "-p", "testplugins.unavailable", "--models", "ghost@test", "--out", tmp_path, *FAST)
    assert proc.returncode == 2
    assert error_line(proc) == ("rnnbench: error: nothing to run: ghost@test: not available"
                                " (needs hardware that is not here)")
    assert not (tmp_path / "rnnbench.db").exists()


@pytest.mark.slow  # over 6 s on a quiet 2-core machine: run by `pytest -m slow`
def test_an_unavailable_backend_beside_others_is_skipped_with_its_reason(cli, tmp_path):
    proc = cli("run", "-p", "testplugins.unavailable", *TINY[:2], "--models", "ghost@test,tiny@test",
               "--out", tmp_path, *FAST)
    assert proc.returncode == 0, proc.stderr
    assert "skipping ghost@test: not available (needs hardware that is not here)" in proc.stderr
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        [run_id] = store.run_ids()
        assert [r.config.model for r in store.results(run_id)] == ["tiny@test"]


def _newer_schema(path):
    ResultsStore(path).close()
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:  # closed: no WAL left to checkpoint
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")


def _text_file(path):
    path.write_text("these are my notes, not a database\n" * 50)


def _foreign_sqlite(path):
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE songs (title TEXT)")


def _a_folder(path):
    path.mkdir()


@pytest.mark.parametrize("make,expected", [
    (_newer_schema, "was written by a newer rnnbench (results schema 99; this version reads up to 3)"),
    (_text_file, "is not an rnnbench results database (file is not a database)"),
    (_foreign_sqlite, "is an SQLite database, but not an rnnbench results database"),
    (_a_folder, "cannot use the results database"),
])
def test_a_results_file_that_is_not_ours(cli, tmp_path, make, expected):
    db = tmp_path / "rnnbench.db"
    make(db)
    before = db.read_bytes() if db.is_file() else None
    proc = cli("run", *TINY, "--out", tmp_path, *FAST)
    assert proc.returncode == 1
    line = error_line(proc)
    assert str(db) in line and expected in line, line
    if before is not None:
        assert db.read_bytes() == before  # not touched


def test_debug_shows_the_traceback_of_a_bad_results_file(cli, tmp_path):
    _newer_schema(tmp_path / "rnnbench.db")
    proc = cli("run", *TINY, "--out", tmp_path, *FAST, "--debug")
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "RnnbenchError: " in proc.stderr


def test_results_folder_that_is_a_file(cli, tmp_path):
    out = tmp_path / "results"
    out.write_text("a file where the folder should be")
    proc = cli("run", *TINY, "--out", out, *FAST)
    assert proc.returncode == 2
    assert error_line(proc).startswith(f"rnnbench: error: --out: cannot create results folder {out}")


def _limit_file_size(limit):
    def preexec():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # writes past it fail: EFBIG
    return preexec


@pytest.mark.slow
def test_a_disk_that_fills_during_a_sweep_keeps_everything_stored_before(tmp_path):
    base = [sys.executable, "-m", "rnnbench", "run", *TINY, "--out", str(tmp_path), *FAST, "--threads", "1"]
    first = subprocess.run(base + ["--seeds", "0"], env=cli_env(), capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        [first_run] = store.run_ids()
        kept = [r.to_dict() for r in store.results(first_run)]

    # The second sweep may grow no file past a few pages: as if the disk were nearly full.
    seeds = list(range(1, 9))
    limit = (tmp_path / "rnnbench.db").stat().st_size + 12 * 4096
    second = subprocess.run(base + ["--seeds", ",".join(map(str, seeds))], env=cli_env(), capture_output=True,
                            text=True, timeout=600, preexec_fn=_limit_file_size(limit))
    assert second.returncode == 1
    line = error_line(second)
    # the disk fills as a case starts (its claim) or ends (its result): either way one line and a resume
    assert "could not store the result of tiny@test" in line or "could not store the start of tiny@test" in line, line
    assert "disk I/O error" in line or "database or disk is full" in line, line
    assert "stored before are kept: resume with --resume" in line

    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert [r.to_dict() for r in store.results(first_run)] == kept  # nothing stored before is lost
        [second_run] = [r for r in store.run_ids() if r != first_run]
        partial = store.results(second_run)
        status = store.conn.execute("SELECT status FROM runs WHERE run_id = ?", (second_run,)).fetchone()[0]
    assert len(partial) < len(seeds)
    assert status == "interrupted"  # not left "running": the failure marks it
    assert all(r.status == "ok" and r.metric("forward", "latency_s").samples for r in partial)  # whole rows

    # with space again, the resume command in the message finishes the sweep
    resumed = subprocess.run([sys.executable, "-m", "rnnbench", "run", "--out", str(tmp_path), "--resume",
                              second_run], env=cli_env(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        assert sorted(r.config.seed for r in store.results(second_run)) == seeds
