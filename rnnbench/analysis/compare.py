"""The rules of ``rnnbench compare``: per case and metric, NEW/BASE and a verdict.

Cases are matched by id (the hash of what defines the work, never the
environment), metrics by (scenario, name). Three kinds of metric, three rules
(docs/ci.md):

* timings (raw samples): a regression only when the ratio of medians is beyond
  the threshold AND the Mann–Whitney U test on the samples is significant;
  "noisy" when the bootstrap interval cannot rule out a change beyond it;
* memory and parameter counts (deterministic): beyond the threshold;
* accuracy (the task's primary metric): worse than BASE by more than the spread
  over seeds (cases that differ only in seed form a group), or by more than
  ``--acc-tolerance`` with one seed.

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

from rnnbench.analysis.sources import LoadedRun
from rnnbench.errors import UsageError
from rnnbench.records import CaseResult, Metric, RunInfo
from rnnbench.stats import Summary, estimate_ratio, smallest_possible_p

#: verdicts that make compare exit 1
REGRESSIONS = {"slower", "bigger", "worse", "failed"}
#: environment keys shown when they differ between BASE and NEW
ENV_KEYS = ("git_commit", "host", "cpu", "cpu_count", "threads", "python", "gpu", "rnnbench")


@dataclass(frozen=True)
class CompareSettings:
    threshold: float = 0.10
    alpha: float = 0.002
    acc_tolerance: float = 0.02
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0

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

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.regression]

    def count(self, verdict: str) -> int:
        return sum(1 for r in self.rows if r.verdict == verdict)


# -- judging ----------------------------------------------------------------------------------

def case_label(result: CaseResult, with_seed: bool = True) -> str:
    c = result.config
    text = f"{c.model} {c.task} T={c.seq_len} B={c.batch_size} H={c.hidden} L={c.layers}"
    if c.device != "cpu" or c.dtype != "float32":
        text += f" {c.device} {c.dtype}"
    if c.time_budget_s is not None:
        text += f" budget={c.time_budget_s:g}s"
    return text + (f" seed={c.seed}" if with_seed else "")


def _timing_side(metric: Metric) -> Side:
    return Side(metric.value, Summary.of(metric.samples) if metric.samples else None)


def judge_timing(case: str, ids: list[str], base: Metric, new: Metric, s: CompareSettings,
                 repeats: tuple[list[float], list[float]] = ([], [])) -> Row:
    """slower/faster: beyond the threshold and significant; same: CI inside the band; else noisy.

    ``repeats`` holds the median of each pooled run of BASE and of NEW: when the runs of
    one side disagree by more than the threshold, the machine changed under the
    measurement, and a change between the sides is called noisy, not a regression.
    """
    est = estimate_ratio(base.samples or [base.value], new.samples or [new.value],
                         confidence=s.confidence, resamples=s.resamples, seed=s.seed)
    significant = est.p_value is not None and est.p_value < s.alpha
    ci = (est.ci_low, est.ci_high) if est.ci_low is not None else None
    note = ""
    disagreement = max(((max(m) / min(m) - 1.0, side) for side, m in zip(("BASE", "NEW"), repeats) if len(m) > 1),
                       default=(0.0, ""))
    unstable = disagreement[0] > s.threshold
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
    return Row("time", case, ids, base.scenario, base.name, _timing_side(base), _timing_side(new), verdict,
               ratio=est.ratio, ci=ci, p_value=est.p_value, note=note)


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


def _evaluated_metric(result: CaseResult) -> tuple[str, bool] | None:
    """The stored name of one case's primary metric (``eval_accuracy``, scenario train) and whether higher is better."""
    name = result.details.get("primary_metric")
    if not name:
        return None
    return f"eval_{name}", bool(result.details.get("higher_is_better", True))


def accuracy_names(result: CaseResult) -> list[str]:
    """The primary metric's name and its evaluations at other lengths (--eval-seq-len), as stored."""
    primary = _evaluated_metric(result)
    if primary is None:
        return []
    at_training_length = f"{primary[0]}_len{result.config.seq_len}"  # the primary metric itself
    lengths = sorted((m.name for m in result.metrics if m.scenario == "train"
                      and m.name.startswith(primary[0] + "_len") and m.name != at_training_length),
                     key=lambda n: int(n.rsplit("_len", 1)[1]))
    return [primary[0], *lengths]


