"""The example plugin package, installed with pip for real, is found, runs, and passes its own tests."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

EXAMPLE = Path(__file__).parents[1] / "examples" / "rnnbench-example-plugin"


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """pip-install the example into a private folder put on PYTHONPATH (the test
    environment itself stays untouched); its entry point is found from there.

    Without build isolation: pip would otherwise download setuptools into a fresh build
    environment, and the suite must pass without a network (setuptools is a dev extra)."""
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
         "--target", str(target), str(EXAMPLE)],
        capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(f"pip install of the example plugin failed:\n{proc.stderr[-3000:]}")
    return target


def test_list_shows_the_example_model_its_option_and_its_distribution(cli_process, installed_example):
    proc = cli_process("list", extra_pythonpath=[installed_example])
    assert proc.returncode == 0, proc.stderr
    for text in ("mingru@example", "parity", "scan='parallel'", "rnnbench-example-plugin 0.1.0"):
        assert text in proc.stdout, text
    assert "warning" not in proc.stderr  # no load problems
    plugins = cli_process("list", "--plugins", extra_pythonpath=[installed_example])
    assert "rnnbench_example.plugin" in plugins.stdout and "rnnbench-example-plugin" in plugins.stdout


def test_run_trains_the_example_model_with_its_option(cli_process, installed_example, tmp_path):
    proc = cli_process("run", "--models", "mingru,lstm", "--tasks", "parity", "--model-opt", "mingru.scan=sequential",
               "--steps", "20", "--min-time", "0.02", "--hidden", "16", "--seq-len", "8", "--threads", "1",
               "--no-progress", "--out", tmp_path, extra_pythonpath=[installed_example])
    assert proc.returncode == 0, proc.stderr
    [run_dir] = [p for p in tmp_path.iterdir() if p.is_dir()]
    frame = pd.read_csv(run_dir / "results.csv").set_index("model")
    # an option that differs from its default is part of the model's label
    assert set(frame.index) == {"mingru@example[scan=sequential]", "lstm@torch"}
    assert (frame["status"] == "ok").all()
    assert json.loads(frame.loc["mingru@example[scan=sequential]", "model_options"]) == {"scan": "sequential"}
    assert json.loads(frame.loc["lstm@torch", "model_options"]) == {}
    assert frame.loc["mingru@example[scan=sequential]", "train_baseline_accuracy"] == pytest.approx(0.5)
    env = json.loads((run_dir / "env.json").read_text())
    assert env["plugins"]["example"]["distribution"] == "rnnbench-example-plugin"
    assert env["plugins"]["example"]["version"] == "0.1.0"


def test_the_example_packages_own_tests_pass(installed_example):
    from conftest import cli_env

    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        env=cli_env([installed_example]), capture_output=True, text=True, timeout=600, cwd=EXAMPLE,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "6 passed" in proc.stdout, proc.stdout[-500:]


def test_the_example_study_is_listed(cli_process, installed_example):
    """The example's study lives in its own module and entry point, found like its model and task."""
    proc = cli_process("study", "list", extra_pythonpath=[installed_example])
    assert proc.returncode == 0, proc.stderr
    assert "state-tracking" in proc.stdout and "rnnbench_example.study" not in proc.stderr
