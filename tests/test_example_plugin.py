"""The example plugin package, installed with pip for real, is found and runs."""

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


def test_list_shows_the_example_model_and_task(cli, installed_example):
    proc = cli("list", extra_pythonpath=[installed_example])
    assert proc.returncode == 0, proc.stderr
    assert "conv@example" in proc.stdout and "reverse" in proc.stdout
    assert "rnnbench_example.plugin" not in proc.stderr  # no load problems


def test_run_trains_the_example_model_on_the_example_task(cli, installed_example, tmp_path):
    proc = cli("run", "--models", "conv,lstm", "--tasks", "reverse", "--steps", "40", "--min-time", "0.05",
               "--hidden", "32", "--no-progress", "--out", tmp_path, extra_pythonpath=[installed_example])
    assert proc.returncode == 0, proc.stderr
    [run_dir] = [p for p in tmp_path.iterdir() if p.is_dir()]
    frame = pd.read_csv(run_dir / "results.csv").set_index("model")
    assert set(frame.index) == {"conv@example", "lstm@torch"}
    assert (frame["status"] == "ok").all()
    assert frame.loc["conv@example", "train_baseline_accuracy"] == pytest.approx(1 / 8)
    assert frame.loc["conv@example", "forward_latency_s"] > 0


def test_the_example_packages_own_tests_pass(installed_example):
    from conftest import cli_env

    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        env=cli_env([installed_example]), capture_output=True, text=True, timeout=600, cwd=EXAMPLE,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_the_example_study_is_listed(cli, installed_example):
    """The example's study lives in its own module and entry point, found like its model and task."""
    proc = cli("study", "list", extra_pythonpath=[installed_example])
    assert proc.returncode == 0, proc.stderr
    assert "receptive-field" in proc.stdout and "rnnbench_example.study" not in proc.stderr
