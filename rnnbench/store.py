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
import functools
import json
import math
import os
import re
import socket
import sqlite3
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.records import CaseConfig, CaseResult, Metric, RunInfo, Series, upgrade_unset_fields

#: 2: metrics.calls_per_sample and the series table (the loss curve left the metrics)
#: 3: a case config's steps is null under a budget and its lr null under --lr-grid (were 0; the case id is unchanged)
SCHEMA_VERSION = 3
APP_ID = "rnnbench"
DEFAULT_DB_NAME = "rnnbench.db"
#: the folder that holds the database and the run folders when --out is not given
DEFAULT_RESULTS_FOLDER = "results"

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

_T = TypeVar("_T")


def recovery_hint(path: Path) -> str:
    """How to get on after a damaged database: the run folders still hold every row."""
    return (f"rnnbench will not write into it. Every run folder next to it still has its results.csv;"
            f" move the database aside (mv '{path}' '{path}.damaged') to start a new one, or rebuild what"
            f" SQLite can read with: sqlite3 '{path}' .recover | sqlite3 '{path}.recovered'")


def explain(path: Path, exc: sqlite3.Error) -> RnnbenchError:
    """One line for any SQLite error met on ``path``: what is wrong, and what to do."""
    text = str(exc)
    lowered = text.lower()
    if lowered.startswith("no such table"):
        table = text.split(":", 1)[1].strip()
        return RnnbenchError(f"{path}: table '{table}' is missing, so it is not a complete rnnbench results"
                             f" database; {recovery_hint(path)}")
    if lowered.startswith("no such column"):
        return RnnbenchError(f"{path}: {text}: its tables are not those of an rnnbench results database;"
                             f" {recovery_hint(path)}")
    if "malformed" in lowered or "disk image" in lowered or "corrupt" in lowered:
        return RnnbenchError(f"{path} is damaged ({text}); {recovery_hint(path)}")
    if "locked" in lowered or "busy" in lowered:
        return RnnbenchError(f"{path} is locked by another process ({text}); try again when it has finished")
    if "readonly" in lowered or "read-only" in lowered:
        return RnnbenchError(f"cannot write the results database {path}: it is read-only ({text});"
                             " use another --out folder")
    if isinstance(exc, sqlite3.OperationalError):
        return RnnbenchError(f"cannot use the results database {path}: {text}")
    return RnnbenchError(f"{path} is not an rnnbench results database ({text})")


