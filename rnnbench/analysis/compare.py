"""``rnnbench compare BASE NEW``: per case and metric, NEW/BASE and a verdict; exit 1 on a regression.

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
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from rnnbench.errors import UsageError
from rnnbench.records import CaseResult, Metric, RunInfo
from rnnbench.render.report import fmt_bytes, fmt_count, fmt_time, markdown_table
from rnnbench.analysis.sources import COMMIT_PREFIX, LoadedRun, load_run_source
from rnnbench.stats import estimate_ratio, smallest_possible_p

COMPARE_FORMAT = "rnnbench-compare"
COMPARE_VERSION = 1

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


@dataclass
class Row:
    """One compared (case, metric): the figures on each side, the change, the verdict."""

    kind: str  # "time" | "memory" | "params" | "accuracy" | "budget" | "gradient" | "status"
    case: str  # human label
    case_ids: list[str]
    scenario: str
    metric: str
    base: float | None
    new: float | None
    base_text: str
    new_text: str
    change_text: str
    verdict: str
    ratio: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    delta: float | None = None
    tolerance: float | None = None
    note: str = ""

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


def _time_text(metric: Metric) -> str:
    samples = metric.samples or []
    if len(samples) < 2:
        return f"{fmt_time(metric.value)} (n={len(samples)})"
    q1, q3 = statistics.quantiles(samples, n=4, method="inclusive")[0::2]
    return f"{fmt_time(metric.value)} ±{fmt_time((q3 - q1) / 2)} (n={len(samples)})"


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
    change = f"{est.ratio:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
    return Row("time", case, ids, base.scenario, base.name, base.value, new.value, _time_text(base),
               _time_text(new), change, verdict, ratio=est.ratio, ci=ci, p_value=est.p_value, note=note)


def judge_deterministic(kind: str, case: str, ids: list[str], base: Metric, new: Metric,
                        s: CompareSettings) -> Row:
    """Memory and parameter counts: no noise to test, so the threshold alone decides."""
    fmt = fmt_bytes if kind == "memory" else fmt_count
    if base.value == 0:  # no ratio to take: any growth from nothing is "bigger"
        ratio = None
        verdict = "same" if new.value == 0 else "bigger" if new.value > 0 else "smaller"
    else:
        ratio = new.value / base.value
        verdict = "bigger" if ratio > s.upper else "smaller" if ratio < s.lower else "same"
    note = "" if base.method == new.method else \
        f"methods differ: {(base.method or '-').split()[0]} vs {(new.method or '-').split()[0]}"
    return Row(kind, case, ids, base.scenario, base.name, base.value, new.value, fmt(base.value), fmt(new.value),
               "-" if ratio is None else f"{ratio:.3f}", verdict, ratio=ratio, note=note)


def _primary(result: CaseResult) -> tuple[str, bool] | None:
    name = result.details.get("primary_metric")
    if not name:
        return None
    return f"eval_{name}", bool(result.details.get("higher_is_better", True))


def accuracy_names(result: CaseResult) -> list[str]:
    """The primary metric's name and its evaluations at other lengths (--eval-seq-len), as stored."""
    primary = _primary(result)
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
    primary = _primary(first_new) or _primary(first_base)
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

    def text(values: list[float], mean: float) -> str:
        if k == 1:
            return f"{mean:.4g}"
        return f"{mean:.4g} ±{statistics.stdev(values):.2g} ({k} seeds)"

    label = case_label(first_new, with_seed=k == 1)
    if k > 1:
        label += " seeds=" + ",".join(map(str, sorted(seeds)))
    return Row("accuracy", label, ids, "train", name, base_mean, new_mean, text(base_values, base_mean),
               text(new_values, new_mean), f"Δ {delta:+.4g} (tol {tolerance:.2g})", verdict,
               delta=delta, tolerance=tolerance, note=how)


RepeatKey = tuple[str, str, str]  # case id, scenario, metric name


