"""Several writers on one results database: every row of every writer is kept."""

import multiprocessing
import subprocess
import sys
import pytest

from conftest import cli_env
from rnnbench.records import CaseResult, Metric, RunInfo
from rnnbench.store import ResultsStore
from rnnbench.records import CaseConfig

FAST = ["--steps", "6", "--hidden", "8", "--batch-size", "4", "--seq-len", "3", "--min-time", "0.01",
        "--scenarios", "forward", "--no-progress", "-p", "testplugins.tiny", "--models", "tiny@test"]


@pytest.mark.slow  # over 6 s on a quiet 2-core machine: run by `pytest -m slow`
def test_two_sweeps_into_one_database_at_once_keep_all_their_rows(tmp_path):
    sweeps = {"first": "0,1,2", "second": "3,4,5"}
    procs = {
        name: subprocess.Popen([sys.executable, "-m", "rnnbench", "run", "--out", str(tmp_path), "--seeds", seeds,
                                *FAST], env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, seeds in sweeps.items()
    }
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, (name, err)
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        runs = store.run_ids()
        assert len(runs) == 2
        seeds_by_run = sorted(sorted(r.config.seed for r in store.results(run)) for run in runs)
        assert all(all(r.status == "ok" for r in store.results(run)) for run in runs)
    assert seeds_by_run == [[0, 1, 2], [3, 4, 5]]


def _write_many(db, run_id, count):
    with ResultsStore(db) as store:
        store.create_run(RunInfo(run_id, db.parent, {"host": "h"}))
        for seed in range(count):
            config = CaseConfig(model="tiny@test", task="copy", task_options=(), seq_len=3, batch_size=4,
                                hidden=8, layers=1, device="cpu", dtype="float32", seed=seed, steps=6, lr=0.002)
            store.add_result(run_id, CaseResult(config=config, metrics=[
                Metric("forward", "latency_s", 0.001 * (seed + 1), "s", "test", [0.001] * 20),
                Metric("model", "params", 10.0, "count", "test"),
            ]))
        store.finish_run(run_id)


def test_writers_racing_on_a_new_database_lose_nothing(tmp_path):
    # Four processes create the same database and write 150 cases each, as fast as they can:
    # the WAL journal, BEGIN IMMEDIATE and the busy timeout must serialize them.
    db = tmp_path / "rnnbench.db"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_many, args=(db, f"run{i}", 150)) for i in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=300)
        assert writer.exitcode == 0
    with ResultsStore(db, create=False) as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert sorted(store.run_ids()) == ["run0", "run1", "run2", "run3"]
        for run in store.run_ids():
            results = store.results(run)
            assert len(results) == 150 and all(len(r.metrics) == 2 for r in results)
