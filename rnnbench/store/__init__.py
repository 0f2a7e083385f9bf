"""The results store: an SQLite database (stdlib sqlite3) of runs, cases and metrics.

Each finished case is written in its own transaction as soon as it arrives, so a
killed sweep loses at most the case in flight. The database is opened in WAL mode
with a busy timeout, so several ``rnnbench run`` processes may write to it at once.
Commands that only read open it read-only (``ResultsStore.reader``), so an archived
or mounted results folder can be compared without write access.

All of rnnbench's SQL lives in this package, one job a module (each imports only those below it):

writer.py        writing a run and each case's rows
claims.py        claims of the cases a process is running (two resumers split the work)
reader.py        reading the runs, one run's record and its case results
across_runs.py   one metric over every stored run (rnnbench history)
schema.py        SCHEMA_VERSION, the tables, the checks on open, the migration of older schemas
validation.py    each stored value checked as it is read (DamagedRun)
connection.py    opening read-write or read-only, the busy timeouts, the write transaction
sqlite_errors.py an SQLite error as one line that says what to do

:class:`ResultsStore` is those parts in one object, opened on one file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.records import CaseResult, RunInfo
from rnnbench.store.across_runs import MetricAcrossRuns
from rnnbench.store.claims import CaseClaims
from rnnbench.store.connection import connect
from rnnbench.store.reader import RunReader
from rnnbench.store.schema import StoreSchema
from rnnbench.store.sqlite_errors import explain
from rnnbench.store.writer import RunWriter

DEFAULT_DB_NAME = "rnnbench.db"
#: the folder that holds the database and the run folders when --out is not given
DEFAULT_RESULTS_FOLDER = "results"


class ResultsStore(RunWriter, CaseClaims, RunReader, MetricAcrossRuns, StoreSchema):
    """Read and write runs in one SQLite file."""

    def __init__(self, path: str | Path, *, create: bool = True, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self.notes = []
        try:
            str(self.path).encode("utf-8")
        except UnicodeEncodeError:  # a byte that is not UTF-8 (a surrogate escape in the str)
            raise UsageError(f"the results path {os.fsencode(self.path)!r} is not valid UTF-8; SQLite and the"
                             " reports need a text path: rename the folder or choose another --out") from None
        if (readonly or not create) and not self.path.exists():
            raise UsageError(f"no results database at {self.path}")
        try:
            self.conn = connect(self.path, readonly)
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

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "ResultsStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def load_run(db: str | Path, run_id: str) -> tuple[RunInfo, list[CaseResult]]:
    """The one way to read a stored run: its record and its case results, read-only."""
    with ResultsStore.reader(db) as store:
        return store.run_info(run_id), store.results(run_id)
