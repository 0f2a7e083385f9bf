"""The results store: an SQLite database (stdlib sqlite3) of runs, cases and metrics.

Each finished case is written in its own transaction as soon as it arrives, so a
killed sweep loses at most the case in flight. The database is opened in WAL mode
with a busy timeout, so several ``rnnbench run`` processes may write to it at once.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator

from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.records import CaseResult, Metric, RunInfo
from rnnbench.sweep import CaseConfig

SCHEMA_VERSION = 1
APP_ID = "rnnbench"
DEFAULT_DB_NAME = "rnnbench.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL,
    command TEXT,
    git_commit TEXT,
    host TEXT,
    env_json TEXT NOT NULL,
    settings_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cases (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    case_id TEXT NOT NULL,
    config_json TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    worker_json TEXT,
    details_json TEXT,
    started_at REAL,
    duration_s REAL,
    PRIMARY KEY (run_id, case_id)
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    scenario TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    unit TEXT,
    method TEXT,
    samples_json TEXT,
    PRIMARY KEY (run_id, case_id, scenario, name)
);
CREATE INDEX IF NOT EXISTS metrics_by_case ON metrics(case_id);
"""


class ResultsStore:
    """Read and write runs in one SQLite file."""

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.exists():
            raise UsageError(f"no results database at {self.path}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = 60000")
            self._check_and_init(create)
        except sqlite3.OperationalError as exc:  # cannot open, locked, disk I/O: not a foreign file
            raise RnnbenchError(f"cannot use the results database {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise RnnbenchError(f"{self.path} is not an rnnbench results database ({exc})") from None
        except PermissionError as exc:
            raise RnnbenchError(f"cannot write results to {self.path.parent}: {exc.strerror}") from None

    # -- setup --------------------------------------------------------------------------------
    def _check_and_init(self, create: bool) -> None:
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise RnnbenchError(f"{self.path} is an SQLite database, but not an rnnbench results database")
        if "meta" in tables:
            meta = dict(self.conn.execute("SELECT key, value FROM meta"))
            if meta.get("app") != APP_ID:
                raise RnnbenchError(f"{self.path} is an SQLite database, but not an rnnbench results database")
            version = int(meta.get("schema_version", "0"))
            if version > SCHEMA_VERSION:
                raise RnnbenchError(
                    f"{self.path} was written by a newer rnnbench (results schema {version}; this version"
                    f" reads up to {SCHEMA_VERSION}); upgrade rnnbench or use another --out folder"
                )
            return
        if not create:
            raise RnnbenchError(f"{self.path} is not an rnnbench results database (it is empty)")
        self.conn.execute("PRAGMA journal_mode = WAL")
        with self._transaction():
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    self.conn.execute(statement)
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('app', ?)", (APP_ID,))
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        # BEGIN IMMEDIATE takes the write lock up front, so concurrent writers wait
        # (busy timeout) instead of failing half-way through a case.
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.conn.execute("COMMIT")  # inside: a COMMIT that fails (disk full) is rolled back too
        except BaseException:
            if self.conn.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL)
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "ResultsStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------
    def create_run(self, run: RunInfo) -> None:
        with self._transaction():
            self.conn.execute(
                "INSERT INTO runs (run_id, created_at, status, command, git_commit, host, env_json, settings_json)"
                " VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
                (run.run_id, run.created_at or time.time(), run.command, run.env.get("git_commit"),
                 run.env.get("host"), json.dumps(run.env), json.dumps(run.settings)),
            )

    def finish_run(self, run_id: str, status: str = "finished") -> None:
        with self._transaction():
            self.conn.execute("UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?",
                              (status, time.time(), run_id))

    def add_result(self, run_id: str, result: CaseResult) -> None:
        """Store one case and its metrics atomically (replacing an earlier attempt of it)."""
        case_id = result.case_id
        with self._transaction():
            self.conn.execute("DELETE FROM metrics WHERE run_id = ? AND case_id = ?", (run_id, case_id))
            self.conn.execute(
                "INSERT OR REPLACE INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, case_id, json.dumps(result.config.to_dict()), result.status, result.error,
                 json.dumps(result.worker), json.dumps(result.details, default=str),
                 result.started_at, result.duration_s),
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, case_id, m.scenario, m.name, m.value, m.unit, m.method,
                  json.dumps(m.samples) if m.samples is not None else None) for m in result.metrics],
            )

    # -- reading ------------------------------------------------------------------------------
    def run_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT run_id FROM runs ORDER BY created_at, run_id")]

    def run_info(self, run_id: str) -> RunInfo:
        row = self.conn.execute(
            "SELECT run_id, created_at, command, env_json, settings_json FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            known = self.run_ids()
            hint = f" (latest: {known[-1]})" if known else " (the database has no runs)"
            raise UsageError(f"unknown run id '{run_id}' in {self.path}{hint}")
        return RunInfo(run_id=row[0], created_at=row[1], command=row[2] or "", env=json.loads(row[3]),
                       settings=json.loads(row[4]), folder=self.path.parent / row[0])

    def done_case_ids(self, run_id: str, statuses: tuple[str, ...] | None = None) -> set[str]:
        """Cases of a run that are stored, or only those with one of ``statuses``."""
        rows = self.conn.execute("SELECT case_id, status FROM cases WHERE run_id = ?", (run_id,))
        return {case_id for case_id, status in rows if statuses is None or status in statuses}

    def results(self, run_id: str) -> list[CaseResult]:
        self.run_info(run_id)  # raises for an unknown run
        metrics: dict[str, list[Metric]] = {}
        for case_id, scenario, name, value, unit, method, samples in self.conn.execute(
            "SELECT case_id, scenario, name, value, unit, method, samples_json FROM metrics WHERE run_id = ?"
            " ORDER BY rowid", (run_id,)
        ):
            metrics.setdefault(case_id, []).append(
                Metric(scenario, name, value, unit or "", method or "", json.loads(samples) if samples else None)
            )
        out = []
        for case_id, config, status, error, worker, details, started, duration in self.conn.execute(
            "SELECT case_id, config_json, status, error, worker_json, details_json, started_at, duration_s"
            " FROM cases WHERE run_id = ? ORDER BY rowid", (run_id,)
        ):
            out.append(CaseResult(
                config=CaseConfig.from_dict(json.loads(config)), status=status, error=error or "",
                metrics=metrics.get(case_id, []), worker=json.loads(worker or "{}"),
                details=json.loads(details or "{}"), started_at=started or 0.0, duration_s=duration or 0.0,
            ))
        return out

    def iter_runs(self) -> Iterator[tuple[str, float, str | None, str]]:
        yield from self.conn.execute("SELECT run_id, created_at, git_commit, status FROM runs ORDER BY created_at")
