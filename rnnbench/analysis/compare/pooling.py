"""Several runs of the same code and sweep pooled into one side of a comparison."""

from __future__ import annotations

import statistics

from rnnbench.analysis.aa_history import RepeatKey
from rnnbench.analysis.sources import LoadedRun
from rnnbench.errors import UsageError
from rnnbench.records import CaseResult, Metric, RunInfo
from rnnbench.stats import Summary


def pool_runs(runs: list[LoadedRun], what: str) -> tuple[LoadedRun, dict[RepeatKey, list[list[float]]]]:
    """Several runs of the same code and sweep as one side: timing samples pooled, values averaged.

    Returns the pooled run and, per timed metric, the samples of each run (for the
    run-level rules of :func:`judge_timing`). Curves (``CaseResult.series``) are
    not compared and are taken from the first run. A run named twice is an error:
    pooling it twice would double its samples without a second measurement.
    """
    ids = [r.run.run_id for r in runs]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise UsageError(f"{what}: run {', '.join(twice)} is named more than once; pool distinct runs"
                         " (a run counted twice is not a second measurement)")
    if len(runs) == 1:
        return runs[0], {}
    commits = {r.commit for r in runs}
    if len(commits) > 1:
        raise UsageError(f"{what}: the runs pooled on one side must be of one commit, got"
                         f" {', '.join(sorted(str(c)[:10] for c in commits))}")
    by_case: dict[str, list[CaseResult]] = {}
    for loaded in runs:
        for result in loaded.results:
            by_case.setdefault(result.case_id, []).append(result)
    per_run: dict[RepeatKey, list[list[float]]] = {}
    pooled = []
    for cid, results in by_case.items():
        failed = [r for r in results if r.status != "ok"]
        if failed:
            pooled.append(failed[0])
            continue
        first = results[0]
        metrics = []
        for m in first.metrics:
            same = [x for x in (r.metric(m.scenario, m.name) for r in results) if x is not None]
            if m.unit == "s" and m.samples and all(x.samples for x in same):
                samples = [v for x in same for v in x.samples]
                per_run[(cid, m.scenario, m.name)] = [list(x.samples) for x in same]
                metrics.append(Metric(m.scenario, m.name, Summary.of(samples).median, m.unit, m.method, samples,
                                      m.calls_per_sample))
            elif m.value is not None:
                values = [x.value for x in same if x.value is not None]
                metrics.append(Metric(m.scenario, m.name, statistics.fmean(values), m.unit, m.method, m.samples,
                                      m.calls_per_sample))
            else:
                metrics.append(m)
        pooled.append(CaseResult(config=first.config, status="ok", metrics=metrics, series=first.series,
                                 worker=first.worker, details=first.details, started_at=first.started_at,
                                 duration_s=first.duration_s))
    head = runs[0].run
    info = RunInfo(run_id="+".join(r.run.run_id for r in runs), folder=head.folder, env=head.env,
                   command=head.command, settings=head.settings, created_at=head.created_at)
    origins = ", ".join(dict.fromkeys(r.origin for r in runs))
    return LoadedRun(info, pooled, origins), per_run
