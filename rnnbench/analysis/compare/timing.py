"""The timing rules: slower, faster, same or noisy for one timed metric, judged on the run level with
several runs a side and against the runs' drift and A/A history with one; and what they read besides
the samples (the cases rnnbench flagged busy, the timings A/A history is read for)."""

from __future__ import annotations

from rnnbench.analysis.aa_history import AAHistory, RepeatKey
from rnnbench.analysis.compare.comparison import CompareSettings, Row, Side
from rnnbench.analysis.conditions import busy_cases
from rnnbench.analysis.sources import LoadedRun
from rnnbench.records import Metric
from rnnbench.stats import (DRIFT_BLOCKS, MIN_SAMPLES_PER_BLOCK, Summary, drift_within_run, estimate_ratio,
                            hierarchical_ratio_ci, smallest_possible_p)

#: runs a side before the two-level bootstrap judges on the run level. With two runs a side
#: there are only three distinct run resamples per side (AA, AB, BB), two of which repeat one
#: run, so the interval cannot see the variance between runs; such sides fall back to the
#: one-run rule, whose band includes the disagreement between a side's runs.
MIN_ROUNDS = 3


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
    return {(r.case_id, m.scenario, m.name) for r in run.results for m in r.metrics if is_timing(m)}


def is_timing(m: Metric) -> bool:
    """A timing the timing rules judge: seconds, with its raw samples and a value."""
    return m.unit == "s" and bool(m.samples) and m.value is not None
