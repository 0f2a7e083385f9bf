"""Helpers for tests that make real runs and compare them (tests/test_compare.py, test_export_history.py)."""

import contextlib
import io
import os
import subprocess
import sys

from conftest import cli_env
from rnnbench.store import ResultsStore


def rnnbench(*args, env=None, cwd=None, timeout=300):
    full_env = cli_env()
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "rnnbench", *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def run_sweep(out, *args, env=None, cwd=None):
    """Run a sweep into ``out`` and return its run id (the newest run in the store).

    In this process (``rnnbench.cli.main``), to spare a torch import per run; the
    comparisons themselves run as real ``rnnbench compare`` subprocesses.
    """
    from rnnbench.cli import main

    saved = {key: os.environ.get(key) for key in env or {}}
    here = os.getcwd()
    os.environ.update(env or {})
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["run", "--out", str(out), *map(str, args)])
    finally:
        os.chdir(here)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert code == 0
    with ResultsStore(os.path.join(out, "rnnbench.db"), create=False) as store:
        return store.run_ids()[-1]


def single_stderr_line(proc):
    """The one line a failed command printed on stderr (and no traceback)."""
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, proc.stderr
    return lines[0]


def one_line_error(proc):
    line = single_stderr_line(proc)
    assert line.startswith("rnnbench: error: "), line
    return line
