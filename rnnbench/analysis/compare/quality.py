"""The quality rule: the task's primary metric (and its evaluations at other lengths) per seed group, mean
NEW against mean BASE in the metric's direction, beyond the seeds' spread or a tolerance."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass

from rnnbench.analysis.compare.comparison import CompareSettings, Row, Side, case_label
from rnnbench.records import CaseResult


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


def seed_group_key(result: CaseResult) -> str:
    """The case's configuration but its seed: cases with one key form a seed group."""
    config = result.config.to_dict()
    config.pop("seed")
    return json.dumps(config, sort_keys=True, default=str)


def seed_group_rows(groups: dict[str, list[tuple[CaseResult, CaseResult]]], s: CompareSettings) -> list[Row]:
    """A row per seed group (cases that differ only in seed, as (BASE, NEW) pairs) and quality metric."""
    rows = []
    for pairs in groups.values():
        ordered = sorted(pairs, key=lambda p: p[1].config.seed)
        for name in accuracy_names(ordered[0][1]) or [None]:
            row = judge_accuracy(ordered, s, name)
            if row is not None:
                rows.append(_thread_caveat(row, ordered))
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
