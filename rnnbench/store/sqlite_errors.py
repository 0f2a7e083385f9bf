"""What an SQLite error on the results database means, in one line: what is wrong and what to do."""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

from rnnbench.errors import RnnbenchError

_T = TypeVar("_T")


class _OnOneFile(Protocol):
    path: Path


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


def explain_sql_errors(method: Callable[..., _T]) -> Callable[..., _T]:
    """Turn any SQLite error inside a store method into the one-line message of :func:`explain`."""

    @functools.wraps(method)
    def wrapper(self: _OnOneFile, *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise explain(self.path, exc) from None

    return wrapper