def judge_accuracy(pairs: list[tuple[CaseResult, CaseResult]], s: CompareSettings,
                   name: str | None = None) -> Row | None:
    """One row per seed group: mean NEW vs mean BASE against the spread over seeds (or the tolerance).

    ``name`` picks another accuracy-like metric than the primary one (an evaluation at another length).
    """
    first_base, first_new = pairs[0]
    primary = _evaluated_metric(first_new) or _evaluated_metric(first_base)
    if primary is None:
        return None
    name, higher_is_better = (name or primary[0]), primary[1]
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
    else:
        tolerance = s.acc_tolerance
        how = "--acc-tolerance (one seed)"
    delta = new_mean - base_mean
    worse_by = -delta if higher_is_better else delta
    verdict = "worse" if worse_by > tolerance else "better" if -worse_by > tolerance else "same"

    def side(values: list[float], mean: float) -> Side:
        return Side(mean, seeds=k, seed_sd=statistics.stdev(values) if k > 1 else None)

    label = case_label(first_new, with_seed=k == 1)
    if k > 1:
        label += " seeds=" + ",".join(map(str, sorted(seeds)))
    return Row("accuracy", label, ids, "train", name, side(base_values, base_mean), side(new_values, new_mean),
               verdict, delta=delta, tolerance=tolerance, note=how)


RepeatKey = tuple[str, str, str]  # case id, scenario, metric name


def pool_runs(runs: list[LoadedRun], what: str) -> tuple[LoadedRun, dict[RepeatKey, list[float]]]:
    """Several runs of the same code and sweep as one side: timing samples pooled, values averaged.

    Returns the pooled run and, per timed metric, the median of each run (for the
    consistency check in :func:`judge_timing`). Curves (``CaseResult.series``) are
    not compared and are taken from the first run.
    """
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
    medians: dict[RepeatKey, list[float]] = {}
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
                medians[(cid, m.scenario, m.name)] = [Summary.of(x.samples).median for x in same]
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
    return LoadedRun(info, pooled, origins), medians


def _is_timing(m: Metric) -> bool:
    return m.unit == "s" and bool(m.samples) and m.value is not None


def _is_memory(m: Metric) -> bool:
    return m.unit == "bytes" and m.value is not None


def _group_key(result: CaseResult) -> str:
    config = result.config.to_dict()
    config.pop("seed")
    return json.dumps(config, sort_keys=True, default=str)


def compare_runs(base: LoadedRun, new: LoadedRun, settings: CompareSettings = CompareSettings(),
                 repeats: tuple[dict[RepeatKey, list[float]], dict[RepeatKey, list[float]]] = ({}, {})) -> Comparison:
    """Match the two runs' cases by id and judge every metric both sides have."""
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
    out.only_in_base = [case_label(r) for cid, r in base_by_id.items() if cid not in new_by_id]
    out.only_in_new = [case_label(r) for cid, r in new_by_id.items() if cid not in base_by_id]
    for key in ENV_KEYS:
        b, n = base.run.env.get(key), new.run.env.get(key)
        if b != n:
            out.env_differences[key] = (b, n)
    for dist in sorted(set(base.run.env.get("versions") or {}) | set(new.run.env.get("versions") or {})):
        b, n = (base.run.env.get("versions") or {}).get(dist), (new.run.env.get("versions") or {}).get(dist)
        if b != n:
            out.env_differences[dist] = (b, n)

    groups: dict[str, list[tuple[CaseResult, CaseResult]]] = {}
    for cid in common:
        b, n = base_by_id[cid], new_by_id[cid]
        label = case_label(n)
        if b.status != "ok" or n.status != "ok":
            out.rows.append(_status_row(label, cid, b, n))
            continue
        for nm in n.metrics:
            bm = b.metric(nm.scenario, nm.name)
            if bm is None:
                continue
            if _is_timing(nm) and _is_timing(bm):
                key = (cid, nm.scenario, nm.name)
                runs_medians = (repeats[0].get(key, []), repeats[1].get(key, []))
                out.rows.append(judge_timing(label, [cid], bm, nm, settings, runs_medians))
            elif _is_memory(nm) and _is_memory(bm):
                out.rows.append(judge_deterministic("memory", label, [cid], bm, nm, settings))
            elif nm.scenario == "model" and nm.name == "params" and nm.value is not None and bm.value is not None:
                out.rows.append(judge_deterministic("params", label, [cid], bm, nm, settings))
        groups.setdefault(_group_key(n), []).append((b, n))
    for pairs in groups.values():
        ordered = sorted(pairs, key=lambda p: p[1].config.seed)
        for name in accuracy_names(ordered[0][1]) or [None]:
            row = judge_accuracy(ordered, settings, name)
            if row is not None:
                out.rows.append(row)
    for cid in common:
        b, n = base_by_id[cid], new_by_id[cid]
        if b.status == "ok" and n.status == "ok":
            out.rows += judge_measurements(case_label(n), cid, b, n, settings)
    return out


def judge_measurements(case: str, cid: str, b: CaseResult, n: CaseResult, s: CompareSettings) -> list[Row]:
    """Issue 16's measurements, shown but never a regression: steps reached in a time budget, gradient decay.

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
