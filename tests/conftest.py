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


@pytest.fixture
def cli():
    return run_cli