def _sql_errors(method: Callable[..., _T]) -> Callable[..., _T]:
    """Turn any SQLite error inside a store method into the one-line message of :func:`explain`."""

    @functools.wraps(method)
    def wrapper(self: "ResultsStore", *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise explain(self.path, exc) from None

    return wrapper


class DamagedRun(RnnbenchError):
    """A stored value a reader needs is not what rnnbench wrote (edited, truncated, another tool's)."""

    def __init__(self, run_id: str, column: str, problem: str, case_id: str | None = None):
        self.run_id = run_id
        where = f"run {run_id[:80]}" + (f", case {case_id}" if case_id else "")
        super().__init__(f"damaged results database: {where}: {column} {problem}")


def _json(text: Any, run_id: str, column: str, expect: type, case_id: str | None = None) -> Any:
    """A JSON column of a stored row, as the type rnnbench wrote (an object or an array)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise DamagedRun(run_id, column, f"is not JSON ({str(text)[:40]!r})", case_id) from None
    if not isinstance(value, expect):
        kind = "an object" if expect is dict else "an array"
        raise DamagedRun(run_id, column, f"is a JSON {type(value).__name__}, not {kind}", case_id)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _real(value: Any, run_id: str, column: str, case_id: str | None = None) -> float | None:
    """A REAL column (SQLite keeps text such as 'abc' in one): a number or NULL."""
    if value is None or _is_number(value):
        return value
    raise DamagedRun(run_id, column, f"is {str(value)[:40]!r}, not a number", case_id)


def _samples(text: Any, run_id: str, column: str, case_id: str) -> list[float] | None:
    """Raw timing samples: an array of finite non-negative numbers (an infinite time is no measurement)."""
    if not text:
        return None
    values = _json(text, run_id, column, list, case_id)
    bad = [v for v in values if not _is_number(v) or not math.isfinite(v) or v < 0]
    if bad:
        raise DamagedRun(run_id, column, f"holds {len(bad)} value(s) that are not finite times (first: {bad[0]!r})",
                         case_id)
    return values


def _created_at(value: Any, run_id: str) -> float:
    if not _is_number(value) or not math.isfinite(value):
        raise DamagedRun(run_id, "created_at", f"is {str(value)[:40]!r}, not a date (seconds since 1970)")
    return float(value)


def _config(text: Any, run_id: str, case_id: str) -> CaseConfig:
    data = _json(text, run_id, "config_json", dict, case_id)
    try:
        return CaseConfig.from_dict(data)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise DamagedRun(run_id, "config_json", f"is not a case configuration ({exc})", case_id) from None


def _migrate_unset_fields(conn: sqlite3.Connection) -> None:
    """Schema 3: a stored case config's ``steps`` 0 under a budget and ``lr`` 0 under --lr-grid become null
    (rnnbench.records.upgrade_unset_fields), so that a database holds one convention. The case_id column
    stays as it is: CaseConfig.case_id still hashes the old spelling."""
    for rowid, text in conn.execute("SELECT rowid, config_json FROM cases").fetchall():
        try:
            config = json.loads(text)
        except (TypeError, ValueError):
            continue  # a damaged row stays as it is: reading it reports the damage
        if isinstance(config, dict) and (upgraded := upgrade_unset_fields(config)) != config:
            conn.execute("UPDATE cases SET config_json = ? WHERE rowid = ?", (json.dumps(upgraded), rowid))


def _alive(host: str, pid: int) -> bool:
    """Whether the process that holds a claim may still be running (another host: assume so)."""
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


#: schema 1 kept the calls per timed sample only in the method text
_CALLS_IN_METHOD = re.compile(r"\((\d+) call\(s\) each\)")


def _schema1_calls_per_sample(method: str | None) -> int:
    """The calls per timed sample a schema-1 method text names ("(8 call(s) each)"); 1 when it names none."""
    found = _CALLS_IN_METHOD.search(method or "")
    return int(found.group(1)) if found else 1


#: seconds a writer waits for another writer's transaction (a case's rows are one short transaction)
WRITE_BUSY_TIMEOUT_S = 60.0
#: seconds a reader waits: in WAL mode only an exclusive lock holds readers back, and that is said at once
READ_BUSY_TIMEOUT_S = 5.0


class ResultsStore:
    """Read and write runs in one SQLite file."""

    def __init__(self, path: str | Path, *, create: bool = True, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        #: what the readers of many runs left out, and why (damaged runs): for the command to print
        self.notes: list[str] = []
        try:
            str(self.path).encode("utf-8")
        except UnicodeEncodeError:  # a byte that is not UTF-8 (a surrogate escape in the str)
            raise UsageError(f"the results path {os.fsencode(self.path)!r} is not valid UTF-8; SQLite and the"
                             " reports need a text path: rename the folder or choose another --out") from None
        if (readonly or not create) and not self.path.exists():
            raise UsageError(f"no results database at {self.path}")
        try:
            if readonly:
                self.conn = _connect_readonly(self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.conn = sqlite3.connect(str(self.path), timeout=WRITE_BUSY_TIMEOUT_S, isolation_level=None)
            busy_ms = int(1000 * (READ_BUSY_TIMEOUT_S if readonly else WRITE_BUSY_TIMEOUT_S))
            self.conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
            self._check_and_init(create and not readonly)
        except sqlite3.Error as exc:  # cannot open, locked, damaged, not a database: one line each
            with contextlib.suppress(Exception):
                self.conn.close()
            raise explain(self.path, exc) from None
        except RnnbenchError:
            with contextlib.suppress(Exception):
                self.conn.close()
            raise
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
                _migrate_unset_fields(self.conn)
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
            _migrate_unset_fields(self.conn)
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
    @_sql_errors
    def create_run(self, run: RunInfo) -> None:
        with self._transaction():
            self.conn.execute(
                "INSERT INTO runs (run_id, created_at, status, command, git_commit, host, env_json, settings_json)"
                " VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
                (run.run_id, run.created_at or time.time(), run.command, run.env.get("git_commit"),
                 run.env.get("host"), json.dumps(run.env), json.dumps(run.settings)),
            )

    @_sql_errors
    def finish_run(self, run_id: str, status: str = "finished") -> None:
        with self._transaction():
            self.conn.execute("UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?",
                              (status, time.time(), run_id))

    @_sql_errors
    def update_run_env(self, run_id: str, env: dict[str, Any]) -> None:
        """Replace a run's environment record (the calibration measured at the run's end joins it)."""
        with self._transaction():
            self.conn.execute("UPDATE runs SET env_json = ? WHERE run_id = ?", (json.dumps(env), run_id))

    @_sql_errors
    def claim(self, run_id: str, case_id: str, skip_statuses: tuple[str, ...] = ("ok",)) -> bool:
        """Claim a case before running it; ``False`` when it is stored with one of ``skip_statuses``
        or another live process holds it. One transaction: of two resumers, exactly one wins.

        A claim of a process that no longer runs on this host (killed, crashed) is taken over.
        """
        me = (socket.gethostname(), os.getpid())
        with self._transaction():
            row = self.conn.execute("SELECT status FROM cases WHERE run_id = ? AND case_id = ?",
                                    (run_id, case_id)).fetchone()
            if row is not None and row[0] in skip_statuses:
                return False
            held = self.conn.execute("SELECT host, pid FROM claims WHERE run_id = ? AND case_id = ?",
                                     (run_id, case_id)).fetchone()
            if held is not None and tuple(held) != me and _alive(*held):
                return False
            self.conn.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                              (run_id, case_id, me[0], me[1], time.time()))
        return True

    @_sql_errors
    def release_claims(self, run_id: str) -> None:
        """Drop this process's claims of a run (cases it claimed but did not store)."""
        with self._transaction():
            self.conn.execute("DELETE FROM claims WHERE run_id = ? AND host = ? AND pid = ?",
                              (run_id, socket.gethostname(), os.getpid()))

    def add_result(self, run_id: str, result: CaseResult) -> None:
        """Store one case and its metrics atomically (replacing an earlier attempt of it).

        Not wrapped in the one-line SQLite messages: the session reports a failed store
        with the count of cases kept and the command that resumes.
        """
        case_id = result.case_id
        with self._transaction():
            self.conn.execute("DELETE FROM claims WHERE run_id = ? AND case_id = ?", (run_id, case_id))
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
    @_sql_errors
    def run_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT run_id FROM runs ORDER BY created_at, run_id")]

    @_sql_errors
    def run_info(self, run_id: str) -> RunInfo:
        row = self.conn.execute(
            "SELECT run_id, created_at, command, env_json, settings_json FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            known = self.run_ids()
            hint = f" (latest: {known[-1]})" if known else " (the database has no runs)"
            shown = run_id if len(run_id) <= 80 else f"{run_id[:60]}... ({len(run_id)} characters)"
            raise UsageError(f"unknown run id '{shown}' in {self.path}{hint}")
        return RunInfo(run_id=row[0], created_at=_created_at(row[1], row[0]), command=row[2] or "",
                       env=_json(row[3], row[0], "env_json", dict), settings=_json(row[4], row[0], "settings_json", dict),
                       folder=self.path.parent / row[0])

    @_sql_errors
    def done_case_ids(self, run_id: str, statuses: tuple[str, ...] | None = None) -> set[str]:
        """Cases of a run that are stored, or only those with one of ``statuses``."""
        rows = self.conn.execute("SELECT case_id, status FROM cases WHERE run_id = ?", (run_id,))
        return {case_id for case_id, status in rows if statuses is None or status in statuses}

    @_sql_errors
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
            column = f"metric {scenario}/{name}"
            metrics.setdefault(case_id, []).append(Metric(
                scenario, name, _real(value, run_id, f"{column} value", case_id), unit or "", method or "",
                _samples(samples, run_id, f"{column} samples_json", case_id), calls))
        for case_id, scenario, name, x, y, x_label, unit, method in self.conn.execute(
            "SELECT case_id, scenario, name, x_json, y_json, x_label, unit, method FROM series"
            " WHERE run_id = ? ORDER BY rowid", (run_id,)
        ):
            column = f"series {scenario}/{name}"
            series.setdefault(case_id, []).append(
                Series(scenario, name, _json(x, run_id, f"{column} x_json", list, case_id),
                       _json(y, run_id, f"{column} y_json", list, case_id), x_label or "", unit or "", method or ""))
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
            metrics.setdefault(case_id, []).append(Metric(
                scenario, name, value, unit or "", method or "", values, _schema1_calls_per_sample(method)))
        return self._cases(run_id, metrics, series)

    def _cases(self, run_id: str, metrics: dict[str, list[Metric]],
               series: dict[str, list[Series]]) -> list[CaseResult]:
        out = []
        for case_id, config, status, error, worker, details, started, duration in self.conn.execute(
            "SELECT case_id, config_json, status, error, worker_json, details_json, started_at, duration_s"
            " FROM cases WHERE run_id = ? ORDER BY rowid", (run_id,)
        ):
            out.append(CaseResult(
                config=_config(config, run_id, case_id), status=status, error=error or "",
                metrics=metrics.get(case_id, []), series=series.get(case_id, []),
                worker=_json(worker or "{}", run_id, "worker_json", dict, case_id),
                details=_json(details or "{}", run_id, "details_json", dict, case_id),
                started_at=_real(started, run_id, "started_at", case_id) or 0.0,
                duration_s=_real(duration, run_id, "duration_s", case_id) or 0.0,
            ))
        return out

    @_sql_errors
    def iter_runs(self) -> Iterator[tuple[str, float, str | None, str]]:
        # read at once (not a generator), so that an SQLite error surfaces here, as one line
        rows = self.conn.execute("SELECT run_id, created_at, git_commit, status FROM runs ORDER BY created_at")
        return iter(rows.fetchall())

    # -- reading one metric across runs (rnnbench history) ---------------------------------------
    # Kept as one block at the end of the class: rnnbench.analysis.history reads through these.

    @_sql_errors
    def metric_keys(self) -> set[tuple[str, str]]:
        """(scenario, name) of every metric stored in any run (curves are series, not metrics)."""
        rows = self.conn.execute("SELECT DISTINCT scenario, name FROM metrics").fetchall()
        return {(scenario, name) for scenario, name in rows if self.schema_version >= 2 or name != "loss_curve"}

    @_sql_errors
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
        damaged: dict[str, str] = {}
        out = []
        for run_id, created, command, env, settings, case_id, config, value, unit, method, samples, n_calls in rows:
            if run_id in damaged:
                continue
            try:  # a damaged run is left out with a note; the rest of the store is still read
                run = runs.get(run_id)
                if run is None:
                    run = runs[run_id] = RunInfo(
                        run_id=run_id, created_at=_created_at(created, run_id), command=command or "",
                        env=_json(env, run_id, "env_json", dict), settings=_json(settings, run_id, "settings_json", dict),
                        folder=self.path.parent / run_id)
                if self.schema_version < 2:
                    n_calls = _schema1_calls_per_sample(method)
                column = f"metric {scenario}/{name}"
                metric = Metric(scenario, name, _real(value, run_id, f"{column} value", case_id), unit or "",
                                method or "", _samples(samples, run_id, f"{column} samples_json", case_id)
                                if self.schema_version >= 2 else (json.loads(samples) if samples else None), n_calls)
                entry = (run, case_id, _config(config, run_id, case_id), metric)
            except DamagedRun as exc:
                damaged[run_id] = str(exc)
                out = [e for e in out if e[0].run_id != run_id]
                self.notes.append(f"{exc}; that run is left out")
                continue
            out.append(entry)
        return out


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """Open read-only; a database on a read-only medium (no -wal/-shm can be made) as immutable."""
    uri = "file:" + urllib.parse.quote(str(path.resolve()))
    conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=READ_BUSY_TIMEOUT_S, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        # A lock (a writer in locking_mode=EXCLUSIVE) is said, never read around: immutable=1 would
        # ignore the WAL and return an older state of the database without a word.
        if "locked" in str(exc).lower() or "busy" in str(exc).lower():
            raise
    return sqlite3.connect(uri + "?immutable=1", uri=True, timeout=READ_BUSY_TIMEOUT_S, isolation_level=None)


def load_run(db: str | Path, run_id: str) -> tuple[RunInfo, list[CaseResult]]:
    """The one way to read a stored run: its record and its case results, read-only."""
    with ResultsStore.reader(db) as store:
        return store.run_info(run_id), store.results(run_id)