def pool_runs(runs: list[LoadedRun], what: str) -> tuple[LoadedRun, dict[RepeatKey, list[float]]]:
    """Several runs of the same code and sweep as one side: timing samples pooled, values averaged.

    Returns the pooled run and, per timed metric, the median of each run (for the
    consistency check in :func:`judge_timing`).
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
                medians[(cid, m.scenario, m.name)] = [statistics.median(x.samples) for x in same]
                metrics.append(Metric(m.scenario, m.name, statistics.median(samples), m.unit, m.method, samples))
            elif m.value is not None and m.name != "loss_curve":
                values = [x.value for x in same if x.value is not None]
                metrics.append(Metric(m.scenario, m.name, statistics.fmean(values), m.unit, m.method, m.samples))
            else:
                metrics.append(m)
        pooled.append(CaseResult(config=first.config, status="ok", metrics=metrics, worker=first.worker,
                                 details=first.details, started_at=first.started_at, duration_s=first.duration_s))
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
        rows.append(Row("budget", case, [cid], "train", "steps_reached", bm.value, nm.value, fmt_count(bm.value),
                        fmt_count(nm.value), f"{ratio:.3f}", verdict, ratio=ratio,
                        note=f"in {n.config.time_budget_s:g} s"))
    for stage in ("init", "trained"):
        bd, nd = b.metric("gradients", f"decay_per_step_{stage}"), n.metric("gradients", f"decay_per_step_{stage}")
        if bd is None or nd is None or bd.value is None or nd.value is None:
            continue
        errors = [m.value for m in (b.metric("gradients", f"decay_per_step_{stage}_se"),
                                    n.metric("gradients", f"decay_per_step_{stage}_se")) if m and m.value]
        tolerance = 2 * math.sqrt(sum(e * e for e in errors)) if len(errors) == 2 else 0.0
        delta = nd.value - bd.value
        verdict = "steeper" if delta > tolerance else "flatter" if -delta > tolerance else "same"
        rows.append(Row("gradient", case, [cid], "gradients", f"decay_per_step_{stage}", bd.value, nd.value,
                        f"{bd.value:.4g}", f"{nd.value:.4g}", f"Δ {delta:+.3g} (tol {tolerance:.2g})", verdict,
                        delta=delta, tolerance=tolerance))
    return rows


def _status_row(label: str, cid: str, b: CaseResult, n: CaseResult) -> Row:
    if n.status != "ok" and b.status == "ok":
        verdict, note = "failed", n.error[:200]
    elif n.status == "ok":
        verdict, note = "fixed", b.error[:200]
    else:
        verdict, note = "failed on both", n.error[:200]
    return Row("status", label, [cid], "-", "status", None, None, b.status, n.status, "-", verdict, note=note)


# -- rendering --------------------------------------------------------------------------------

HEADER = ["case", "metric", "BASE", "NEW", "NEW/BASE [CI] or Δ", "p", "verdict"]
_STYLE = {"slower": "bold red", "bigger": "bold red", "worse": "bold red", "failed": "bold red",
          "faster": "green", "smaller": "green", "better": "green", "fixed": "green", "noisy": "yellow"}


def _cells(row: Row) -> list[str]:
    p = "-" if row.p_value is None else f"{row.p_value:.2g}"
    verdict = row.verdict + (f" ({row.note})" if row.note and row.kind != "accuracy" else "")
    return [row.case, f"{row.scenario} {row.metric}", row.base_text, row.new_text, row.change_text, p, verdict]


def summary_line(c: Comparison) -> str:
    n = len(c.regressions)
    counts = ", ".join(f"{c.count(v)} {v}" for v in ("slower", "faster", "noisy", "same", "bigger", "smaller",
                                                     "worse", "better", "failed") if c.count(v))
    head = f"{n} regression(s)" if n else "no regression"
    return f"{head} in {len(c.rows)} comparison(s): {counts}"


def legend(c: Comparison) -> list[str]:
    s = c.settings
    return [
        f"Timings: NEW/BASE is the ratio of medians of the raw samples; [..] its {s.confidence:.0%} percentile"
        f" bootstrap interval ({s.resamples} resamples, seed {s.seed}); p: two-sided Mann-Whitney U on the samples."
        f" slower/faster: ratio beyond ±{s.threshold:.0%} and p < {s.alpha:g}; same: the interval lies within"
        f" ±{s.threshold:.0%}; noisy: neither, the samples cannot tell (docs/ci.md).",
        f"Memory and parameter counts are deterministic: bigger/smaller beyond ±{s.threshold:.0%}.",
        "Accuracy: the task's primary metric on held-out data, mean over the seeds both runs have; worse/better"
        f" when the difference exceeds the spread over seeds (sd), or --acc-tolerance={s.acc_tolerance:g} with one seed.",
        "BASE/NEW timings: median ±IQR/2 (n = samples).",
    ] + ([f"Steps reached in a --time-budget (never a regression: one count per case, it follows the machine's"
          f" load): more/fewer steps beyond ±{s.threshold:.0%}."] if any(r.kind == "budget" for r in c.rows) else []) \
      + (["Gradient decay per step (the gradients scenario; never a regression): steeper/flatter when the change"
          " exceeds 2 x the two fits' combined standard error."] if any(r.kind == "gradient" for r in c.rows) else [])


def _env_lines(c: Comparison) -> list[str]:
    return [f"{key}: {b} -> {n}" for key, (b, n) in c.env_differences.items()]


def render_table(c: Comparison, console: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    if not console.is_terminal:
        console = Console(width=220, file=console.file)
    console.print(f"BASE: {c.base.describe()} from {c.base.origin}\nNEW:  {c.new.describe()} from {c.new.origin}")
    for line in _env_lines(c):
        console.print(f"[dim]environment differs: {line}[/dim]")
    table = Table(title=f"rnnbench compare: {summary_line(c)}")
    for col in HEADER:
        table.add_column(col, overflow="fold")
    for row in c.rows:
        cells = _cells(row)
        style = _STYLE.get(row.verdict)
        if style:
            cells[-1] = f"[{style}]{cells[-1]}[/{style}]"
        table.add_row(*cells)
    console.print(table)
    for title, labels in (("only in BASE", c.only_in_base), ("only in NEW", c.only_in_new)):
        if labels:
            console.print(f"{title} ({len(labels)}): " + "; ".join(labels))
    for line in legend(c):
        console.print(f"[dim]{line}[/dim]")


def render_markdown(c: Comparison) -> str:
    regressions = c.regressions
    parts = [f"### rnnbench compare: {'**' + str(len(regressions)) + ' regression(s)**' if regressions else 'no regression'}",
             "",
             f"BASE: {c.base.describe()}; NEW: {c.new.describe()}. {summary_line(c)}.",
             ""]
    if c.env_differences:
        parts += ["Environment differences: " + "; ".join(f"`{line}`" for line in _env_lines(c)), ""]
    if regressions:
        parts += ["Regressions:", "", markdown_table(HEADER, [_cells(r) for r in regressions]), ""]
    parts += ["<details><summary>All comparisons</summary>", "", markdown_table(HEADER, [_cells(r) for r in c.rows]),
              "", "</details>", ""]
    for title, labels in (("Only in BASE", c.only_in_base), ("Only in NEW", c.only_in_new)):
        if labels:
            parts += [f"{title} ({len(labels)}): " + "; ".join(labels), ""]
    parts += [f"- {line}" for line in legend(c)]
    return "\n".join(parts) + "\n"


def render_json(c: Comparison) -> str:
    def side(run: LoadedRun) -> dict[str, Any]:
        return {"run_id": run.run.run_id, "git_commit": run.commit, "origin": run.origin,
                "threads": run.run.env.get("threads"), "cpu": run.run.env.get("cpu")}

    rows = []
    for r in c.rows:
        d = asdict(r)
        d["regression"] = r.regression
        rows.append(d)
    doc = {
        "format": COMPARE_FORMAT, "format_version": COMPARE_VERSION,
        "base": side(c.base), "new": side(c.new), "settings": asdict(c.settings),
        "regressions": len(c.regressions), "summary": summary_line(c), "rows": rows,
        "only_in_base": c.only_in_base, "only_in_new": c.only_in_new,
        "environment_differences": {k: list(v) for k, v in c.env_differences.items()},
    }
    return json.dumps(doc, indent=2, default=str) + "\n"


# -- the subcommand ---------------------------------------------------------------------------

def parse_fraction(flag: str, text: str) -> float:
    """``10%`` or ``0.1`` -> 0.1; anything else is a usage error."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(f"{flag}: '{text}' is not a number (give a fraction like 0.1 or a percentage like 10%)") from None
    if not (0 < value < 1):
        raise UsageError(f"{flag}: must be between 0 and 1 (or 0% and 100%), got {text}")
    return value


