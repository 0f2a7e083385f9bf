"""The results store: an SQLite database (stdlib sqlite3) of runs, cases and metrics.

Each finished case is written in its own transaction as soon as it arrives, so a
killed sweep loses at most the case in flight. The database is opened in WAL mode
with a busy timeout, so several ``rnnbench run`` processes may write to it at once.
Commands that only read open it read-only (``ResultsStore.reader``), so an archived
or mounted results folder can be compared without write access.

All of rnnbench's SQL lives in this module.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time
import urllib.parse
from pathlib import Path
from typing import Any, Iterator

from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.records import CaseConfig, CaseResult, Metric, RunInfo, Series

#: 2: metrics.calls_per_sample and the series table (the loss curve left the metrics)
SCHEMA_VERSION = 2
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
    calls_per_sample INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (run_id, case_id, scenario, name)
);
CREATE INDEX IF NOT EXISTS metrics_by_case ON metrics(case_id);
CREATE TABLE IF NOT EXISTS series (
    run_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    scenario TEXT NOT NULL,
    name TEXT NOT NULL,
    x_json TEXT NOT NULL,
    y_json TEXT NOT NULL,
    x_label TEXT,
    unit TEXT,
    method TEXT,
    PRIMARY KEY (run_id, case_id, scenario, name)
);
"""

#: schema 1 kept the calls per timed sample only in the method text
_CALLS_IN_METHOD = re.compile(r"\((\d+) call\(s\) each\)")


