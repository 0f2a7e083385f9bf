"""Writing runs and cases: a run's row, its end and environment, and each case's rows in one transaction."""

from __future__ import annotations

import json
import time
from typing import Any

from rnnbench.records import CaseResult, RunInfo
from rnnbench.store.connection import StoreBase
from rnnbench.store.sqlite_errors import explain_sql_errors


class RunWriter(StoreBase):
    """The writes of a run: created, its environment updated, each case stored, finished."""

    @explain_sql_errors
    def create_run(self, run: RunInfo) -> None:
        with self._transaction():
            self.conn.execute(
                "INSERT INTO runs (run_id, created_at, status, command, git_commit, host, env_json, settings_json)"
                " VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
                (run.run_id, run.created_at or time.time(), run.command, run.env.get("git_commit"),
                 run.env.get("host"), json.dumps(run.env), json.dumps(run.settings)),
            )

    @explain_sql_errors
    def finish_run(self, run_id: str, status: str = "finished") -> None:
        with self._transaction():
            self.conn.execute("UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?",
                              (status, time.time(), run_id))

    @explain_sql_errors
    def update_run_env(self, run_id: str, env: dict[str, Any]) -> None:
        """Replace a run's environment record (the calibration measured at the run's end joins it)."""
        with self._transaction():
            self.conn.execute("UPDATE runs SET env_json = ? WHERE run_id = ?", (json.dumps(env), run_id))

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