def add_run_source_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="results", help="results folder holding rnnbench.db (default: %(default)s)")


def add_parser(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``rnnbench compare`` to the CLI's subparsers."""
    p = sub.add_parser(
        "compare", help="compare two runs case by case; exit 1 on a regression",
        description="Compare NEW against BASE case by case. BASE and NEW are run ids, run folders"
                    " (results/<run-id>), files from 'rnnbench export --format json', 'latest', 'latest~N'"
                    " (N runs before the newest) or 'commit:SHA' (the newest run of that commit; a prefix"
                    " is enough). A comma list of runs of one commit pools them as repeats (docs/ci.md)."
                    " Exit codes: 0 no regression, 1 regression, 2 usage error.")
    add_common(p)
    p.add_argument("base", nargs="?", metavar="BASE", help="the reference run")
    p.add_argument("new", nargs="?", metavar="NEW", help="the run under test (default with --commit: latest)")
    p.add_argument("--commit", metavar="SHA", help="BASE is the newest run of this commit (NEW defaults to latest)")
    add_run_source_args(p)
    p.add_argument("--threshold", default="10%", help="smallest change that counts (default: %(default)s)")
    p.add_argument("--alpha", default="0.002", help="significance level of the Mann-Whitney U test (default: %(default)s)")
    p.add_argument("--acc-tolerance", default="0.02",
                   help="allowed drop of the primary metric when a case has one seed (default: %(default)s)")
    p.add_argument("--format", choices=("table", "markdown", "json"), default="table", help="output (default: %(default)s)")
    p.set_defaults(handler=cmd_compare)


def _operands(args: argparse.Namespace) -> tuple[str, str]:
    given = [x for x in (args.base, args.new) if x is not None]
    if args.commit is not None:
        if len(given) > 1:
            raise UsageError("--commit names BASE: give at most one more run (NEW)")
        return COMMIT_PREFIX + args.commit, given[0] if given else "latest"
    if len(given) < 2:
        raise UsageError("compare needs BASE and NEW (run ids, run folders, exported files, 'latest',"
                         " 'commit:SHA'), or --commit SHA")
    return given[0], given[1]


def _split_runs(spec: str, what: str) -> list[str]:
    parts = [x.strip() for x in spec.split(",")]
    if any(not x for x in parts):
        raise UsageError(f"{what}: '{spec}' has an empty run name")
    return parts


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.console import Console

    base_spec, new_spec = _operands(args)
    try:
        acc_tolerance = float(args.acc_tolerance)
        alpha = float(args.alpha)
    except ValueError:
        raise UsageError("--alpha and --acc-tolerance take numbers") from None
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha: must be between 0 and 1, got {args.alpha}")
    if acc_tolerance < 0:
        raise UsageError(f"--acc-tolerance: must not be negative, got {args.acc_tolerance}")
    settings = CompareSettings(threshold=parse_fraction("--threshold", args.threshold), alpha=alpha,
                               acc_tolerance=acc_tolerance)
    out = Path(args.out)
    base, base_repeats = pool_runs([load_run_source(x, out, "BASE") for x in _split_runs(base_spec, "BASE")], "BASE")
    new, new_repeats = pool_runs([load_run_source(x, out, "NEW") for x in _split_runs(new_spec, "NEW")], "NEW")
    comparison = compare_runs(base, new, settings, (base_repeats, new_repeats))
    if args.format == "json":
        print(render_json(comparison), end="")
    elif args.format == "markdown":
        print(render_markdown(comparison), end="")
    else:
        render_table(comparison, Console())
    return 1 if comparison.regressions else 0
