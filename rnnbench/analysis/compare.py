"""The rules of ``rnnbench compare``: per case and metric, NEW/BASE and a verdict.

Cases are matched by id (the hash of what defines the work, never the
environment), metrics by (scenario, name). Three kinds of metric, three rules
(docs/ci.md):

* timings (raw samples), judged on the run level: with several runs a side, the
  ratio of medians beyond the threshold AND a two-level bootstrap interval (runs, then
  samples) that excludes no change; with one run a side (or fewer than three on a
  side), beyond the threshold, the Mann–Whitney U test significant AND the change
  beyond the runs' own drift AND beyond the band of A/A history stored for the case on
  this machine (rnnbench.analysis.aa_history; none: "noisy"); a case
  flagged busy on either side is "noisy"; ``--strict`` is the rule of before;
* memory and parameter counts (deterministic): beyond the threshold;
* quality (the task's primary metric), in its direction: worse than BASE by more than
  the spread over seeds (cases that differ only in seed form a group), or with one seed
  by more than ``--acc-tolerance`` (bounded metrics) or ``--metric-tolerance`` of BASE
  (unbounded ones).

Here live the rules, the pooling of repeated runs into one side, and the
:class:`Comparison` they produce: numbers, not text. rnnbench.render.compare
writes it as a table, Markdown or JSON; rnnbench.commands.compare is the subcommand.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from rnnbench.analysis.aa_history import AAHistory, RepeatKey
from rnnbench.analysis.calibration import CalibrationRatio
from rnnbench.analysis.conditions import busy_cases
from rnnbench.analysis.sources import LoadedRun
from rnnbench.errors import UsageError
from rnnbench.records import CaseResult, Metric, RunInfo, run_threads
from rnnbench.stats import (DRIFT_BLOCKS, MIN_SAMPLES_PER_BLOCK, Summary, drift_within_run, estimate_ratio,
                            hierarchical_ratio_ci, smallest_possible_p)

#: verdicts that make compare exit 1
REGRESSIONS = {"slower", "bigger", "worse", "failed", "missing"}
#: runs a side before the two-level bootstrap judges on the run level. With two runs a side
#: there are only three distinct run resamples per side (AA, AB, BB), two of which repeat one
#: run, so the interval cannot see the variance between runs; such sides fall back to the
#: one-run rule, whose band includes the disagreement between a side's runs.
MIN_ROUNDS = 3
#: environment keys shown when they differ between BASE and NEW
ENV_KEYS = ("git_commit", "host", "cpu", "cpu_count", "python", "gpu", "rnnbench")


@dataclass(frozen=True)
class CompareSettings:
    threshold: float = 0.10
    alpha: float = 0.002
    acc_tolerance: float = 0.02
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0
    #: relative tolerance of an unbounded quality metric (MSE, loss, bits per char) with one seed
    metric_tolerance: float = 0.10
    #: today's timing rule: samples as independent draws, busy flags ignored (docs/ci.md)
    strict: bool = False

    @property
    def upper(self) -> float:
        return 1.0 + self.threshold

    @property
    def lower(self) -> float:
        # symmetric on a log scale: 10% slower is x1.10, 10% faster is x1/1.10
        return 1.0 / (1.0 + self.threshold)


@dataclass(frozen=True)
class Side:
    """One side's figure of a compared (case, metric), as the renderers show it.

    A timing carries the :class:`Summary` of its samples; an accuracy the standard
    deviation over its seeds; a status row the case's status.
    """

    value: float | None
    summary: Summary | None = None
    seeds: int = 1
    seed_sd: float | None = None
    status: str | None = None


@dataclass
class Row:
    """One compared (case, metric): the figures on each side, the change, the verdict."""

    kind: str  # "time" | "memory" | "params" | "accuracy" | "budget" | "gradient" | "status"
    case: str  # human label
    case_ids: list[str]
    scenario: str
    metric: str
    base_side: Side
    new_side: Side
    verdict: str
    ratio: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    delta: float | None = None
    tolerance: float | None = None
    note: str = ""
    #: which rule decided (legend): "rounds (3+3 runs)", "one run a side",
    #: "fewer than 3 runs a side (2+2)", "strict", or an accuracy's scale
    rule: str = ""
    #: rnnbench flagged the case as distorted by other processes on a side: the verdict is noisy
    busy: bool = False

    @property
    def base(self) -> float | None:
        return self.base_side.value

    @property
    def new(self) -> float | None:
        return self.new_side.value

    @property
    def regression(self) -> bool:
        return self.verdict in REGRESSIONS


@dataclass
class Comparison:
    base: LoadedRun
    new: LoadedRun
    settings: CompareSettings
    rows: list[Row] = field(default_factory=list)
    only_in_base: list[str] = field(default_factory=list)
    only_in_new: list[str] = field(default_factory=list)
    env_differences: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    #: NEW/BASE of the runs' reference computation (rnnbench.analysis.calibration); None: not read
    calibration: "CalibrationRatio | None" = None
    #: timings were divided by each run's calibration (--normalise)
    normalised: bool = False

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.regression]

    def count(self, verdict: str) -> int:
        return sum(1 for r in self.rows if r.verdict == verdict)

    @property
    def busy(self) -> int:
        """Rows left undecided because rnnbench flagged the machine busy on a side."""
        return sum(1 for r in self.rows if r.busy)


# -- judging ----------------------------------------------------------------------------------

def case_label(result: CaseResult, with_seed: bool = True) -> str:
    c = result.config
    text = f"{c.model_label} {c.task} T={c.seq_len} B={c.batch_size} H={c.hidden} L={c.layers}"
    if c.device != "cpu" or c.dtype != "float32":
        text += f" {c.device} {c.dtype}"
    if c.time_budget_s is not None:
        text += f" budget={c.time_budget_s:g}s"
    if c.flops_budget is not None:
        text += f" flops={c.flops_budget:g}"
    return text + (f" seed={c.seed}" if with_seed else "")


def _timing_side(metric: Metric) -> Side:
    return Side(metric.value, Summary.of(metric.samples) if metric.samples else None)


RunSamples = tuple[list[list[float]], list[list[float]]]  # each pooled run's samples, BASE and NEW


def judge_timing(case: str, ids: list[str], base: Metric, new: Metric, s: CompareSettings,
                 runs: RunSamples = ([], []), busy: tuple[list[str], list[str]] = ([], []),
                 history: AAHistory | None = None) -> Row:
    """slower/faster, same or noisy for one timed metric (docs/ci.md, "The statistics").

    ``runs`` holds the samples of each pooled run of BASE and of NEW (empty: one run a
    side, its samples in ``base``/``new``); ``busy`` what made rnnbench flag the case as
    distorted by other processes on each side: a change then is "noisy", never slower or
    faster. ``history`` is the case's A/A band on this machine, which a change on one run a
    side must exceed (None: none was read, so such a change is "noisy"). ``s.strict``
    applies the rule of before (samples of all runs as independent draws, busy flags ignored).
    """
    base_runs = runs[0] or [list(base.samples or [base.value])]
    new_runs = runs[1] or [list(new.samples or [new.value])]
    if s.strict:
        return _judge_samples(case, ids, base, new, s, (base_runs, new_runs))
    if len(base_runs) >= MIN_ROUNDS and len(new_runs) >= MIN_ROUNDS:
        row = _judge_rounds(case, ids, base, new, s, base_runs, new_runs)
    else:
        row = _judge_single(case, ids, base, new, s, base_runs, new_runs, history)
    if (busy[0] or busy[1]) and row.verdict in ("slower", "faster"):
        # a change measured while other processes held the CPUs may be theirs: it decides nothing
        why = "; ".join([f"BASE {x}" for x in busy[0]] + [f"NEW {x}" for x in busy[1]])
        row.verdict, row.note, row.busy = "noisy", f"the machine was busy ({why}; it looked {row.verdict})", True
    return row


def _row(case: str, ids: list[str], base: Metric, new: Metric, verdict: str, ratio: float,
         ci: tuple[float, float] | None, p: float | None, note: str, rule: str = "") -> Row:
    return Row("time", case, ids, base.scenario, base.name, _timing_side(base), _timing_side(new), verdict,
               ratio=ratio, ci=ci, p_value=p, note=note, rule=rule)


def _judge_rounds(case: str, ids: list[str], base: Metric, new: Metric, s: CompareSettings,
                  base_runs: list[list[float]], new_runs: list[list[float]]) -> Row:
    """At least :data:`MIN_ROUNDS` runs a side: the interval resamples runs, then samples within them.

    slower: the ratio is beyond the threshold and the interval excludes 1 (no change);
    same: the interval lies inside the threshold band; noisy otherwise.
    """
    ratio = Summary.of([v for r in new_runs for v in r]).median / Summary.of([v for r in base_runs for v in r]).median
    ci = hierarchical_ratio_ci(base_runs, new_runs, confidence=s.confidence, resamples=s.resamples, seed=s.seed)
    rule = f"rounds ({len(base_runs)}+{len(new_runs)} runs)"
    if ratio >= s.upper and ci[0] > 1.0:
        verdict, note = "slower", ""
    elif ratio <= s.lower and ci[1] < 1.0:
        verdict, note = "faster", ""
    elif s.lower < ci[0] and ci[1] < s.upper:
        verdict, note = "same", ""
    else:
        verdict = "noisy"
        spread = max(_disagreement(r) for r in (base_runs, new_runs))
        if ratio >= s.upper or ratio <= s.lower:
            note = (f"beyond ±{s.threshold:.0%}, but the {s.confidence:.0%} interval over runs includes no change"
                    f" (the runs of a side disagree by up to {spread:.0%})")
        else:
            note = f"the {s.confidence:.0%} interval over runs reaches beyond ±{s.threshold:.0%}"
    return _row(case, ids, base, new, verdict, ratio, ci, None, note, rule)


def _disagreement(runs: list[list[float]]) -> float:
    medians = [Summary.of(r).median for r in runs]
    return max(medians) / min(medians) - 1.0


def _judge_single(case: str, ids: list[str], base: Metric, new: Metric, s: CompareSettings,
                  base_runs: list[list[float]], new_runs: list[list[float]], history: AAHistory | None) -> Row:
    """One run on a side: the within-run test and, for a change, a ratio beyond two bands.

    The drift band is the largest of: each run's drift between consecutive blocks of its
    samples (:func:`rnnbench.stats.drift_within_run`), and the disagreement between the
    runs of a side that has several (fewer than :data:`MIN_ROUNDS`). It sees the machine
    changing during a run, not between runs: measured A/A pairs moved by up to 1.9x with
    steady blocks. So a change must also exceed the A/A band of ``history``, the spread
    of this case's earlier runs of unchanged code on this machine; without one it is noisy.
    """
    row = _judge_samples(case, ids, base, new, s, (base_runs, new_runs), check_runs=False)
    drifts = [drift_within_run(r) for r in base_runs + new_runs]
    drifts += [_disagreement(r) for r in (base_runs, new_runs) if len(r) > 1]
    row.rule = ("one run a side" if len(base_runs) == len(new_runs) == 1
                else f"fewer than {MIN_ROUNDS} runs a side ({len(base_runs)}+{len(new_runs)})")
    if row.verdict not in ("slower", "faster"):
        return row
    if any(d is None for d in drifts):
        n = min(len(r) for r in base_runs + new_runs)
        row.verdict = "noisy"
        row.note = (f"one run a side, and a run with {n} samples is too short to measure its own drift"
                    f" (needs {DRIFT_BLOCKS * MIN_SAMPLES_PER_BLOCK}): run rounds (docs/ci.md)")
        return row
    band = max(d for d in drifts if d is not None)
    change = row.ratio if row.verdict == "slower" else 1.0 / row.ratio
    if change < 1.0 + band:
        row.verdict = "noisy"
        row.note = (f"{row.rule}: the change {change - 1:.0%} is within the runs' own drift of {band:.0%}"
                    f" (medians of {DRIFT_BLOCKS} consecutive blocks of samples): run rounds (docs/ci.md)")
        return row
    history = history or AAHistory(None, "no A/A history was read")
    if history.band is None:
        looked, row.verdict = row.verdict, "noisy"
        row.note = (f"{row.rule}: it looked {looked} by {change - 1:.0%}, but {history.why_none};"
                    " one run cannot tell that from the machine changing between runs: run rounds, or record"
                    " A/A runs of this sweep (docs/ci.md, \"One run a side\")")
    elif change < 1.0 + history.band.band:
        row.verdict = "noisy"
        row.note = f"{row.rule}: the change {change - 1:.0%} is within the {history.describe()}"
    else:
        row.note = f"beyond the {history.describe()}"
    return row


def _judge_samples(case: str, ids: list[str], base: Metric, new: Metric, s: CompareSettings,
                   runs: tuple[list[list[float]], list[list[float]]], check_runs: bool = True) -> Row:
    """The rule on samples as independent draws (today's with --strict): ratio beyond the threshold
    and Mann–Whitney significant; same when the bootstrap interval is inside the band.

    With ``check_runs``, runs of one side whose medians disagree by more than the threshold
    make a change noisy (the machine changed under the measurement).
    """
    est = estimate_ratio(base.samples or [base.value], new.samples or [new.value],
                         confidence=s.confidence, resamples=s.resamples, seed=s.seed)
    significant = est.p_value is not None and est.p_value < s.alpha
    ci = (est.ci_low, est.ci_high) if est.ci_low is not None else None
    note = ""
    disagreement = max(((_disagreement(r), side) for side, r in zip(("BASE", "NEW"), runs) if len(r) > 1),
                       default=(0.0, ""))
    unstable = check_runs and disagreement[0] > s.threshold
    if est.ratio >= s.upper and significant and not unstable:
        verdict = "slower"
    elif est.ratio <= s.lower and significant and not unstable:
        verdict = "faster"
    elif ci is not None and not unstable and s.lower < ci[0] and ci[1] < s.upper:
        verdict = "same"
    else:
        verdict = "noisy"
        if unstable:
            note = f"the runs of {disagreement[1]} disagree by {disagreement[0]:.0%}"
        elif est.p_value is None:
            note = "too few samples for a test"
        elif smallest_possible_p(est.n_base, est.n_new) >= s.alpha:
            note = f"too few samples (n={est.n_base}/{est.n_new}) to reach p < {s.alpha:g}"
        elif est.ratio >= s.upper or est.ratio <= s.lower:
            note = f"beyond the threshold but not significant (p={est.p_value:.2g})"
        else:
            note = f"the {s.confidence:.0%} interval reaches beyond ±{s.threshold:.0%}"
    return _row(case, ids, base, new, verdict, est.ratio, ci, est.p_value, note, "strict" if s.strict else "")


def judge_deterministic(kind: str, case: str, ids: list[str], base: Metric, new: Metric,
                        s: CompareSettings) -> Row:
    """Memory and parameter counts: no noise to test, so the threshold alone decides."""
    if base.value == 0:  # no ratio to take: any growth from nothing is "bigger"
        ratio = None
        verdict = "same" if new.value == 0 else "bigger" if new.value > 0 else "smaller"
    else:
        ratio = new.value / base.value
        verdict = "bigger" if ratio > s.upper else "smaller" if ratio < s.lower else "same"
    note = "" if base.method == new.method else \
        f"methods differ: {(base.method or '-').split()[0]} vs {(new.method or '-').split()[0]}"
    return Row(kind, case, ids, base.scenario, base.name, Side(base.value), Side(new.value), verdict,
               ratio=ratio, note=note)


@dataclass(frozen=True)
class MetricScale:
    """How a task's primary metric is compared: its direction, and whether it lies in a fixed range."""

    name: str  # as stored: eval_<primary metric>
    higher_is_better: bool
    bounded: bool

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"


def _metric_scale(result: CaseResult) -> MetricScale | None:
    scoring = result.scoring
    name = scoring.primary_metric
    if not name:
        return None
    higher = True if scoring.higher_is_better is None else bool(scoring.higher_is_better)
    bounded = scoring.primary_metric_bounded
    # rows stored before the task said: bounded when higher is better (accuracy), not when lower is (MSE, loss)
    return MetricScale(f"eval_{name}", higher, higher if bounded is None else bool(bounded))


def accuracy_names(result: CaseResult) -> list[str]:
    """The primary metric's name and its evaluations at other lengths (--eval-seq-len), as stored."""
    primary = _metric_scale(result)
    if primary is None:
        return []
    at_training_length = f"{primary.name}_len{result.config.seq_len}"  # the primary metric itself
    lengths = sorted((m.name for m in result.metrics if m.scenario == "train"
                      and m.name.startswith(primary.name + "_len") and m.name != at_training_length),
                     key=lambda n: int(n.rsplit("_len", 1)[1]))
    return [primary.name, *lengths]


def judge_accuracy(pairs: list[tuple[CaseResult, CaseResult]], s: CompareSettings,
                   name: str | None = None) -> Row | None:
    """One row per seed group: mean NEW vs mean BASE, in the metric's direction, against a tolerance.

    The tolerance is the spread over seeds with two or more seeds; with one, ``--acc-tolerance``
    (absolute) for a bounded metric (accuracy in [0, 1]) and ``--metric-tolerance`` times
    BASE's value for an unbounded one (MSE, loss, bits per char: their scale is the task's).
    ``name`` picks another accuracy-like metric than the primary one (an evaluation at another length).
    """
    first_base, first_new = pairs[0]
    primary = _metric_scale(first_new) or _metric_scale(first_base)
    if primary is None:
        return None
    name = name or primary.name
    base_values, new_values, ids, seeds = [], [], [], []
    for b, n in pairs:
        mb, mn = b.metric("train", name), n.metric("train", name)
        if mb is None or mn is None or mb.value is None or mn.value is None:
            continue
        base_values.append(float(mb.value))
        new_values.append(float(mn.value))
        ids.append(n.case_id)
        seeds.append(n.config.seed)
    if not base_values:
        return None
    k = len(base_values)
    base_mean, new_mean = statistics.fmean(base_values), statistics.fmean(new_values)
    if k >= 2:
        # pooled standard deviation over seeds: sqrt of the mean of the two sample variances
        tolerance = math.sqrt((statistics.variance(base_values) + statistics.variance(new_values)) / 2)
        how = f"seed spread (sd over {k} seeds)"
    elif primary.bounded:
        tolerance = s.acc_tolerance
        how = f"--acc-tolerance {s.acc_tolerance:g} absolute (bounded metric, one seed)"
    else:
        tolerance = s.metric_tolerance * abs(base_mean)
        how = f"--metric-tolerance {s.metric_tolerance:.0%} of BASE (unbounded metric, one seed)"
    delta = new_mean - base_mean
    worse_by = -delta if primary.higher_is_better else delta
    verdict = "worse" if worse_by > tolerance else "better" if -worse_by > tolerance else "same"
    how = f"{primary.direction}; {how}"

    def side(values: list[float], mean: float) -> Side:
        return Side(mean, seeds=k, seed_sd=statistics.stdev(values) if k > 1 else None)

    label = case_label(first_new, with_seed=k == 1)
    if k > 1:
        label += " seeds=" + ",".join(map(str, sorted(seeds)))
    return Row("accuracy", label, ids, "train", name, side(base_values, base_mean), side(new_values, new_mean),
               verdict, delta=delta, tolerance=tolerance, note=how, rule=how)


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


BusyNotes = dict[str, list[str]]  # case id -> what made rnnbench flag it busy, one entry per run


def busy_notes(runs: list[LoadedRun]) -> BusyNotes:
    """Per case, the runs of one side during which other processes left the case too few CPUs.

    The flag is the run's own (:func:`rnnbench.analysis.conditions.busy_cases`, from the load
    meter stored with each row): other processes' mean CPUs plus the case's threads above the
    machine's cores.
    """
    notes: BusyNotes = {}
    for loaded in runs:
        for result, load in busy_cases(loaded.results):
            run = f"run {loaded.run.run_id}: " if len(runs) > 1 else ""
            notes.setdefault(result.case_id, []).append(
                f"{run}other processes kept {load.others_cpus:.1f} of {load.cores} CPUs busy,"
                f" the case needed {result.ran_on.threads}")
    return notes


def timed_keys(run: LoadedRun) -> set[RepeatKey]:
    """(case id, scenario, name) of every timing with samples in ``run``: what A/A history is read for."""
    return {(r.case_id, m.scenario, m.name) for r in run.results for m in r.metrics if _is_timing(m)}


def _is_timing(m: Metric) -> bool:
    return m.unit == "s" and bool(m.samples) and m.value is not None


def _is_memory(m: Metric) -> bool:
    return m.unit == "bytes" and m.value is not None


def _group_key(result: CaseResult) -> str:
    config = result.config.to_dict()
    config.pop("seed")
    return json.dumps(config, sort_keys=True, default=str)


def compare_runs(base: LoadedRun, new: LoadedRun, settings: CompareSettings = CompareSettings(),
                 repeats: tuple[dict[RepeatKey, list[list[float]]], dict[RepeatKey, list[list[float]]]] = ({}, {}),
                 busy: tuple[BusyNotes, BusyNotes] | None = None,
                 history: dict[RepeatKey, AAHistory] | None = None) -> Comparison:
    """Match the two runs' cases by id and judge every metric both sides have.

    ``repeats`` are :func:`pool_runs`' samples per run of each side; ``busy`` the
    :func:`busy_notes` of each side's runs (default: read from ``base`` and ``new``);
    ``history`` the A/A band of each timed metric (rnnbench.analysis.aa_history.load_aa_history),
    which a change on fewer than :data:`MIN_ROUNDS` runs a side must exceed (default: none).
    """
    base_by_id = {r.case_id: r for r in base.results}
    new_by_id = {r.case_id: r for r in new.results}
    common = [cid for cid in new_by_id if cid in base_by_id]
    if not common:
        raise UsageError(
            f"BASE ({base.describe()}, {len(base_by_id)} case(s)) and NEW ({new.describe()}, {len(new_by_id)} case(s))"
            " have no case in common: nothing to compare (a case is model, task and options, sizes, device, dtype,"
            " seed, steps and lr: run the same sweep on both sides)"
        )
    out = Comparison(base=base, new=new, settings=settings)
    if busy is None:
        busy = (busy_notes([base]), busy_notes([new]))
    out.only_in_base = [case_label(r) for cid, r in base_by_id.items() if cid not in new_by_id]
    out.only_in_new = [case_label(r) for cid, r in new_by_id.items() if cid not in base_by_id]
    out.env_differences.update(_env_differences(base.run.env, new.run.env))

    groups: dict[str, list[tuple[CaseResult, CaseResult]]] = {}
    for cid in common:
        b, n = base_by_id[cid], new_by_id[cid]
        label = case_label(n)
        if b.status != "ok" or n.status != "ok":
            out.rows.append(_status_row(label, cid, b, n))
            continue
        out.rows += _missing_rows(label, cid, b, n)
        out.rows += _metric_rows(label, cid, b, n, settings, repeats, busy, history)
        groups.setdefault(_group_key(n), []).append((b, n))
    for pairs in groups.values():
        ordered = sorted(pairs, key=lambda p: p[1].config.seed)
        for name in accuracy_names(ordered[0][1]) or [None]:
            row = judge_accuracy(ordered, settings, name)
            if row is not None:
                out.rows.append(_thread_caveat(row, ordered))
    for cid in common:
        b, n = base_by_id[cid], new_by_id[cid]
        if b.status == "ok" and n.status == "ok":
            out.rows += judge_measurements(case_label(n), cid, b, n, settings)
    if not out.rows:
        # a CI gate that compared nothing must not pass
        raise UsageError(
            f"BASE ({base.describe()}) and NEW ({new.describe()}) share {len(common)} case(s) but no metric with a"
            " value on both sides: nothing was compared (are the runs' metrics missing or damaged?)"
        )
    return out



def _env_differences(base_env: dict[str, Any], new_env: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """What differs between the two sides' machines and software (ENV_KEYS, the threads the cases ran with,
    each package version): the comparison names it because any of these can move a timing by itself."""
    differences: dict[str, tuple[Any, Any]] = {}
    for key in ENV_KEYS:
        b, n = base_env.get(key), new_env.get(key)
        if b != n:
            differences[key] = (b, n)
    b, n = run_threads(base_env), run_threads(new_env)  # what the cases ran with, not the cap
    if b.key() != n.key():
        differences["threads"] = (b.text(), n.text())
    for dist in sorted(set(base_env.get("versions") or {}) | set(new_env.get("versions") or {})):
        b, n = (base_env.get("versions") or {}).get(dist), (new_env.get("versions") or {}).get(dist)
        if b != n:
            differences[dist] = (b, n)
    return differences


def _metric_rows(label: str, cid: str, b: CaseResult, n: CaseResult, settings: CompareSettings,
                 repeats: tuple[dict[RepeatKey, list[list[float]]], dict[RepeatKey, list[list[float]]]],
                 busy: tuple[BusyNotes, BusyNotes],
                 history: dict[RepeatKey, AAHistory] | None) -> list[Row]:
    """The rows of one case that ran on both sides: each timing, memory and parameter count both have, judged
    by its own rule (timings are noisy and judged against their spread; memory and params are exact)."""
    rows = []
    for nm in n.metrics:
        bm = b.metric(nm.scenario, nm.name)
        if bm is None:
            continue
        if _is_timing(nm) and _is_timing(bm):
            key = (cid, nm.scenario, nm.name)
            runs = (repeats[0].get(key, []), repeats[1].get(key, []))
            rows.append(judge_timing(label, [cid], bm, nm, settings, runs,
                                     (busy[0].get(cid, []), busy[1].get(cid, [])),
                                     (history or {}).get(key)))
        elif _is_memory(nm) and _is_memory(bm):
            rows.append(judge_deterministic("memory", label, [cid], bm, nm, settings))
        elif nm.scenario == "model" and nm.name == "params" and nm.value is not None and bm.value is not None:
            rows.append(judge_deterministic("params", label, [cid], bm, nm, settings))
    return rows

def _thread_caveat(row: Row, pairs: list[tuple[CaseResult, CaseResult]]) -> Row:
    """An accuracy row whose cases trained on other thread counts on the two sides says so.

    A seed reproduces a training only at a fixed thread count: torch's CPU reductions and
    GEMMs sum in an order that follows the threads (a sum over 4M floats differs in its 6th
    digit between 1 and 2 threads, with or without torch.use_deterministic_algorithms), and
    a training's small differences grow (uea's GRU, seed 0: 0.973 on 1 thread, 0.981 on 2).
    """
    def counts(side: int) -> set:
        return {pair[side].ran_on.threads for pair in pairs} - {None}

    base, new = counts(0), counts(1)
    if base and new and base != new:
        text = (f"trained on {','.join(map(str, sorted(base)))} vs {','.join(map(str, sorted(new)))} thread(s): a seed"
                " reproduces its accuracy at a fixed thread count only")
        row.note = f"{row.note}; {text}" if row.note else text
    return row


def _missing_rows(label: str, cid: str, b: CaseResult, n: CaseResult) -> list[Row]:
    """A row per side whose values are missing where the other side has them: a regression, since a
    CI gate that silently compares less than it did is no gate. Missing means the metric is stored
    without a value (NULL), or the case has no value at all (a metric only one side measured, such
    as a scenario only one run had, is not missing while the case has others)."""
    rows = []
    for side, have, lack in (("NEW", b, n), ("BASE", n, b)):
        valued = [m for m in have.metrics if m.value is not None]
        lacks_all = not any(m.value is not None for m in lack.metrics)
        gone = [m for m in valued if (other := lack.metric(m.scenario, m.name)) is None and lacks_all
                or other is not None and other.value is None]
        if gone:
            names = ", ".join(f"{m.scenario} {m.name}" for m in gone[:5]) + (" ..." if len(gone) > 5 else "")
            rows.append(Row("status", label, [cid], "-", "values", Side(None, status=b.status),
                            Side(None, status=n.status), "missing",
                            note=f"{side} has no value for {len(gone)} metric(s) the other side has: {names}"))
    return rows


def judge_measurements(case: str, cid: str, b: CaseResult, n: CaseResult, s: CompareSettings) -> list[Row]:
    """The training-dynamics measurements, shown but never a regression: steps reached in a time budget, gradient decay.

    Steps reached are one count per case that follows the machine's load; a decay's
    change is judged against its two fits' standard errors (2·sqrt(se_b² + se_n²)).
    """
    rows = []
    bm, nm = b.metric("train", "steps_reached"), n.metric("train", "steps_reached")
    if n.config.time_budget_s is not None and bm is not None and nm is not None and bm.value:
        ratio = nm.value / bm.value
        verdict = "more steps" if ratio > s.upper else "fewer steps" if ratio < s.lower else "same"
        rows.append(Row("budget", case, [cid], "train", "steps_reached", Side(bm.value), Side(nm.value), verdict,
                        ratio=ratio, note=f"in {n.config.time_budget_s:g} s"))
    for stage in ("init", "trained"):
        bd, nd = b.metric("gradients", f"decay_per_step_{stage}"), n.metric("gradients", f"decay_per_step_{stage}")
        if bd is None or nd is None or bd.value is None or nd.value is None:
            continue
        errors = [m.value for m in (b.metric("gradients", f"decay_per_step_{stage}_se"),
                                    n.metric("gradients", f"decay_per_step_{stage}_se")) if m and m.value]
        tolerance = 2 * math.sqrt(sum(e * e for e in errors)) if len(errors) == 2 else 0.0
        delta = nd.value - bd.value
        verdict = "steeper" if delta > tolerance else "flatter" if -delta > tolerance else "same"
        rows.append(Row("gradient", case, [cid], "gradients", f"decay_per_step_{stage}", Side(bd.value),
                        Side(nd.value), verdict, delta=delta, tolerance=tolerance))
    return rows


def _status_row(label: str, cid: str, b: CaseResult, n: CaseResult) -> Row:
    if n.status != "ok" and b.status == "ok":
        verdict, note = "failed", n.error[:200]
    elif n.status == "ok":
        verdict, note = "fixed", b.error[:200]
    else:
        verdict, note = "failed on both", n.error[:200]
    return Row("status", label, [cid], "-", "status", Side(None, status=b.status), Side(None, status=n.status),
               verdict, note=note)
