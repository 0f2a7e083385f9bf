"""Reading runs: the runs stored, one run's record, its cases and their metrics and series (a schema-1
database as schema 1 stored them), each value checked on the way out."""

from __future__ import annotations

import json
from typing import Iterator

from rnnbench.errors import UsageError
from rnnbench.records import CaseResult, Metric, RunInfo, Series
from rnnbench.store.connection import StoreBase
from rnnbench.store.schema import _schema1_calls_per_sample
from rnnbench.store.sqlite_errors import explain_sql_errors
from rnnbench.store.validation import (checked_config, checked_created_at, checked_json, checked_real,
                                       checked_samples)


class RunReader(StoreBase):
    """The runs in the store, and one run's record and case results."""

    @explain_sql_errors
    def run_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT run_id FROM runs ORDER BY created_at, run_id")]

    @explain_sql_errors
    def run_info(self, run_id: str) -> RunInfo:
        row = self.conn.execute(
            "SELECT run_id, created_at, command, env_json, settings_json FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            known = self.run_ids()
            hint = f" (latest: {known[-1]})" if known else " (the database has no runs)"
            shown = run_id if len(run_id) <= 80 else f"{run_id[:60]}... ({len(run_id)} characters)"
            raise UsageError(f"unknown run id '{shown}' in {self.path}{hint}")
        return RunInfo(run_id=row[0], created_at=checked_created_at(row[1], row[0]), command=row[2] or "",
                       env=checked_json(row[3], row[0], "env_json", dict),
                       settings=checked_json(row[4], row[0], "settings_json", dict),
                       folder=self.path.parent / row[0])

    @explain_sql_errors
    def done_case_ids(self, run_id: str, statuses: tuple[str, ...] | None = None) -> set[str]:
        """Cases of a run that are stored, or only those with one of ``statuses``."""
        rows = self.conn.execute("SELECT case_id, status FROM cases WHERE run_id = ?", (run_id,))
        return {case_id for case_id, status in rows if statuses is None or status in statuses}

    @explain_sql_errors
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
                scenario, name, checked_real(value, run_id, f"{column} value", case_id), unit or "", method or "",
                checked_samples(samples, run_id, f"{column} samples_json", case_id), calls))
        for case_id, scenario, name, x, y, x_label, unit, method in self.conn.execute(
            "SELECT case_id, scenario, name, x_json, y_json, x_label, unit, method FROM series"
            " WHERE run_id = ? ORDER BY rowid", (run_id,)
        ):
            column = f"series {scenario}/{name}"
            series.setdefault(case_id, []).append(
                Series(scenario, name, checked_json(x, run_id, f"{column} x_json", list, case_id),
                       checked_json(y, run_id, f"{column} y_json", list, case_id), x_label or "", unit or "",
                       method or ""))
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
                config=checked_config(config, run_id, case_id), status=status, error=error or "",
                metrics=metrics.get(case_id, []), series=series.get(case_id, []),
                worker=checked_json(worker or "{}", run_id, "worker_json", dict, case_id),
                details=checked_json(details or "{}", run_id, "details_json", dict, case_id),
                started_at=checked_real(started, run_id, "started_at", case_id) or 0.0,
                duration_s=checked_real(duration, run_id, "duration_s", case_id) or 0.0,
            ))
        return out

    @explain_sql_errors
    def iter_runs(self) -> Iterator[tuple[str, float, str | None, str]]:
        # read at once (not a generator), so that an SQLite error surfaces here, as one line
        rows = self.conn.execute("SELECT run_id, created_at, git_commit, status FROM runs ORDER BY created_at")
        return iter(rows.fetchall())
