"""The process executor with real worker processes: crashes, hangs and OOMs become rows."""

import os
import textwrap

import pytest

from rnnbench.specs import ExecutorOptions
from rnnbench.manager import load_registry
from rnnbench.execution.runner import RunSettings
from rnnbench.execution.session import run_sweep
from rnnbench.store import ResultsStore
from rnnbench.request.options import RunRequest
from rnnbench.request.sweep import expand
from rnnbench.execution.timing import TimerSettings

FAST = ["--steps", "6", "--hidden", "8", "--batch-size", "4", "--seq-len", "3", "--min-time", "0.01",
        "--no-progress"]


def stored(out_dir):
    with ResultsStore(out_dir / "rnnbench.db", create=False) as store:
        [run_id] = store.run_ids()
        return {r.config.model: r for r in store.results(run_id)}


def assert_complete(result):
    """An ok row with every figure a tiny case produces, including the worker's peak RSS."""
    assert result.status == "ok", result.error
    for scenario, name in [("train", "step_time_s"), ("train", "eval_accuracy"), ("forward", "latency_s"),
                           ("model", "params")]:
        metric = result.metric(scenario, name)
        assert metric is not None and metric.value is not None and metric.value > 0, (scenario, name)
    peak = result.metric("worker", "peak_rss_bytes")
    baseline = result.metric("worker", "baseline_rss_bytes")
    assert peak.unit == "bytes" and "VmHWM" in peak.method
    # a worker with torch loaded holds tens of MB at least, and its peak is at least its baseline
    assert 10 * 2**20 < baseline.value <= peak.value


#: long enough for the healthy case on a loaded 2-core machine; the hanging case costs this much
TIMEOUT_S = 20


@pytest.mark.slow
def test_crash_hang_oom_and_exit_each_become_a_row_and_the_sweep_goes_on(cli, tmp_path):
    models = "tiny@test,segfault@test,hang@test,hog@test,exit@test"
    proc = cli("run", "-p", "testplugins.tiny", "-p", "testplugins.misbehaving", "--models", models,
               "--executor", "process", "--workers", "2", "--timeout", str(TIMEOUT_S), "--out", tmp_path, *FAST)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "4 of 5 case(s) failed" in proc.stderr
    assert "--workers 2 runs 2 cases at once" in proc.stderr  # concurrent cases share the cores
    rows = stored(tmp_path)
    assert set(rows) == set(models.split(","))
    assert_complete(rows["tiny@test"])

    segfault = rows["segfault@test"]
    assert segfault.status == "crashed" and segfault.error == "worker died from signal 11 (SIGSEGV)"
    assert "in segfault" in segfault.details["traceback"]  # faulthandler's stack of the crash

    hang = rows["hang@test"]
    assert hang.status == "timeout" and f"--timeout {TIMEOUT_S}s" in hang.error
    assert "in hang" in hang.details["traceback"]  # where it hung, dumped before the kill
    assert hang.duration_s >= TIMEOUT_S

    hog = rows["hog@test"]
    assert hog.status == "oom" and hog.error == "MemoryError"

    early_exit = rows["exit@test"]
    assert early_exit.status == "crashed" and "exited with code 3" in early_exit.error

    for row in rows.values():  # each ran in its own worker, which is gone now
        assert row.worker["pid"] != os.getpid()
        with pytest.raises(ProcessLookupError):
            os.kill(row.worker["pid"], 0)
    assert len({row.worker["pid"] for row in rows.values()}) == len(rows)


def test_workers_import_plugins_the_parent_found_through_sys_path(tmp_path, monkeypatch):
    # The module is importable only through this process's sys.path (not PYTHONPATH),
    # so the spawned worker can load it only if it gets the parent's sys.path.
    plugin_dir = tmp_path / "plugins_here"
    plugin_dir.mkdir()
    (plugin_dir / "only_in_parent_path.py").write_text(textwrap.dedent("""
        import rnnbench
        from testplugins.tiny import factory

        @rnnbench.hookimpl
        def rnnbench_register_models(register):
            register(rnnbench.ModelSpec(arch="pathonly", backend="test", family="other", factory=factory))
    """))
    monkeypatch.syspath_prepend(str(plugin_dir))
    assert str(plugin_dir) not in os.environ.get("PYTHONPATH", "")
    registry = load_registry(["only_in_parent_path"])
    cases = expand(RunRequest(models=["pathonly@test"], hidden=[8], batch_size=[4], seq_len=[3], steps=[4]),
                   registry).cases
    settings = RunSettings(scenarios=("forward",), thread_cap=1, timer=TimerSettings(min_run_time=0.01))
    outcome = run_sweep(cases, registry, settings, executor="process", out_dir=tmp_path / "out",
                        executor_options=ExecutorOptions(timeout=120))
    [result] = outcome.results
    assert result.status == "ok", result.error
    assert result.metric("forward", "latency_s").value > 0
    assert result.worker["pid"] != os.getpid()


def test_the_process_executor_is_listed(cli):
    proc = cli("list")
    assert proc.returncode == 0
    assert "process" in proc.stdout and "fresh worker process" in proc.stdout


def test_the_local_executor_says_it_cannot_honour_a_timeout(cli, tmp_path):
    proc = cli("run", "-p", "testplugins.tiny", "--models", "tiny@test", "--scenarios", "forward",
               "--timeout", "5", "--out", tmp_path, *FAST)
    assert proc.returncode == 0, proc.stderr
    assert "the local executor cannot stop a case, so --timeout is ignored" in proc.stderr
