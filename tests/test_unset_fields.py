"""steps under a budget and lr under --lr-grid are None (schema 3), not the 0 they were: case ids stay
what they were, a config stored the old way reads the new way, and a schema-2 database is migrated."""

import json
import sqlite3

from rnnbench.cli import main
from rnnbench.records import CaseConfig, upgrade_unset_fields
from rnnbench.store import ResultsStore
from rnnbench.store.schema import SCHEMA_VERSION

BASE = dict(model="lstm@torch", task="copy", task_options=(("num_symbols", 8),), seq_len=16, batch_size=8,
            hidden=32, layers=1, device="cpu", dtype="float32", seed=0)

#: case ids computed by rnnbench before schema 3 (lr 0.0 under a grid, steps 0 under a budget): stored runs
#: are compared across versions by these ids, so they must never change
PINNED = {
    "plain": (dict(steps=100, lr=1e-3), "781f715182d3"),
    "grid": (dict(steps=100, lr=None, lr_grid=(1e-3, 3e-3)), "724c5468bbfd"),
    "time": (dict(steps=None, lr=2e-3, time_budget_s=5.0), "79a3718292e5"),
    "flops": (dict(steps=None, lr=2e-3, flops_budget=1e9), "3591f08fdd48"),
    "grid_time": (dict(steps=None, lr=None, lr_grid=(1e-3, 1e-2), time_budget_s=2.0), "8e6588ac203f"),
}


def old_spelling(config: CaseConfig) -> dict:
    """The config as rnnbench stored it before schema 3 (as JSON gives it back)."""
    data = config.to_dict()
    data["steps"] = 0 if data["steps"] is None else data["steps"]
    data["lr"] = 0.0 if data["lr"] is None else data["lr"]
    return json.loads(json.dumps(data))


def test_case_ids_are_those_computed_before_none_replaced_zero():
    for name, (fields, case_id) in PINNED.items():
        assert CaseConfig(**BASE, **fields).case_id == case_id, name


def test_a_config_stored_with_zeros_reads_with_none_and_keeps_its_id():
    for name, (fields, case_id) in PINNED.items():
        config = CaseConfig.from_dict(old_spelling(CaseConfig(**BASE, **fields)))
        assert (config.steps, config.lr) == (fields["steps"], fields["lr"]), name
        assert config.case_id == case_id, name


def test_only_a_zero_beside_a_budget_or_a_grid_is_rewritten():
    given = CaseConfig(**BASE, steps=100, lr=1e-3).to_dict()
    assert upgrade_unset_fields({**given, "steps": 0, "lr": 0.0}) == {**given, "steps": 0, "lr": 0.0}
    assert upgrade_unset_fields({**given, "steps": 0, "flops_budget": 1e9})["steps"] is None
    assert upgrade_unset_fields({**given, "lr": 0.0, "lr_grid": [1e-3]})["lr"] is None
    assert upgrade_unset_fields({**given, "time_budget_s": 1.0})["steps"] == 100  # a value, not the old sentinel


# -- a schema-2 database, written the old way ---------------------------------------------------------

#: the tables as schema 2 created them (copied here: the store's own schema moves on)
SCHEMA_2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (run_id TEXT PRIMARY KEY, created_at REAL NOT NULL, finished_at REAL, status TEXT NOT NULL,
    command TEXT, git_commit TEXT, host TEXT, env_json TEXT NOT NULL, settings_json TEXT NOT NULL);
CREATE TABLE cases (run_id TEXT NOT NULL REFERENCES runs(run_id), case_id TEXT NOT NULL,
    config_json TEXT NOT NULL, status TEXT NOT NULL, error TEXT, worker_json TEXT, details_json TEXT,
    started_at REAL, duration_s REAL, PRIMARY KEY (run_id, case_id));
CREATE TABLE metrics (run_id TEXT NOT NULL, case_id TEXT NOT NULL, scenario TEXT NOT NULL, name TEXT NOT NULL,
    value REAL, unit TEXT, method TEXT, samples_json TEXT, calls_per_sample INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (run_id, case_id, scenario, name));
CREATE INDEX metrics_by_case ON metrics(case_id);
CREATE TABLE series (run_id TEXT NOT NULL, case_id TEXT NOT NULL, scenario TEXT NOT NULL, name TEXT NOT NULL,
    x_json TEXT NOT NULL, y_json TEXT NOT NULL, x_label TEXT, unit TEXT, method TEXT,
    PRIMARY KEY (run_id, case_id, scenario, name));
