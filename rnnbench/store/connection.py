"""The connection to the results database: opened read-write or read-only, with a busy timeout, and
the write transaction every change of the store goes through."""

from __future__ import annotations

import contextlib
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Iterator

#: seconds a writer waits for another writer's transaction (a case's rows are one short transaction)
WRITE_BUSY_TIMEOUT_S = 60.0
#: seconds a reader waits: in WAL mode only an exclusive lock holds readers back, and that is said at once
READ_BUSY_TIMEOUT_S = 5.0


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    """A connection with its busy timeout set: read-only, or read-write (its folder made first)."""
    if readonly:
        conn = _connect_readonly(path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=WRITE_BUSY_TIMEOUT_S, isolation_level=None)
    busy_ms = int(1000 * (READ_BUSY_TIMEOUT_S if readonly else WRITE_BUSY_TIMEOUT_S))
    try:
        conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
    except BaseException:
        conn.close()
        raise
    return conn


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


class StoreBase:
    """What each part of :class:`rnnbench.store.ResultsStore` works on: the file, its open connection,
    the schema version it holds, and the notes a reader leaves for the command to print."""

    path: Path
    readonly: bool
    conn: sqlite3.Connection
    schema_version: int
    #: what the readers of many runs left out, and why (damaged runs): for the command to print
    notes: list[str]

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
