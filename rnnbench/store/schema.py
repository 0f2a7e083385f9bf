"""The schema of the results database: its version, its tables, the checks every open makes of them,
and the migration of an older schema in place.

A new schema version is a change here (the version, the tables, the checks, a migration step) and to
what writes and reads its new columns (writer.py, reader.py, across_runs.py); those readers also keep
reading an older schema as it is, for the commands that open it read-only and so never migrate it.
"""

from __future__ import annotations

import json
import re
import sqlite3

from rnnbench.errors import RnnbenchError
from rnnbench.records import upgrade_thread_cap, upgrade_unset_fields
from rnnbench.store.connection import StoreBase
from rnnbench.store.sqlite_errors import recovery_hint

#: 2: metrics.calls_per_sample and the series table (the loss curve left the metrics)
#: 3: a case config's steps is null under a budget and its lr null under --lr-grid (were 0; the case id is unchanged);
#: a run's settings name the thread cap ``thread_cap`` (was ``threads``, a name that also meant what a case ran with)
SCHEMA_VERSION = 3
APP_ID = "rnnbench"

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

#: cases a process is running now; a row lives from the moment a case is claimed until its
#: result is stored (or its process gives up), so two resumers of one run split the work.
#: Not part of the schema version: an older rnnbench ignores the table.
_CLAIMS = """
CREATE TABLE IF NOT EXISTS claims (
    run_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    claimed_at REAL NOT NULL,
    PRIMARY KEY (run_id, case_id)
)
"""

#: the tables (and their columns) each schema version must have; checked on every open
_REQUIRED = {
    "meta": ("key", "value"),
    "runs": ("run_id", "created_at", "finished_at", "status", "command", "git_commit", "host", "env_json",
             "settings_json"),
    "cases": ("run_id", "case_id", "config_json", "status", "error", "worker_json", "details_json", "started_at",
              "duration_s"),
    "metrics": ("run_id", "case_id", "scenario", "name", "value", "unit", "method", "samples_json"),
}
_REQUIRED_V2 = {"series": ("run_id", "case_id", "scenario", "name", "x_json", "y_json", "x_label", "unit", "method")}


#: schema 1 kept the calls per timed sample only in the method text
_CALLS_IN_METHOD = re.compile(r"\((\d+) call\(s\) each\)")


def _schema1_calls_per_sample(method: str | None) -> int:
    """The calls per timed sample a schema-1 method text names ("(8 call(s) each)"); 1 when it names none."""
    found = _CALLS_IN_METHOD.search(method or "")
    return int(found.group(1)) if found else 1


