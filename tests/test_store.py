"""The SQLite store: round trips, atomic case writes, and files that are not ours."""

import sqlite3

import pytest

from rnnbench.errors import RnnbenchError
from rnnbench.records import CaseConfig, CaseResult, Metric, RunInfo
from rnnbench.store import ResultsStore
from rnnbench.store.schema import SCHEMA_VERSION


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


# The schema rnnbench wrote before schema 2 (calls per sample only in the method text, the
# loss curve stored as a metric's samples), as a database from an earlier release holds it.
SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (run_id TEXT PRIMARY KEY, created_at REAL NOT NULL, finished_at REAL, status TEXT NOT NULL,
    command TEXT, git_commit TEXT, host TEXT, env_json TEXT NOT NULL, settings_json TEXT NOT NULL);
CREATE TABLE cases (run_id TEXT NOT NULL REFERENCES runs(run_id), case_id TEXT NOT NULL, config_json TEXT NOT NULL,
    status TEXT NOT NULL, error TEXT, worker_json TEXT, details_json TEXT, started_at REAL, duration_s REAL,
    PRIMARY KEY (run_id, case_id));
CREATE TABLE metrics (run_id TEXT NOT NULL, case_id TEXT NOT NULL, scenario TEXT NOT NULL, name TEXT NOT NULL,
    value REAL, unit TEXT, method TEXT, samples_json TEXT, PRIMARY KEY (run_id, case_id, scenario, name));
"""


def a_schema_1_database(path):
    import json

    case = a_case()
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_1)
        conn.executemany("INSERT INTO meta VALUES (?, ?)", [("app", "rnnbench"), ("schema_version", "1")])
        conn.execute("INSERT INTO runs VALUES ('old', 1.0, 2.0, 'finished', 'rnnbench run', 'abc', 'h', ?, ?)",
                     (json.dumps({"host": "h"}), json.dumps({"scenarios": ["train", "forward"], "threads": 2,
                                                              "train_warmup_steps": 3, "executor": "local"})))
        conn.execute("INSERT INTO cases VALUES ('old', ?, ?, 'ok', '', '{}', '{}', 1.0, 2.0)",
                     (case.case_id, json.dumps(case.to_dict())))
        conn.executemany("INSERT INTO metrics VALUES ('old', ?, ?, ?, ?, ?, ?, ?)", [
            (case.case_id, "forward", "latency_s", 0.002, "s",
             "median of 3 samples (40 call(s) each) after 3 warm-up call(s), wall clock", "[0.001, 0.002, 0.004]"),
            (case.case_id, "train", "loss_curve", None, "", "training loss every 2 step(s)", "[2.0, 1.5, 1.0]"),
        ])
    return case


def _check_old_run(results):
    [result] = results
    latency = result.metric("forward", "latency_s")
    assert latency.samples == [0.001, 0.002, 0.004] and latency.calls_per_sample == 40
    assert result.metric("train", "loss_curve") is None  # a curve is a series, not a metric
    assert result.curve("train", "loss_curve").y == [2.0, 1.5, 1.0]


def test_a_schema_1_database_is_read_as_it_is_by_a_reader(tmp_path):
    db = tmp_path / "rnnbench.db"
    a_schema_1_database(db)
    db.chmod(0o444)  # read-only, as an archived results folder may be
    try:
        with ResultsStore.reader(db) as store:
            _check_old_run(store.results("old"))
            assert store.run_info("old").run_settings.train_warmup_steps == 3
    finally:
        db.chmod(0o644)
    with sqlite3.connect(db) as conn:  # nothing was migrated by reading
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)


def test_a_schema_1_database_is_migrated_in_place_by_a_writer(tmp_path):
    db = tmp_path / "rnnbench.db"
    case = a_schema_1_database(db)
    with ResultsStore(db) as store:
        _check_old_run(store.results("old"))
        store.create_run(RunInfo("new", tmp_path, {"host": "h"}))
        store.add_result("new", a_result())
    with ResultsStore.reader(db) as store:
        _check_old_run(store.results("old"))
        assert [r.case_id for r in store.results("new")] == [case.case_id]
        assert store.schema_version == SCHEMA_VERSION
