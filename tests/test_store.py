"""The SQLite store: round trips, atomic case writes, and files that are not ours."""

import sqlite3

import pytest

from rnnbench.errors import RnnbenchError
from rnnbench.records import CaseResult, Metric, RunInfo
from rnnbench.store import ResultsStore
from rnnbench.records import CaseConfig


def a_case(seed=0):
    return CaseConfig(model="lstm@torch", task="copy", task_options=(("num_symbols", 10),), seq_len=10,
                      batch_size=8, hidden=16, layers=1, device="cpu", dtype="float32", seed=seed, steps=5,
                      lr=0.002)


def a_result(seed=0, status="ok"):
    return CaseResult(
        config=a_case(seed), status=status, error="" if status == "ok" else "RuntimeError: boom",
        metrics=[Metric("forward", "latency_s", 0.002, "s", "median of 3", [0.001, 0.002, 0.004]),
                 Metric("train", "eval_accuracy", 0.75, "", "mean over 2 batches"),
                 Metric("train", "memory_bytes", None, "bytes", "not measured")],
        worker={"host": "h", "pid": 1, "cpu": "c", "threads": 2}, details={"kernel_path": "x"},
        started_at=1.0, duration_s=2.0,
    )


def test_round_trip(tmp_path):
    with ResultsStore(tmp_path / "r.db") as store:
        store.create_run(RunInfo("run1", tmp_path, {"host": "h", "git_commit": "abc"}, "rnnbench run"))
        store.add_result("run1", a_result(0))
        store.add_result("run1", a_result(1, "error"))
    with ResultsStore(tmp_path / "r.db", create=False) as store:
        [ok, bad] = store.results("run1")
        assert ok.to_dict() == a_result(0).to_dict()
        assert bad.status == "error" and bad.error == "RuntimeError: boom"
        assert ok.metric("forward", "latency_s").samples == [0.001, 0.002, 0.004]
        assert store.run_info("run1").env["git_commit"] == "abc"
        assert store.done_case_ids("run1") == {a_case(0).case_id, a_case(1).case_id}


def test_storing_a_case_again_replaces_it(tmp_path):
    with ResultsStore(tmp_path / "r.db") as store:
        store.create_run(RunInfo("run1", tmp_path, {}))
        store.add_result("run1", a_result(0, "error"))
        store.add_result("run1", a_result(0))
        [only] = store.results("run1")
        assert only.status == "ok" and len(only.metrics) == 3


def test_unknown_run_id(tmp_path):
    with ResultsStore(tmp_path / "r.db") as store:
        with pytest.raises(RnnbenchError, match="unknown run id 'nope'"):
            store.results("nope")


def test_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("hello, this is text\n" * 100)
    with pytest.raises(RnnbenchError, match="is not an rnnbench results database"):
        ResultsStore(path)


def test_a_foreign_sqlite_database(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE songs (title TEXT)")
    with pytest.raises(RnnbenchError, match="SQLite database, but not an rnnbench results database"):
        ResultsStore(path)


def test_a_database_from_a_newer_schema(tmp_path):
    path = tmp_path / "r.db"
    ResultsStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(RnnbenchError, match="written by a newer rnnbench"):
        ResultsStore(path)
