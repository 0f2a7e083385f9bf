"""One metric of chosen cases over the runs (and commits) in the store: the data behind
``rnnbench history``.

:func:`load_history` reads through :meth:`rnnbench.store.ResultsStore.metric_across_runs`
(read-only) and builds a :class:`History`: runs as rows, cases as columns, each point
the :class:`rnnbench.stats.Summary` of the raw samples, or the value of an untimed
metric. rnnbench.render.history writes it as a table or a plot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnbench.errors import UsageError
from rnnbench.execution.calibration import problem, score
from rnnbench.records import CaseConfig, run_threads
from rnnbench.stats import Summary
from rnnbench.store import ResultsStore
from rnnbench.sweep_axes import AXES, axis_value



@dataclass
class Point:
    """One case in one run: the stored value and, for repeated measurements, their Summary."""

    value: float
    summary: Summary | None = None


@dataclass
class RunRow:
    run_id: str
    created_at: float
    commit: str | None
    threads: Any
    points: dict[str, Point] = field(default_factory=dict)


@dataclass
class History:
    metric: str
    unit: str
    cases: dict[str, str]  # case id -> column label, in first-seen order
    runs: list[RunRow]
    #: timings divided by each run's calibration (--normalise); runs without one are left out
    normalised: bool = False
    uncalibrated: list[str] = field(default_factory=list)
    #: runs left out because their stored contents are damaged (each says which column)
    notes: list[str] = field(default_factory=list)

    @property
    def has_samples(self) -> bool:
        return any(p.summary is not None for r in self.runs for p in r.points.values())


def _split_metric(column: str, known: set[tuple[str, str]]) -> tuple[str, str]:
    for scenario, name in known:
        if f"{scenario}_{name}" == column:
            return scenario, name
    columns = sorted(f"{s}_{n}" for s, n in known)
    raise UsageError(f"--metric: no metric '{column}' in the store (metrics: {', '.join(columns)})")


def _matches(value: str, wanted: list[str]) -> bool:
    # 'lstm' matches every backend of lstm; 'lstm@torch' only that one
    return not wanted or any(value == w or value.split("@", 1)[0] == w for w in wanted)


def _labels(configs: dict[str, CaseConfig]) -> dict[str, str]:
    """Each case's column label: its model and the axes that tell the selected cases apart."""
    values = {cid: {axis.name: axis_value(c, axis.name) for axis in AXES} for cid, c in configs.items()}
    varying = [axis for axis in AXES
               if len({json.dumps(v[axis.name], sort_keys=True, default=str) for v in values.values()}) > 1]
    return {cid: " ".join([configs[cid].model_label, *(axis.tag(values[cid][axis.name], compact=True)
                                                         for axis in varying)])
            for cid in configs}


def load_history(db: Path, metric: str, models: list[str], tasks: list[str], normalise: bool = False) -> History:
    """``metric`` (a results.csv column, SCENARIO_NAME) of the cases of ``models`` and ``tasks`` (empty: all).

    ``normalise`` divides each run's timings by the run's calibration (the time of a fixed
    reference computation, rnnbench.execution.calibration), so runs on machines of
    different speed share one scale; runs stored without a calibration are left out.
    """
    if not db.exists():
        raise UsageError(f"no results database at {db} (use --out to point at the folder that holds it)")
    with ResultsStore.reader(db) as store:
        known = store.metric_keys()
        if not known:
            raise UsageError(f"the results database {db} has no metrics yet")
        scenario, name = _split_metric(metric, known)
        stored = store.metric_across_runs(scenario, name)
        notes = list(store.notes)
    configs: dict[str, CaseConfig] = {}
    runs: dict[str, RunRow] = {}
    uncalibrated: dict[str, None] = {}
    unit = ""
    for run, case_id, config, m in stored:
        if not _matches(config.model, models) or not _matches(config.task, tasks):
            continue
        factor = 1.0
        if normalise:
            if m.unit != "s":
                raise UsageError(f"--normalise: {metric} is not a timing (unit {m.unit or 'none'}); it applies to"
                                 " timings only")
            calibration = score(run.env)
            if calibration is None:
                why = problem(run.env)
                if why is not None and run.run_id not in uncalibrated:
                    notes.append(f"run {run.run_id}: {why}: an invalid calibration; that run is left out")
                uncalibrated[run.run_id] = None
                continue
            factor = 1.0 / calibration["combined"]
        configs.setdefault(case_id, config)
        unit = m.unit or unit
        row = runs.get(run.run_id)
        if row is None:
            row = runs[run.run_id] = RunRow(run.run_id, run.created_at, run.env.get("git_commit"),
                                            run_threads(run.env).text())  # what its cases ran with
        samples = [v * factor for v in m.samples] if m.samples else None
        row.points[case_id] = Point(float(m.value) * factor, Summary.of(samples) if samples else None)
    if not configs:
        raise UsageError(f"no stored case matches (metric {metric}, models {','.join(models) or 'any'},"
                         f" tasks {','.join(tasks) or 'any'})" + (" with a calibration (runs stored before rnnbench"
                                                                 " measured one have none)" if normalise else ""))
    if normalise:
        return History(f"{metric} / calibration", "x calibration", _labels(configs), list(runs.values()),
                       normalised=True, uncalibrated=list(uncalibrated), notes=notes)
    return History(metric, unit, _labels(configs), list(runs.values()), notes=notes)
