"""A damaged or read-only results database, met by the real command (issue 13, items 1 and 2).

A damaged database must never be written into, and every command that meets one ends with
one line that says what is wrong and how to recover; a read-only copy of a results folder
(an archived CI artifact, a mounted share) must still be readable.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from run_helpers import one_line_error

from conftest import cli_env

TINY = ["-p", "testplugins.tiny", "--models", "tiny@test", "--steps", "6", "--hidden", "8", "--batch-size", "4",
        "--seq-len", "3", "--min-time", "0.01", "--scenarios", "forward", "--no-progress"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A results folder with two finished runs of one sweep, made once by the real command."""
    out = tmp_path_factory.mktemp("stored")
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-m", "rnnbench", "run", *TINY, "--out", str(out)],
                              env=cli_env(), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    with contextlib.closing(sqlite3.connect(out / "rnnbench.db")) as conn:
        runs = [r[0] for r in conn.execute("SELECT run_id FROM runs ORDER BY created_at")]
    return out, runs


def copy_of(stored, tmp_path) -> tuple[Path, list[str]]:
    out, runs = stored
    target = tmp_path / "results"
    shutil.copytree(out, target)
    return target, runs


def damage_inner_page(db: Path) -> None:
    """Overwrite the metrics table's root page: the header stays sound, PRAGMA integrity_check fails."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'metrics'").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\x0d\x00\x00\xff\xff\xff" + b"\xab" * 200)


def drop_metrics(db: Path) -> None:
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DROP TABLE metrics")


def rnnbench(*args, timeout=300, preexec_fn=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "rnnbench", *map(str, args)], env=cli_env(), capture_output=True,
                          text=True, timeout=timeout, preexec_fn=preexec_fn, cwd=cwd)


def test_run_refuses_a_damaged_database_and_leaves_it_as_it_was(stored, tmp_path):
    out, _ = copy_of(stored, tmp_path)
    db = out / "rnnbench.db"
    damage_inner_page(db)
    before = db.read_bytes()
    proc = rnnbench("run", *TINY, "--out", out)
    assert proc.returncode == 1, proc.stderr
    line = one_line_error(proc)
    assert f"{db} is damaged" in line and "PRAGMA quick_check" in line, line
    assert "results.csv" in line  # how to recover: the run folders still hold every row
    assert db.read_bytes() == before


@pytest.mark.parametrize("command", ["compare", "history", "export", "report"])
def test_read_commands_on_a_damaged_database_say_so_in_one_line(stored, tmp_path, command):
    out, runs = copy_of(stored, tmp_path)
    damage_inner_page(out / "rnnbench.db")
    args = {"compare": ["compare", runs[0], runs[1], "--out", out], "history": ["history", "--out", out],
            "export": ["export", runs[0], "--out", out, "-o", tmp_path / "x.json"],
            "report": ["report", runs[0], "--out", out]}[command]
    proc = rnnbench(*args)
    assert proc.returncode == 1, proc.stderr
    line = one_line_error(proc)
    assert "internal error" not in line and "is damaged" in line, line


@pytest.mark.parametrize("command", ["run", "compare", "history"])
def test_a_dropped_table_is_named(stored, tmp_path, command):
    out, runs = copy_of(stored, tmp_path)
    db = out / "rnnbench.db"
    drop_metrics(db)
    before = db.read_bytes()
    args = {"run": ["run", *TINY, "--out", out], "compare": ["compare", runs[0], runs[1], "--out", out],
            "history": ["history", "--out", out]}[command]
    proc = rnnbench(*args)
    assert proc.returncode == 1, proc.stderr
    line = one_line_error(proc)
    assert "internal error" not in line and "table 'metrics' is missing" in line, line
    assert db.read_bytes() == before


def _read_only_runner():
    """A way to run a command that cannot write a read-only folder, or None."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    probe = subprocess.run([setpriv, "--bounding-set=-dac_override,-dac_read_search", "true"],
                           capture_output=True, timeout=30)
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"] if probe.returncode == 0 else None


@pytest.mark.parametrize("command", ["compare", "history", "export", "report"])
def test_a_read_only_results_folder_can_be_read(stored, tmp_path, command):
    runner = _read_only_runner()
    if runner is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be simulated")
    out, runs = copy_of(stored, tmp_path)
    elsewhere = tmp_path / "writable"
    elsewhere.mkdir()
    for path in [out, *out.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        args = {"compare": ["compare", runs[0], runs[1], "--out", out], "history": ["history", "--out", out],
                "export": ["export", runs[0], "--out", out, "-o", elsewhere / "x.json"],
                "report": ["report", runs[0], "--out", out]}[command]
        proc = subprocess.run([*runner, sys.executable, "-m", "rnnbench", *map(str, args)], env=cli_env(),
                              capture_output=True, text=True, timeout=300, cwd=elsewhere)
        if command == "report":  # it writes the run folder, which is read-only: one clear line
            assert proc.returncode == 1 and "cannot write the run folder" in one_line_error(proc)
        else:
            assert proc.returncode == 0, proc.stderr
            assert "Traceback" not in proc.stderr
    finally:
        for path in [out, *out.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
