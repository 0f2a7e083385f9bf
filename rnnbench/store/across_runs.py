"""Reading one metric across runs (``rnnbench history``, via rnnbench.analysis.history): which metrics
the store holds, and one metric of every successful case, a damaged run left out with a note."""

from __future__ import annotations

import json

from rnnbench.records import CaseConfig, Metric, RunInfo
from rnnbench.store.connection import StoreBase
from rnnbench.store.schema import _schema1_calls_per_sample
from rnnbench.store.sqlite_errors import explain_sql_errors
from rnnbench.store.validation import (DamagedRun, checked_config, checked_created_at, checked_json, checked_real,
                                       checked_samples)


class MetricAcrossRuns(StoreBase):
    """One metric over every stored run, oldest first."""

    @explain_sql_errors
    def metric_keys(self) -> set[tuple[str, str]]:
        """(scenario, name) of every metric stored in any run (curves are series, not metrics)."""
        rows = self.conn.execute("SELECT DISTINCT scenario, name FROM metrics").fetchall()
        return {(scenario, name) for scenario, name in rows if self.schema_version >= 2 or name != "loss_curve"}

    @explain_sql_errors
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
                        run_id=run_id, created_at=checked_created_at(created, run_id), command=command or "",
                        env=checked_json(env, run_id, "env_json", dict),
                        settings=checked_json(settings, run_id, "settings_json", dict),
                        folder=self.path.parent / run_id)
                if self.schema_version < 2:
                    n_calls = _schema1_calls_per_sample(method)
                column = f"metric {scenario}/{name}"
                metric = Metric(scenario, name, checked_real(value, run_id, f"{column} value", case_id), unit or "",
                                method or "", checked_samples(samples, run_id, f"{column} samples_json", case_id)
                                if self.schema_version >= 2 else (json.loads(samples) if samples else None), n_calls)
                entry = (run, case_id, checked_config(config, run_id, case_id), metric)
            except DamagedRun as exc:
                damaged[run_id] = str(exc)
                out = [e for e in out if e[0].run_id != run_id]
                self.notes.append(f"{exc}; that run is left out")
                continue
            out.append(entry)
        return out