class ResultsStore:
    """Read and write runs in one SQLite file."""

    def __init__(self, path: str | Path, *, create: bool = True, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        if (readonly or not create) and not self.path.exists():
            raise UsageError(f"no results database at {self.path}")
        try:
            if readonly:
                self.conn = _connect_readonly(self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.conn = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = 60000")
            self._check_and_init(create and not readonly)
        except sqlite3.OperationalError as exc:  # cannot open, locked, disk I/O: not a foreign file
            raise RnnbenchError(f"cannot use the results database {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise RnnbenchError(f"{self.path} is not an rnnbench results database ({exc})") from None
        except PermissionError as exc:
            raise RnnbenchError(f"cannot write results to {self.path.parent}: {exc.strerror}") from None

    @classmethod
    def reader(cls, path: str | Path) -> "ResultsStore":
        """Open an existing database for reading only (compare, history, export, report)."""
        return cls(path, create=False, readonly=True)

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
            self.schema_version = version
            if version < SCHEMA_VERSION and not self.readonly:
                self._migrate(version)
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
        self.schema_version = SCHEMA_VERSION

    def _migrate(self, version: int) -> None:
        """Bring a schema-1 database to schema 2 in place, in one transaction (nothing is lost)."""
        with self._transaction():
            self.conn.execute("ALTER TABLE metrics ADD COLUMN calls_per_sample INTEGER NOT NULL DEFAULT 1")
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    self.conn.execute(statement)
            rows = self.conn.execute("SELECT rowid, method FROM metrics WHERE samples_json IS NOT NULL").fetchall()
            for rowid, method in rows:
                found = _CALLS_IN_METHOD.search(method or "")
                if found:
                    self.conn.execute("UPDATE metrics SET calls_per_sample = ? WHERE rowid = ?",
                                      (int(found.group(1)), rowid))
            self.conn.execute(
                "INSERT OR REPLACE INTO series SELECT run_id, case_id, scenario, name, '[]', samples_json,"
                " 'point', unit, method FROM metrics WHERE name = 'loss_curve'")
            for run_id, case_id, scenario, y in self.conn.execute(
                    "SELECT run_id, case_id, scenario, y_json FROM series WHERE x_json = '[]'").fetchall():
                x = json.dumps(list(range(len(json.loads(y or "[]")))))
                self.conn.execute("UPDATE series SET x_json = ? WHERE run_id = ? AND case_id = ? AND scenario = ?"
                                  " AND name = 'loss_curve'", (x, run_id, case_id, scenario))
            self.conn.execute("DELETE FROM metrics WHERE name = 'loss_curve'")
            self.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        self.schema_version = SCHEMA_VERSION

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
            self.conn.execute("DELETE FROM series WHERE run_id = ? AND case_id = ?", (run_id, case_id))
            self.conn.executemany(
                "INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, case_id, m.scenario, m.name, m.value, m.unit, m.method,
                  json.dumps(m.samples) if m.samples is not None else None, m.calls_per_sample)
                 for m in result.metrics],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO series VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, case_id, c.scenario, c.name, json.dumps(c.x), json.dumps(c.y), c.x_label, c.unit,
                  c.method) for c in result.series],
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
        series: dict[str, list[Series]] = {}
        if self.schema_version < 2:  # a read-only schema-1 database: read it as schema 1 stored it
            return self._results_v1(run_id)
        for case_id, scenario, name, value, unit, method, samples, calls in self.conn.execute(
            "SELECT case_id, scenario, name, value, unit, method, samples_json, calls_per_sample FROM metrics"
            " WHERE run_id = ? ORDER BY rowid", (run_id,)
        ):
            metrics.setdefault(case_id, []).append(Metric(
                scenario, name, value, unit or "", method or "", json.loads(samples) if samples else None, calls))
        for case_id, scenario, name, x, y, x_label, unit, method in self.conn.execute(
            "SELECT case_id, scenario, name, x_json, y_json, x_label, unit, method FROM series"
            " WHERE run_id = ? ORDER BY rowid", (run_id,)
        ):
            series.setdefault(case_id, []).append(
                Series(scenario, name, json.loads(x), json.loads(y), x_label or "", unit or "", method or ""))
        return self._cases(run_id, metrics, series)

    def _results_v1(self, run_id: str) -> list[CaseResult]:
        metrics: dict[str, list[Metric]] = {}
        series: dict[str, list[Series]] = {}
        for case_id, scenario, name, value, unit, method, samples in self.conn.execute(
            "SELECT case_id, scenario, name, value, unit, method, samples_json FROM metrics WHERE run_id = ?"
            " ORDER BY rowid", (run_id,)
        ):
            values = json.loads(samples) if samples else None
            if name == "loss_curve":
                series.setdefault(case_id, []).append(Series(
                    scenario, name, list(range(len(values or []))), values or [], "point", unit or "", method or ""))
                continue
            found = _CALLS_IN_METHOD.search(method or "")
            metrics.setdefault(case_id, []).append(Metric(
                scenario, name, value, unit or "", method or "", values, int(found.group(1)) if found else 1))
        return self._cases(run_id, metrics, series)

    def _cases(self, run_id: str, metrics: dict[str, list[Metric]],
               series: dict[str, list[Series]]) -> list[CaseResult]:
        out = []
        for case_id, config, status, error, worker, details, started, duration in self.conn.execute(
            "SELECT case_id, config_json, status, error, worker_json, details_json, started_at, duration_s"
            " FROM cases WHERE run_id = ? ORDER BY rowid", (run_id,)
        ):
            out.append(CaseResult(
                config=CaseConfig.from_dict(json.loads(config)), status=status, error=error or "",
                metrics=metrics.get(case_id, []), series=series.get(case_id, []), worker=json.loads(worker or "{}"),
                details=json.loads(details or "{}"), started_at=started or 0.0, duration_s=duration or 0.0,
            ))
        return out

    def iter_runs(self) -> Iterator[tuple[str, float, str | None, str]]:
        yield from self.conn.execute("SELECT run_id, created_at, git_commit, status FROM runs ORDER BY created_at")

    # -- reading one metric across runs (rnnbench history) ---------------------------------------
    # Kept as one block at the end of the class: rnnbench.analysis.history reads through these.

    def metric_keys(self) -> set[tuple[str, str]]:
        """(scenario, name) of every metric stored in any run (curves are series, not metrics)."""
        rows = self.conn.execute("SELECT DISTINCT scenario, name FROM metrics").fetchall()
        return {(scenario, name) for scenario, name in rows if self.schema_version >= 2 or name != "loss_curve"}

    def metric_across_runs(self, scenario: str, name: str) -> list[tuple[RunInfo, str, CaseConfig, Metric]]:
        """One metric of every successful case that has a value, oldest run first:
        ``(run, case id, case config, metric)``, one RunInfo object per run."""
        calls = "m.calls_per_sample" if self.schema_version >= 2 else "1"
        rows = self.conn.execute(
            "SELECT r.run_id, r.created_at, r.command, r.env_json, r.settings_json, c.case_id, c.config_json,"
            f" m.value, m.unit, m.method, m.samples_json, {calls} FROM metrics m"
            " JOIN cases c ON c.run_id = m.run_id AND c.case_id = m.case_id"
            " JOIN runs r ON r.run_id = m.run_id"
            " WHERE m.scenario = ? AND m.name = ? AND c.status = 'ok' AND m.value IS NOT NULL"
            " ORDER BY r.created_at, c.rowid", (scenario, name)).fetchall()
        runs: dict[str, RunInfo] = {}
        out = []
        for run_id, created, command, env, settings, case_id, config, value, unit, method, samples, n_calls in rows:
            run = runs.get(run_id)
            if run is None:
                run = runs[run_id] = RunInfo(run_id=run_id, created_at=created, command=command or "",
                                             env=json.loads(env), settings=json.loads(settings),
                                             folder=self.path.parent / run_id)
            if self.schema_version < 2:
                found = _CALLS_IN_METHOD.search(method or "")
                n_calls = int(found.group(1)) if found else 1
            metric = Metric(scenario, name, value, unit or "", method or "", json.loads(samples) if samples else None,
                            n_calls)
            out.append((run, case_id, CaseConfig.from_dict(json.loads(config)), metric))
        return out


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """Open read-only; a database on a read-only medium (no -wal/-shm can be made) as immutable."""
    uri = "file:" + urllib.parse.quote(str(path.resolve()))
    conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=60.0, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
    return sqlite3.connect(uri + "?immutable=1", uri=True, timeout=60.0, isolation_level=None)


def load_run(db: str | Path, run_id: str) -> tuple[RunInfo, list[CaseResult]]:
    """The one way to read a stored run: its record and its case results, read-only."""
    with ResultsStore.reader(db) as store:
        return store.run_info(run_id), store.results(run_id)
