"""A Ctrl-C at the exact moment the run is written marks it interrupted (issue 27, item 1).

Not by timing: a subprocess patches the store so that SIGINT is sent to itself at one exact
point; Python runs the handler at the next bytecode, i.e. still inside the patched call.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import cli_env
from rnnbench.store import ResultsStore
from test_resume import FAST

#: runs ``rnnbench`` with SIGINT sent to itself just after (or before) one ResultsStore method
SCRIPT = """
import os, signal, sys
# A shell that starts the tests in the background starts them with SIGINT ignored, and the
# child inherits that: restore Python's own handler, as in an interactive terminal.
signal.signal(signal.SIGINT, signal.default_int_handler)
from rnnbench.cli import main
from rnnbench.store import ResultsStore
when, method = sys.argv[1].split(":")
original = getattr(ResultsStore, method)
def patched(self, *args, **kwargs):
    if when == "before":
        os.kill(os.getpid(), signal.SIGINT)
    out = original(self, *args, **kwargs)
    if when == "after":
        os.kill(os.getpid(), signal.SIGINT)
    return out
setattr(ResultsStore, method, patched)
sys.exit(main(sys.argv[2:]))
"""


def interrupted_at(point, out_dir):
    return subprocess.run([sys.executable, "-c", SCRIPT, point, "run", "--models", "lstm", *FAST, "--threads", "1",
                           "--no-progress", "--out", str(out_dir)], env=cli_env(), capture_output=True, text=True,
                          timeout=300)


def statuses(out_dir):
    with ResultsStore(out_dir / "rnnbench.db", create=False) as store:
        return [row[0] for row in store.conn.execute("SELECT status FROM runs")]


def test_a_ctrl_c_inside_the_write_of_the_run_marks_it_interrupted(tmp_path):
    """The signal lands after the INSERT committed but before create_run returned."""
    proc = interrupted_at("after:create_run", tmp_path)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
    assert statuses(tmp_path) == ["interrupted"]
    assert "resume with:" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("point", ["after:done_case_ids", "before:claim"])
def test_a_ctrl_c_between_the_write_and_the_first_case_marks_it_interrupted(tmp_path, point):
    proc = interrupted_at(point, tmp_path)
    assert proc.returncode == 130, proc.stderr
    assert statuses(tmp_path) == ["interrupted"]


@pytest.mark.slow
def test_a_ctrl_c_before_the_run_is_written_stores_nothing(tmp_path):
    proc = interrupted_at("before:create_run", tmp_path)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
    assert statuses(tmp_path) == []
