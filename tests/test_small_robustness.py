"""The smaller items of issue 13, item 7: each a clear line or a note in the output."""

from __future__ import annotations

import os
import subprocess
import sys

from run_helpers import one_line_error, run_sweep

from conftest import cli_env

TINY = ["-p", "testplugins.tiny", "--models", "tiny@test", "--steps", "6", "--hidden", "8", "--batch-size", "4",
        "--seq-len", "3", "--min-time", "0.01", "--scenarios", "forward", "--no-progress"]


def test_an_empty_out_is_a_usage_error(cli, tmp_path):
    proc = cli("run", *TINY, "--out", "", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "--out" in one_line_error(proc)
    assert list(tmp_path.iterdir()) == []  # nothing written into the current folder


def test_a_results_path_that_is_not_utf8_is_one_line_and_leaves_nothing(tmp_path):
    out = os.fsencode(tmp_path) + b"/r\xffsults"
    proc = subprocess.run([sys.executable.encode(), b"-m", b"rnnbench", b"run", *[a.encode() for a in TINY],
                           b"--out", out], env=cli_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    line = one_line_error(proc)
    assert "not valid UTF-8" in line and "internal error" not in line, line
    assert not os.path.exists(out)


def test_compare_of_a_run_with_itself_says_so(tmp_path):
    run_id = run_sweep(tmp_path, *TINY)
    proc = subprocess.run([sys.executable, "-m", "rnnbench", "compare", run_id, run_id, "--out", str(tmp_path)],
                          env=cli_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"both sides are run {run_id}" in proc.stdout + proc.stderr


def test_compare_says_which_source_it_reads(tmp_path):
    """A results.csv named on the command line is read from its run folder's database: say so."""
    first = run_sweep(tmp_path, *TINY)
    second = run_sweep(tmp_path, *TINY)
    csv_path = tmp_path / first / "results.csv"
    text = csv_path.read_text(encoding="utf-8")
    csv_path.write_text(text.replace(",ok,", ",edited,"), encoding="utf-8")  # edited by hand
    proc = subprocess.run([sys.executable, "-m", "rnnbench", "compare", str(csv_path), second, "--out", str(tmp_path)],
                          env=cli_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    said = proc.stdout + proc.stderr
    assert "results.csv" in said and "rnnbench.db" in said and "not the CSV" in said, said
