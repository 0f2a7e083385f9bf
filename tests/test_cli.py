"""The command line as a user meets it: real subprocesses, real runs, real errors."""

import json

import pandas as pd
import pytest
from run_helpers import single_stderr_line as one_line_error

from rnnbench.store import ResultsStore

def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


HAS_CUDA = _has_cuda()
FAST = ["--steps", "6", "--hidden", "8", "--batch-size", "4", "--seq-len", "3", "--min-time", "0.01",
        "--no-progress"]


@pytest.mark.parametrize("args,expected", [
    (["--models", "lsmt"], "unknown model 'lsmt'; did you mean 'lstm'?"),
    (["--seq-len", "0"], "--seq-len: must be at least 1, got 0"),
    (["--batch-size", "-1"], "--batch-size: must be at least 1, got -1"),
    (["--hidden", "abc"], "--hidden: 'abc' is not an integer"),
    pytest.param(["--device", "cuda"], "--device cuda: no CUDA GPU is available here",
                 marks=pytest.mark.skipif(HAS_CUDA, reason="a CUDA GPU is here; test_device_cuda_runs_where_a_gpu_is"
                                          " checks the opposite")),
    (["--device", "tpu"], "--device: 'tpu' is not one of cpu, cuda"),
    (["--tasks", "cpy"], "unknown task 'cpy'; did you mean 'copy'?"),
    (["--executor", "nope"], "unknown executor 'nope'"),
    (["--threads", "0"], "--threads: must be positive"),
    (["--scenarios", "train,sing"], "--scenarios: 'sing' is not one of"),
    (["--task-opt", "copy.delay=5"], "--task-opt copy.delay: unknown option for task 'copy'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_input_is_one_clear_line(cli, tmp_path, args, expected):
    proc = cli("run", "--out", tmp_path, *args)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert line.startswith("rnnbench: error: ") and expected in line, line
    assert not (tmp_path / "rnnbench.db").exists()


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU (test_bad_input_is_one_clear_line covers its absence)")
def test_device_cuda_runs_where_a_gpu_is(cli, tmp_path):
    proc = cli("run", "--models", "lstm", "--device", "cuda", "--out", tmp_path, *FAST)
    assert proc.returncode == 0, proc.stderr
    [store_path] = tmp_path.glob("rnnbench.db")
    with ResultsStore(store_path, create=False) as store:
        [run_id] = store.run_ids()
        [result] = store.results(run_id)
    assert result.status == "ok" and result.config.device == "cuda"


def test_unknown_model_lists_the_available_ones(cli, tmp_path):
    line = one_line_error(cli("run", "--models", "lsmt", "--out", tmp_path))
    for name in ("gru@torch", "lstm@torch", "rnn@torch", "transformer@torch"):
        assert name in line


def test_version_and_help(cli):
    import rnnbench

    assert cli("--version").stdout.strip() == f"rnnbench {rnnbench.__version__}"
    help_text = cli("run", "--help").stdout
    for flag in ("--models", "--tasks", "--seq-len", "--batch-size", "--hidden", "--layers", "--device",
                 "--dtype", "--seeds", "--steps", "--executor", "--out", "--threads"):
        assert flag in help_text


def test_list_shows_models_tasks_and_executors(cli):
    proc = cli("list", "-p", "testplugins.unavailable")
    assert proc.returncode == 0
    for text in ("lstm@torch", "transformer@torch", "recurrent", "attention", "copy", "num_symbols", "local",
                 "ghost@test", "no: needs hardware that is not here"):
        assert text in proc.stdout, text


def test_list_names_a_broken_plugin_and_still_lists_the_rest(cli):
    proc = cli("list", "-p", "testplugins.raising_hook")
    assert proc.returncode == 0
    assert "plugin 'testplugins.raising_hook'" in proc.stderr and "registration exploded" in proc.stderr
    assert "lstm@torch" in proc.stdout


def test_env_is_json_with_versions_and_threads(cli):
    env = json.loads(cli("env").stdout)
    assert env["versions"]["torch"] and env["cpu"] and env["thread_cap"] >= 1 and "git_commit" in env
    # not the cap: what a run started now would choose, and why (issue 37)
    assert 1 <= env["threads_now"]["threads"] <= env["thread_cap"] and env["threads_now"]["reason"]


@pytest.mark.slow  # over 6 s on a quiet 2-core machine: run by `pytest -m slow`
def test_a_run_writes_csv_database_report_and_env(cli, tmp_path):
    proc = cli("run", "--models", "lstm,transformer", "--seeds", "0,1", "--out", tmp_path, *FAST)
    assert proc.returncode == 0, proc.stderr
    [run_dir] = [p for p in tmp_path.iterdir() if p.is_dir()]
    frame = pd.read_csv(run_dir / "results.csv")
    assert len(frame) == 4 and set(frame["status"]) == {"ok"}
    for column in ("model", "case_id", "train_step_time_s", "train_step_time_s_iqr", "train_step_time_s_n",
                   "forward_latency_s", "forward_tokens_per_s", "train_memory_bytes", "train_memory_bytes_method",
                   "train_eval_accuracy", "train_baseline_accuracy", "model_params", "threads", "cpu"):
        assert column in frame.columns, column
    assert (frame["train_baseline_accuracy"] == 1 / 8).all()
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        [run_id] = store.run_ids()
        stored = store.results(run_id)
        assert sorted(r.case_id for r in stored) == sorted(frame["case_id"])
        assert all(r.metric("forward", "latency_s").samples for r in stored)
    env = json.loads((run_dir / "env.json").read_text())
    assert env["thread_cap"] >= 1 and env["threads_ran"] == sorted({r.worker["threads"] for r in stored})
    report = (run_dir / "report.md").read_text()
    assert "lstm@torch" in report and "median" in report
    assert "train step" in proc.stdout and "lstm@torch" in proc.stdout


@pytest.mark.slow  # over 6 s on a quiet 2-core machine: run by `pytest -m slow`
def test_a_failing_factory_gives_error_rows_and_keeps_the_others(cli, tmp_path):
    proc = cli("run", "-p", "testplugins.failing_factory", "--models", "broken@test,gru", "--out", tmp_path, *FAST)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "1 of 2 case(s) failed" in proc.stderr
    [run_dir] = [p for p in tmp_path.iterdir() if p.is_dir()]
    frame = pd.read_csv(run_dir / "results.csv").set_index("model")
    assert frame.loc["broken@test", "status"] == "error"
    assert "this factory always fails" in frame.loc["broken@test", "error"]
    assert frame.loc["gru@torch", "status"] == "ok"
    assert frame.loc["gru@torch", "forward_latency_s"] > 0


@pytest.mark.slow  # over 6 s on a quiet 2-core machine: run by `pytest -m slow`
def test_resume_runs_only_what_is_missing(cli, tmp_path):
    first = cli("run", "--models", "gru", "--out", tmp_path, *FAST)
    assert first.returncode == 0
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        [run_id] = store.run_ids()
    second = cli("run", "--models", "gru,rnn", "--out", tmp_path, "--resume", run_id, *FAST)
    assert second.returncode == 0, second.stderr
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        results = store.results(run_id)
    assert sorted(r.config.model for r in results) == ["gru@torch", "rnn@torch"]


def test_an_unwritable_results_folder(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = cli("run", "--models", "gru", "--out", blocker / "sub", *FAST)
    assert proc.returncode == 2  # a usage error: the --out given cannot be a folder
    assert one_line_error(proc).startswith("rnnbench: error: --out: cannot create results folder")