"""

#: details and worker facts as rnnbench wrote them at schema 2
DETAILS_2 = {"family": "recurrent", "total_seq_len": 26, "primary_metric": "accuracy", "higher_is_better": True,
             "primary_metric_bounded": True, "baseline_kind": "chance"}
WORKER_2 = {"host": "h", "pid": 7, "cpu": "some cpu", "threads": 2,
            "settings": {"scenarios": ["train"], "threads": 2, "auto_threads": False}}


def a_schema_2_database(path) -> dict[str, str]:
    """One run, 'old', holding the pinned cases as schema 2 stored them; returns their ids by name."""
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_2)
        conn.executemany("INSERT INTO meta VALUES (?, ?)", [("app", "rnnbench"), ("schema_version", "2")])
        conn.execute("INSERT INTO runs VALUES ('old', 1.0, 2.0, 'finished', 'rnnbench run', 'abc', 'h', ?, ?)",
                     (json.dumps({"host": "h"}), json.dumps({"run": {"scenarios": ["train"], "threads": 2}})))
        for name, (fields, case_id) in PINNED.items():
            config = old_spelling(CaseConfig(**BASE, **fields))
            conn.execute("INSERT INTO cases VALUES ('old', ?, ?, 'ok', '', ?, ?, 1.0, 2.0)",
                         (case_id, json.dumps(config), json.dumps(WORKER_2), json.dumps(DETAILS_2)))
            conn.execute("INSERT INTO metrics VALUES ('old', ?, 'train', 'eval_accuracy', 0.5, '', 'mean', NULL, 1)",
                         (case_id,))
    return {name: case_id for name, (_, case_id) in PINNED.items()}


def exported_configs(out, capsys) -> dict[str, dict]:
    """``rnnbench export old``: each case's config as the command writes it, by case id."""
    assert main(["export", "old", "--out", str(out)]) == 0
    cases = json.loads(capsys.readouterr().out)["results"]
    return {CaseConfig.from_dict(case["config"]).case_id: case["config"] for case in cases}


def stored_configs(db) -> dict[str, dict]:
    with sqlite3.connect(db) as conn:
        return {case_id: json.loads(text) for case_id, text in conn.execute("SELECT case_id, config_json FROM cases")}


def check_new_convention(configs: dict[str, dict], ids: dict[str, str]) -> None:
    for name, (fields, _) in PINNED.items():
        config = configs[ids[name]]
        assert (config["steps"], config["lr"]) == (fields["steps"], fields["lr"]), name


def test_a_reader_reads_a_schema_2_database_in_the_new_convention_without_writing(tmp_path, capsys):
    db = tmp_path / "rnnbench.db"
    ids = a_schema_2_database(db)
    check_new_convention(exported_configs(tmp_path, capsys), ids)
    with sqlite3.connect(db) as conn:  # reading migrates nothing
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
    assert stored_configs(db)[ids["grid"]]["lr"] == 0.0


def test_a_writer_migrates_a_schema_2_database_to_one_convention(tmp_path, capsys):
    db = tmp_path / "rnnbench.db"
    ids = a_schema_2_database(db)
    with ResultsStore(db) as store:
        assert store.schema_version == SCHEMA_VERSION == 3
    stored = stored_configs(db)
    assert set(stored) == set(ids.values())  # the case ids stay the keys they were
    check_new_convention(stored, ids)
    assert stored[ids["plain"]] == old_spelling(CaseConfig(**BASE, **PINNED["plain"][0]))  # nothing else moved
    check_new_convention(exported_configs(tmp_path, capsys), ids)
    with ResultsStore.reader(db) as store:
        [result] = [r for r in store.results("old") if r.case_id == ids["time"]]
    assert result.ran_on.threads == 2 and result.scoring.primary_metric == "accuracy"
    # the run's settings and each row's copy name the cap thread_cap, as the code now writes them
    with sqlite3.connect(db) as conn:
        [settings] = [json.loads(text) for (text,) in conn.execute("SELECT settings_json FROM runs")]
        workers = [json.loads(text) for (text,) in conn.execute("SELECT worker_json FROM cases")]
    assert settings["run"] == {"scenarios": ["train"], "thread_cap": 2}
    assert all(w["settings"] == {"scenarios": ["train"], "thread_cap": 2, "auto_threads": False} and w["threads"] == 2
               for w in workers)
    with ResultsStore.reader(db) as store:
        assert store.run_info("old").run_settings.thread_cap == 2


def test_settings_stored_before_the_cap_had_its_name_read_as_the_cap():
    from rnnbench.records import RunSettings

    assert RunSettings.from_dict({"scenarios": ["train"], "threads": 3}).thread_cap == 3
    assert RunSettings.from_dict({"threads": 3, "thread_cap": 1}).thread_cap == 1  # the new name wins


def test_a_time_budget_run_stores_no_step_count_and_trains(tmp_path, capsys):
    """End to end: --time-budget expands to cases with steps None, which the runner trains to the budget."""
    args = ["run", "--models", "lstm", "--tasks", "copy", "--task-opt", "copy.num_symbols=3", "--seq-len", "3",
            "--hidden", "8", "--batch-size", "4", "--time-budget", "0.2", "--scenarios", "train", "--threads", "1",
            "--no-progress", "--out", str(tmp_path)]
    assert main(args) == 0
    capsys.readouterr()
    db = tmp_path / "rnnbench.db"
    [stored] = stored_configs(db).values()
    assert stored["steps"] is None and stored["time_budget_s"] == 0.2
    with ResultsStore.reader(db) as store:
        [result] = store.results(store.run_ids()[-1])
    assert result.status == "ok", result.error
    assert result.config.steps is None and result.metric("train", "steps_reached").value >= 1
