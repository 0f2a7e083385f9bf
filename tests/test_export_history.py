"""``rnnbench export`` (read by the real pytest-benchmark) and ``rnnbench history``."""

import json
import subprocess
import sys

import pytest

from rnnbench.store import ResultsStore
from run_helpers import rnnbench, run_sweep

SWEEP = ["--models", "gru,transformer", "--steps", "8", "--scenarios", "train,forward", "--min-time", "0.02",
         "--hidden", "8", "--batch-size", "4", "--seq-len", "3", "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    run_ids = [run_sweep(out, *SWEEP) for _ in range(2)]
    return out, run_ids


def test_pytest_benchmark_compare_reads_the_export(store, tmp_path):
    out, run_ids = store
    target = tmp_path / "0001_rnnbench.json"
    proc = rnnbench("export", run_ids[0], "--format", "pytest-benchmark", "-o", target, "--out", out)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(target.read_text())
    # one benchmark per case and timed scenario: 2 models x (train step, forward)
    assert len(doc["benchmarks"]) == 4
    assert {b["group"] for b in doc["benchmarks"]} == {"train step_time_s", "forward latency_s"}
    shown = subprocess.run([sys.executable, "-m", "pytest_benchmark", "compare", str(target),
                            "--columns=min,median,max,rounds", "--group-by=group"],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Failed to load" not in shown.stdout + shown.stderr
    for bench in doc["benchmarks"]:
        assert bench["name"] in shown.stdout
    assert "forward latency_s" in shown.stdout and "train step_time_s" in shown.stdout


def test_the_export_has_what_github_action_benchmark_reads(store, tmp_path):
    """github-action-benchmark's ``pytest`` tool reads fullname, stats.ops/stddev/mean/rounds."""
    out, run_ids = store
    proc = rnnbench("export", run_ids[0], "--format", "pytest-benchmark", "--out", out)
    doc = json.loads(proc.stdout)
    for key in ("machine_info", "commit_info", "benchmarks", "datetime", "version"):
        assert key in doc
    with ResultsStore(out / "rnnbench.db", create=False) as db:
        stored = {r.case_id: r for r in db.results(run_ids[0])}
    for bench in doc["benchmarks"]:
        stats = bench["stats"]
        assert isinstance(bench["fullname"], str) and bench["fullname"].startswith("rnnbench::")
        for key in ("ops", "stddev", "mean", "rounds", "min", "max", "median", "iqr", "q1", "q3", "total"):
            assert isinstance(stats[key], (int, float)), key
        # stats are computed from the stored raw samples
        case = stored[bench["extra_info"]["case_id"]]
        scenario, name = bench["group"].split(" ")
        samples = case.metric(scenario, name).samples
        assert stats["data"] == samples and stats["rounds"] == len(samples)
        assert stats["ops"] == pytest.approx(len(samples) / sum(samples))
        assert stats["median"] == pytest.approx(case.metric(scenario, name).value)
    assert len({b["fullname"] for b in doc["benchmarks"]}) == len(doc["benchmarks"])


def test_export_errors_are_one_line(store, tmp_path):
    out, _ = store
    proc = rnnbench("export", "nope", "--out", out)
    assert proc.returncode == 2 and "unknown run id 'nope'" in proc.stderr and "Traceback" not in proc.stderr
    proc = rnnbench("export", "latest", "--format", "csv", "--out", out)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_history_shows_a_metric_over_the_runs(store, tmp_path):
    out, run_ids = store
    proc = rnnbench("history", "--out", out, "--metric", "forward_latency_s", "--model", "gru")
    assert proc.returncode == 0, proc.stderr
    for run_id in run_ids:
        assert run_id in proc.stdout
    assert "gru@torch" in proc.stdout and "transformer@torch" not in proc.stdout
    assert "median ±IQR/2" in proc.stdout
    markdown = rnnbench("history", "--out", out, "--metric", "model_params", "--format", "markdown")
    assert markdown.returncode == 0
    assert all(markdown.stdout.count(f"| {run_id} |") == 1 for run_id in run_ids)  # one row per run
    assert "gru@torch" in markdown.stdout and "transformer@torch" in markdown.stdout


def test_history_plot_is_a_png(store, tmp_path):
    pytest.importorskip("matplotlib")
    out, _ = store
    target = tmp_path / "history.png"
    proc = rnnbench("history", "--out", out, "--metric", "train_step_time_s", "--plot", target)
    assert proc.returncode == 0, proc.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_history_errors_are_one_line(store, tmp_path):
    out, _ = store
    proc = rnnbench("history", "--out", out, "--metric", "forward_speed")
    assert proc.returncode == 2 and "no metric 'forward_speed'" in proc.stderr and "forward_latency_s" in proc.stderr
    proc = rnnbench("history", "--out", out, "--model", "lstm")
    assert proc.returncode == 2 and "no stored case matches" in proc.stderr
    proc = rnnbench("history", "--out", tmp_path)
    assert proc.returncode == 2 and "no results database" in proc.stderr


def test_history_plot_without_matplotlib_says_what_to_install(store, tmp_path, monkeypatch, capsys):
    from rnnbench.cli import main

    out, _ = store
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    code = main(["history", "--out", str(out), "--plot", str(tmp_path / "x.png")])
    assert code == 2
    assert "install rnnbench[plot]" in capsys.readouterr().err