class StoreSchema(StoreBase):
    """On open: the file is an rnnbench database of a version this rnnbench reads, every table and column
    is there, every page is readable; a new file gets the schema, an older one (written to) is migrated."""

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
            self._check_schema(tables, version)
            self._check_pages()
            if version < SCHEMA_VERSION and not self.readonly:
                self._migrate(version)
            if not self.readonly:
                self.conn.execute(_CLAIMS)
            return
        if not create:
            raise RnnbenchError(f"{self.path} is not an rnnbench results database (it is empty)")
        self.conn.execute("PRAGMA journal_mode = WAL")
        with self._transaction():
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    self.conn.execute(statement)
            self.conn.execute(_CLAIMS)
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('app', ?)", (APP_ID,))
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self.schema_version = SCHEMA_VERSION

    def _check_schema(self, tables: set[str], version: int) -> None:
        """Every table and column the schema needs is there (a dropped table is named)."""
        required = dict(_REQUIRED, **(_REQUIRED_V2 if version >= 2 else {}))
        for table, columns in required.items():
            if table not in tables:
                raise RnnbenchError(f"{self.path}: table '{table}' is missing, so it is not a complete rnnbench"
                                    f" results database; {recovery_hint(self.path)}")
            have = {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}
            missing = [c for c in columns if c not in have]
            if missing:
                raise RnnbenchError(f"{self.path}: table '{table}' lacks column(s) {', '.join(missing)};"
                                    f" {recovery_hint(self.path)}")

    def _check_pages(self) -> None:
        """``PRAGMA quick_check``: every page readable and well formed, before anything is read or written.

        It reads the whole file (about a second per few hundred MB); indexes are not
        cross-checked against their tables (that is ``integrity_check``, much slower).
        """
        try:
            problems = [row[0] for row in self.conn.execute("PRAGMA quick_check(3)")]
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower():
                raise
            raise RnnbenchError(f"{self.path} is damaged (PRAGMA quick_check: {exc});"
                                f" {recovery_hint(self.path)}") from None
        if problems != ["ok"]:
            raise RnnbenchError(f"{self.path} is damaged (PRAGMA quick_check: {'; '.join(problems)});"
                                f" {recovery_hint(self.path)}")

    def _migrate(self, version: int) -> None:
        """Bring a schema-1 or schema-2 database to schema 3 in place, in one transaction (nothing is lost)."""
        if version == 2:
            with self._transaction():
                _migrate_to_3(self.conn)
                self.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            self.schema_version = SCHEMA_VERSION
            return
        with self._transaction():
            self.conn.execute("ALTER TABLE metrics ADD COLUMN calls_per_sample INTEGER NOT NULL DEFAULT 1")
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    self.conn.execute(statement)
            rows = self.conn.execute("SELECT rowid, method FROM metrics WHERE samples_json IS NOT NULL").fetchall()
            for rowid, method in rows:
                self.conn.execute("UPDATE metrics SET calls_per_sample = ? WHERE rowid = ?",
                                  (_schema1_calls_per_sample(method), rowid))
            self.conn.execute(
                "INSERT OR REPLACE INTO series SELECT run_id, case_id, scenario, name, '[]', samples_json,"
                " 'point', unit, method FROM metrics WHERE name = 'loss_curve'")
            for run_id, case_id, scenario, y in self.conn.execute(
                    "SELECT run_id, case_id, scenario, y_json FROM series WHERE x_json = '[]'").fetchall():
                x = json.dumps(list(range(len(json.loads(y or "[]")))))
                self.conn.execute("UPDATE series SET x_json = ? WHERE run_id = ? AND case_id = ? AND scenario = ?"
                                  " AND name = 'loss_curve'", (x, run_id, case_id, scenario))
            self.conn.execute("DELETE FROM metrics WHERE name = 'loss_curve'")
            _migrate_to_3(self.conn)
            self.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        self.schema_version = SCHEMA_VERSION


def _migrate_to_3(conn: sqlite3.Connection) -> None:
    """Schema 3, so that a database holds one convention: a stored case config's ``steps`` 0 under a budget and
    ``lr`` 0 under --lr-grid become null (rnnbench.records.upgrade_unset_fields; the case_id column stays as it
    is, CaseConfig.case_id still hashes the old spelling), and run settings' ``threads`` becomes ``thread_cap``
    in the run's row and in each case's copy (rnnbench.records.upgrade_thread_cap)."""
    _rewrite_json(conn, "cases", "config_json", upgrade_unset_fields)
    _rewrite_json(conn, "runs", "settings_json", lambda stored: _in_key(stored, "run", upgrade_thread_cap))
    _rewrite_json(conn, "cases", "worker_json", lambda stored: _in_key(stored, "settings", upgrade_thread_cap))


def _in_key(stored: dict, key: str, upgrade) -> dict:
    inner = stored.get(key)
    return {**stored, key: upgrade(inner)} if isinstance(inner, dict) else stored


def _rewrite_json(conn: sqlite3.Connection, table: str, column: str, upgrade) -> None:
    """Each row's JSON object in ``table.column`` through ``upgrade``; a damaged value stays as it is (reading it
    reports the damage)."""
    for rowid, text in conn.execute(f"SELECT rowid, {column} FROM {table}").fetchall():
        try:
            stored = json.loads(text)
        except (TypeError, ValueError):
            continue
        if isinstance(stored, dict) and (upgraded := upgrade(stored)) != stored:
            conn.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (json.dumps(upgraded), rowid))
