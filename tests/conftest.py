import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


def pytest_ignore_collect(collection_path, config):
    # Benchmarks are opt-in: `pytest tests/benchmarks` (they need a quiet machine and time).
    if collection_path.name == "benchmarks" and collection_path.parent == TESTS:
        return not any("benchmarks" in str(arg) for arg in config.args)
    return None


#: the fields every test case shares unless it says otherwise: a tiny copy case on the CPU
CASE_DEFAULTS = dict(model="lstm@torch", task="copy", task_options=(), seq_len=3, batch_size=2, hidden=8, layers=1,
                     device="cpu", dtype="float32", seed=0, steps=1, lr=1e-3)


def case(**fields):
    """A ``CaseConfig`` from :data:`CASE_DEFAULTS` and the fields a test cares about."""
    from rnnbench.records import CaseConfig

    return CaseConfig(**{**CASE_DEFAULTS, **fields})


@pytest.fixture
def make_case():
    """:func:`case`, as a fixture: ``make_case(seq_len=64, time_budget_s=0.3)``."""
    return case


@pytest.fixture(scope="session")
def registry():
    from rnnbench.manager import load_registry

    return load_registry()


def cli_env(extra_pythonpath=()):
    env = dict(os.environ)
    paths = [str(TESTS), *map(str, extra_pythonpath)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("COLUMNS", "200")
    return env


def run_cli(*args, cwd=None, extra_pythonpath=(), timeout=600):
    """Run the real `rnnbench` command in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "rnnbench", *map(str, args)],
        cwd=cwd, env=cli_env(extra_pythonpath), capture_output=True, text=True, timeout=timeout,
    )


def run_cli_here(*args, cwd=None, extra_pythonpath=(), timeout=None):
    """Run ``rnnbench ARGS`` in this process (``rnnbench.cli.main``), as :func:`run_cli` reports it.

    For checks where a separate process proves nothing (argument errors, listings, a bad file): it
    spares a torch import per call. The plugins are loaded afresh, as a new process would, and the
    working folder, sys.path and COLUMNS are restored afterwards. ``--debug`` tracebacks are written
    to stderr as the process would print them. Signals, crashes and isolation need :func:`run_cli`.
    """
    import contextlib
    import io
    import traceback

    from rnnbench.cli import main
    from rnnbench.execution.runner import registry_for

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    saved_cwd, saved_path, saved_columns = os.getcwd(), list(sys.path), os.environ.get("COLUMNS")
    os.environ.setdefault("COLUMNS", "200")
    sys.path[:0] = [str(p) for p in extra_pythonpath]
    registry_for.cache_clear()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse's --help and --version
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:  # --debug lets the error through, as the process prints it
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        if saved_columns is None:
            os.environ.pop("COLUMNS", None)
        registry_for.cache_clear()
    return subprocess.CompletedProcess(["rnnbench", *argv], code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    """The command in this process (:func:`run_cli_here`); use ``cli_process`` where the process is the point."""
    return run_cli_here


@pytest.fixture
def cli_process():
    """The real ``rnnbench`` command in a subprocess (:func:`run_cli`)."""
    return run_cli
