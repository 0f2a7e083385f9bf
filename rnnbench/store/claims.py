"""Claims of cases: the row a process holds while it runs a case, so that two resumers of one run
split its cases instead of running each twice."""

from __future__ import annotations

import os
import socket
import time

from rnnbench.store.connection import StoreBase
from rnnbench.store.sqlite_errors import explain_sql_errors


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



class CaseClaims(StoreBase):
    """Claiming a case before it runs, and giving up this process's claims of a run."""

    @explain_sql_errors
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

    @explain_sql_errors
    def release_claims(self, run_id: str) -> None:
        """Drop this process's claims of a run (cases it claimed but did not store)."""
        with self._transaction():
            self.conn.execute("DELETE FROM claims WHERE run_id = ? AND host = ? AND pid = ?",
                              (run_id, socket.gethostname(), os.getpid()))
