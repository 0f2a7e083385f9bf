"""The verdict rules of ``rnnbench compare`` on known samples, and the statistics behind them."""

import numpy as np
import pytest

from rnnbench.analysis.aa_history import AAHistory
from rnnbench.analysis.compare.comparison import CompareSettings
from rnnbench.analysis.compare.match import compare_runs
from rnnbench.analysis.compare.pooling import pool_runs
from rnnbench.analysis.compare.timing import judge_timing, timed_keys
from rnnbench.commands.compare import parse_fraction
from rnnbench.errors import UsageError
from rnnbench.render.export import benchmark_stats
from rnnbench.records import CaseResult, Metric, RunInfo
from rnnbench.analysis.sources import LoadedRun
from rnnbench.stats import Summary, aa_prediction_band, bootstrap_ratio_ci, smallest_possible_p
from rnnbench.records import CaseConfig

S = CompareSettings()


def a_a_history(run_sd, runs=8, seed=0):
    """The A/A band of ``runs`` earlier runs of one commit whose machine states scatter by ``run_sd`` (log)."""
    medians = 1e-3 * np.random.default_rng(seed).lognormal(0.0, run_sd, runs)
    return AAHistory(aa_prediction_band([list(medians)]))


#: a quiet machine's history: runs of one commit scatter by about 1%
QUIET = a_a_history(0.01)


def timing(samples, scenario="forward", name="latency_s"):
    return Metric(scenario, name, float(np.median(samples)), "s", "test", list(samples))


def lognormal(median, spread, n, seed):
    return list(median * np.random.default_rng(seed).lognormal(0.0, spread, n))


@pytest.mark.parametrize("new_median,spread,n,expected", [
    (1.00, 0.02, 60, "same"),     # the same distribution
    (1.25, 0.02, 60, "slower"),   # +25%, tight samples
    (0.75, 0.02, 60, "faster"),
    (1.05, 0.02, 60, "same"),     # significant, but inside the 10% threshold
    (1.25, 0.60, 6, "noisy"),     # beyond the threshold, but samples too few and too wide to tell
    (1.00, 0.30, 8, "noisy"),     # no change, but the interval reaches beyond ±10%
])
def test_timing_verdicts(new_median, spread, n, expected):
    base = timing(lognormal(1e-3, spread, n, seed=1))
    new = timing(lognormal(1e-3 * new_median, spread, n, seed=2))
    row = judge_timing("case", ["id"], base, new, S, history=QUIET)
    assert row.verdict == expected, (row.change_text, row.p_value, row.note)
    assert row.regression == (expected == "slower")


def test_a_regression_needs_significance_not_only_a_ratio():
    # medians 20% apart, but 3 samples a side: a rank test cannot reach p < 0.002
    row = judge_timing("case", ["id"], timing([1.0, 1.3, 0.9]), timing([1.2, 1.5, 1.1]), S)
    assert row.ratio == pytest.approx(1.2)
    assert row.verdict == "noisy" and "too few samples" in row.note
    assert smallest_possible_p(3, 3) > S.alpha > smallest_possible_p(7, 7)


def test_runs_of_one_side_that_disagree_make_a_change_noisy():
    base, new = timing(lognormal(1e-3, 0.02, 60, 1)), timing(lognormal(1.3e-3, 0.02, 60, 2))
    assert judge_timing("c", ["i"], base, new, S, history=QUIET).verdict == "slower"
    # NEW was two runs whose medians differ by 40%: the machine changed under the measurement
    runs = ([base.samples], [lognormal(1.1e-3, 0.02, 30, 3), lognormal(1.54e-3, 0.02, 30, 4)])
    row = judge_timing("c", ["i"], base, new, S, runs=runs)
    assert row.verdict == "noisy" and "within the runs' own drift of 40%" in row.note
    strict = judge_timing("c", ["i"], base, new, CompareSettings(strict=True), runs=runs)
    assert strict.verdict == "noisy" and "runs of NEW disagree by 40%" in strict.note


def drifting_run(median, drift, n, seed, spread=0.02):
    """One run whose machine slowed steadily by ``drift`` over its samples (in timed order)."""
    return list(np.asarray(lognormal(median, spread, n, seed)) * np.linspace(1.0, 1.0 + drift, n))


def test_one_run_a_side_needs_a_change_beyond_its_own_drift():
    # each run drifts by 25% while it runs; NEW is 15% slower: significant within the runs, not beyond the drift
    base, new = timing(drifting_run(1e-3, 0.25, 200, 1)), timing(drifting_run(1.15e-3, 0.25, 200, 2))
    row = judge_timing("c", ["i"], base, new, S)
    assert row.p_value < S.alpha and row.ratio > S.upper
    assert row.verdict == "noisy" and "within the runs' own drift" in row.note and not row.regression
    assert judge_timing("c", ["i"], base, new, CompareSettings(strict=True)).verdict == "slower"
    # the same 15% with runs that hold steady is slower
    steady = judge_timing("c", ["i"], timing(drifting_run(1e-3, 0.0, 200, 1)),
                          timing(drifting_run(1.15e-3, 0.0, 200, 2)), S, history=QUIET)
    assert steady.verdict == "slower" and steady.rule == "one run a side"


def test_one_short_run_a_side_cannot_measure_its_drift():
    row = judge_timing("c", ["i"], timing(lognormal(1e-3, 0.01, 8, 1)), timing(lognormal(1.3e-3, 0.01, 8, 2)), S)
    assert row.verdict == "noisy" and "too short to measure its own drift" in row.note


def test_one_run_a_side_without_a_a_history_decides_nothing():
    # steady runs, a significant 30%: but nothing measured says how far a whole run moves on this machine
    base, new = timing(drifting_run(1e-3, 0.0, 200, 1)), timing(drifting_run(1.3e-3, 0.0, 200, 2))
    row = judge_timing("c", ["i"], base, new, S)
    assert row.verdict == "noisy" and not row.regression
    assert "it looked slower by 30%, but no A/A history was read" in row.note and "run rounds" in row.note
    why = "too little A/A history on this machine (1 other run(s) of this case; a band needs 3 runs of one commit"
    row = judge_timing("c", ["i"], base, new, S, history=AAHistory(None, why))
    assert row.verdict == "noisy" and why in row.note


def test_one_run_a_side_must_move_beyond_the_machines_a_a_band():
    # two steady runs 15% apart: what one A/A pair of runs did on the machine
    base, new = timing(drifting_run(1e-3, 0.0, 200, 1)), timing(drifting_run(1.15e-3, 0.0, 200, 2))
    loud = a_a_history(0.08)  # earlier runs of one commit scatter by 8%: a 99% band of about ±35%
    row = judge_timing("c", ["i"], base, new, S, history=loud)
    assert loud.band.band > 0.2 and row.verdict == "noisy" and not row.regression
    assert "is within the 99% A/A band" in row.note and "from 8 earlier runs of 1 commit(s)" in row.note
    # a twice slower NEW is beyond it; the note says what the verdict rests on
    doubled = judge_timing("c", ["i"], base, timing(drifting_run(2e-3, 0.0, 200, 2)), S, history=loud)
    assert doubled.verdict == "slower" and doubled.note.startswith("beyond the 99% A/A band")
    # the same 15% on a quiet machine's history is slower
    assert judge_timing("c", ["i"], base, new, S, history=QUIET).verdict == "slower"


def test_the_a_a_band_is_a_prediction_interval_at_its_level():
    """Simulated machines: run effects lognormal (sd 5%), 4 earlier runs of one commit, then one new A/A
    pair. Over 4000 draws the pair leaves the 99% band about 1% of the time (a normal model: exact)."""
    rng = np.random.default_rng(7)
    outside = 0
    for _ in range(4000):
        history = rng.lognormal(0.0, 0.05, 4)
        band = aa_prediction_band([list(history)], 0.99)
        pair = rng.lognormal(0.0, 0.05, 2)
        ratio = pair[1] / pair[0]
        outside += not (1 / (1 + band.band) <= ratio <= 1 + band.band)
    assert 0.004 < outside / 4000 < 0.02
    assert aa_prediction_band([[1.0, 1.1]]) is None  # one degree of freedom: t's quantile is 64, no band
    two_commits = aa_prediction_band([[1.0, 1.02], [2.0, 2.04]])  # commits differ; only the within spread counts
    assert two_commits.df == 2 and two_commits.groups == 2 and two_commits.band < 0.25


def rounds(median, run_sd, k, n, seed):
    """``k`` runs of ``n`` samples; each run's machine state scales it by a lognormal factor (sd ``run_sd``)."""
    rng = np.random.default_rng(seed)
    return [lognormal(median * rng.lognormal(0.0, run_sd), 0.02, n, seed * 100 + i) for i in range(k)]


def _pooled(runs):
    return timing([v for r in runs for v in r])


def test_a_shift_smaller_than_the_run_to_run_band_is_not_slower():
    # two runs whose machine states differ by 15%: the samples say "significant", the runs cannot tell
    base_run, new_run = lognormal(1e-3, 0.02, 100, 1), lognormal(1.15e-3, 0.02, 100, 2)
    assert judge_timing("c", ["i"], timing(base_run), timing(new_run), CompareSettings(strict=True)).regression
    # with three rounds a side, the other runs show a run-to-run band of that size: not slower
    base_runs = [base_run, lognormal(1.12e-3, 0.02, 100, 3), lognormal(0.97e-3, 0.02, 100, 4)]
    new_runs = [new_run, lognormal(0.98e-3, 0.02, 100, 5), lognormal(1.03e-3, 0.02, 100, 6)]
    row = judge_timing("c", ["i"], _pooled(base_runs), _pooled(new_runs), S, runs=(base_runs, new_runs))
    assert row.verdict in ("same", "noisy") and not row.regression and row.rule == "rounds (3+3 runs)"
    assert row.ci[0] < 1.0 < row.ci[1]


def test_a_real_20_percent_shift_across_three_rounds_is_slower():
    base_runs, new_runs = rounds(1e-3, 0.03, 3, 60, 1), rounds(1.2e-3, 0.03, 3, 60, 2)
    row = judge_timing("c", ["i"], _pooled(base_runs), _pooled(new_runs), S, runs=(base_runs, new_runs))
    assert row.verdict == "slower" and row.regression and 1.1 < row.ratio < 1.35 and row.ci[0] > 1.0
    faster = judge_timing("c", ["i"], _pooled(new_runs), _pooled(base_runs), S, runs=(new_runs, base_runs))
    assert faster.verdict == "faster"


def test_two_runs_a_side_are_not_rounds():
    # Two runs a side give the run-level bootstrap three distinct resamples a side, two of them one run
    # repeated: it falls back to the one-run rule, whose band holds the disagreement between a side's runs.
    base_runs = [lognormal(1e-3, 0.02, 60, 1), lognormal(1.2e-3, 0.02, 60, 2)]  # the machine moved 20%
    new_runs = [lognormal(1.2e-3, 0.02, 60, 3), lognormal(1.3e-3, 0.02, 60, 4)]   # NEW 1.2x/1.3x of the first
    row = judge_timing("c", ["i"], _pooled(base_runs), _pooled(new_runs), S, runs=(base_runs, new_runs))
    assert row.rule == "fewer than 3 runs a side (2+2)"
    assert row.verdict == "noisy" and "drift" in row.note and not row.regression, (row.ratio, row.note)
    # a change well beyond what the runs of each side show among themselves is still found
    steady_new = [lognormal(1.6e-3, 0.02, 60, 5), lognormal(1.62e-3, 0.02, 60, 6)]
    row = judge_timing("c", ["i"], _pooled(base_runs), _pooled(steady_new), S, runs=(base_runs, steady_new),
                       history=QUIET)
    assert row.verdict == "slower" and row.rule == "fewer than 3 runs a side (2+2)"


@pytest.mark.parametrize("seed", range(10))
def test_a_over_a_with_run_to_run_noise_is_never_slower_in_rounds(seed):
    base_runs, new_runs = rounds(1e-3, 0.05, 3, 60, 2 * seed + 1), rounds(1e-3, 0.05, 3, 60, 2 * seed + 2)
    row = judge_timing("c", ["i"], _pooled(base_runs), _pooled(new_runs), S, runs=(base_runs, new_runs))
    assert row.verdict in ("same", "noisy"), (row.ratio, row.ci)


def test_the_hierarchical_interval_is_seeded_and_widens_with_run_to_run_noise():
    from rnnbench.stats import hierarchical_ratio_ci

    quiet_b, quiet_n = rounds(1.0, 0.001, 3, 40, 1), rounds(1.0, 0.001, 3, 40, 2)
    loud_b, loud_n = rounds(1.0, 0.10, 3, 40, 1), rounds(1.0, 0.10, 3, 40, 2)
    first = hierarchical_ratio_ci(quiet_b, quiet_n, seed=0)
    assert first == hierarchical_ratio_ci(quiet_b, quiet_n, seed=0)
    loud = hierarchical_ratio_ci(loud_b, loud_n, seed=0)
    assert loud[1] - loud[0] > 3 * (first[1] - first[0])


def test_a_case_flagged_busy_decides_nothing_unless_strict():
    base, new = timing(lognormal(1e-3, 0.02, 60, 1)), timing(lognormal(1.3e-3, 0.02, 60, 2))
    why = "other processes kept 1.9 of 2 CPUs busy, the case needed 1"
    row = judge_timing("c", ["i"], base, new, S, busy=([], [why]), history=QUIET)
    assert row.verdict == "noisy" and row.busy and row.note == f"the machine was busy (NEW {why}; it looked slower)"
    same = judge_timing("c", ["i"], base, base, S, busy=([why], []))
    assert same.verdict == "same" and not same.busy  # no change to doubt
    assert judge_timing("c", ["i"], base, new, CompareSettings(strict=True), busy=([], [why])).verdict == "slower"


def test_the_bootstrap_interval_is_seeded_and_brackets_the_ratio():
    base, new = lognormal(1.0, 0.1, 50, 3), lognormal(1.2, 0.1, 50, 4)
    first = bootstrap_ratio_ci(base, new, seed=0)
    assert first == bootstrap_ratio_ci(base, new, seed=0)
    assert first[0] < np.median(new) / np.median(base) < first[1]


def _case(seed=0, model="lstm@torch"):
    return CaseConfig(model=model, task="copy", task_options=(("num_symbols", 10),), seq_len=3, batch_size=4,
                      hidden=8, layers=1, device="cpu", dtype="float32", seed=seed, steps=5, lr=0.002)


def _result(seed, accuracy, params=100.0, memory=1000.0, latency=None):
    metrics = [Metric("model", "params", params, "count"), Metric("train", "memory_bytes", memory, "bytes", "autograd"),
               Metric("train", "eval_accuracy", accuracy, "")]
    if latency is not None:
        metrics.append(timing(latency))
    return CaseResult(config=_case(seed), metrics=metrics,
                      details={"primary_metric": "accuracy", "higher_is_better": True})


def _run(run_id, results, commit="abc"):
    return LoadedRun(RunInfo(run_id=run_id, folder=None, env={"git_commit": commit, "threads": 1}), results, "test")


def _row(comparison, metric):
    [row] = [r for r in comparison.rows if r.metric == metric]
    return row


def test_accuracy_with_one_seed_uses_the_tolerance():
    base = _run("b", [_result(0, 0.90)])
    assert _row(compare_runs(base, _run("n", [_result(0, 0.89)])), "eval_accuracy").verdict == "same"
    worse = _row(compare_runs(base, _run("n", [_result(0, 0.87)])), "eval_accuracy")
    assert worse.verdict == "worse" and worse.regression and worse.tolerance == 0.02
    tight = compare_runs(base, _run("n", [_result(0, 0.89)]), CompareSettings(acc_tolerance=0.005))
    assert _row(tight, "eval_accuracy").verdict == "worse"


def test_accuracy_with_seeds_uses_their_spread():
    base = _run("b", [_result(0, 0.90), _result(1, 0.80), _result(2, 0.85)])  # sd 0.05
    within = _run("n", [_result(0, 0.86), _result(1, 0.78), _result(2, 0.82)])  # mean -0.03
    beyond = _run("n", [_result(0, 0.80), _result(1, 0.72), _result(2, 0.76)])  # mean -0.09
    assert _row(compare_runs(base, within), "eval_accuracy").verdict == "same"
    row = _row(compare_runs(base, beyond), "eval_accuracy")
    assert row.verdict == "worse" and 0.03 < row.tolerance < 0.06 and "seeds=0,1,2" in row.case


def test_memory_and_parameters_are_judged_by_the_threshold():
    base = _run("b", [_result(0, 0.9)])
    grown = compare_runs(base, _run("n", [_result(0, 0.9, params=150.0, memory=1050.0)]))
    assert _row(grown, "params").verdict == "bigger" and _row(grown, "params").regression
    assert _row(grown, "memory_bytes").verdict == "same"  # +5% is inside 10%
    shrunk = compare_runs(base, _run("n", [_result(0, 0.9, memory=500.0)]))
    assert _row(shrunk, "memory_bytes").verdict == "smaller" and not shrunk.regressions
    from_nothing = compare_runs(_run("b", [_result(0, 0.9, memory=0.0)]), _run("n", [_result(0, 0.9, memory=64.0)]))
    assert _row(from_nothing, "memory_bytes").verdict == "bigger" and _row(from_nothing, "memory_bytes").ratio is None


def test_cases_on_one_side_are_listed_and_no_common_case_is_an_error():
    base = _run("b", [_result(0, 0.9), _result(1, 0.9)])
    comparison = compare_runs(base, _run("n", [_result(0, 0.9)]))
    assert len(comparison.only_in_base) == 1 and "seed=1" in comparison.only_in_base[0]
    with pytest.raises(UsageError, match="no case in common"):
        compare_runs(base, _run("n", [_result(5, 0.9)]))


def test_pooled_runs_concatenate_samples_and_must_share_a_commit():
    first = _run("a", [_result(0, 0.9, latency=[1.0, 1.1, 1.2])])
    second = _run("b", [_result(0, 0.8, latency=[2.0, 2.1])])
    pooled, per_run = pool_runs([first, second], "BASE")
    metric = pooled.results[0].metric("forward", "latency_s")
    assert metric.samples == [1.0, 1.1, 1.2, 2.0, 2.1] and metric.value == 1.2
    assert pooled.results[0].metric("train", "eval_accuracy").value == pytest.approx(0.85)
    assert per_run[(pooled.results[0].case_id, "forward", "latency_s")] == [[1.0, 1.1, 1.2], [2.0, 2.1]]
    assert pooled.run.run_id == "a+b"
    with pytest.raises(UsageError, match="must be of one commit"):
        pool_runs([first, _run("c", [], commit="def")], "NEW")
    with pytest.raises(UsageError, match="run a is named more than once"):
        pool_runs([first, second, first], "BASE")


@pytest.mark.parametrize("text,value", [("10%", 0.1), ("0.05", 0.05), ("2.5%", 0.025)])
def test_threshold_forms(text, value):
    assert parse_fraction("--threshold", text) == pytest.approx(value)


#: exported stats that depend on the quartiles: rnnbench's (stats.Summary), not pytest-benchmark's
QUARTILE_KEYS = {"q1", "q3", "iqr", "iqr_outliers", "ld15iqr", "hd15iqr", "outliers"}


@pytest.mark.parametrize("n", [1, 2, 5, 8, 9, 10, 11, 33])
def test_exported_stats_match_pytest_benchmark(n):
    from pytest_benchmark.stats import Stats

    data = lognormal(1e-3, 0.3, n, seed=n)
    reference = Stats()
    for x in data:
        reference.update(x)
    ours = benchmark_stats(data, iterations=7)
    for key, expected in reference.as_dict().items():
        if key not in QUARTILE_KEYS and key != "iterations":
            assert ours[key] == pytest.approx(expected), key
    summary = Summary.of(data)
    assert (ours["median"], ours["q1"], ours["q3"]) == (summary.median, summary.q1, summary.q3)
    assert ours["iqr"] == pytest.approx(summary.iqr)
    # Tukey's fences around rnnbench's quartiles
    low, high = summary.q1 - 1.5 * summary.iqr, summary.q3 + 1.5 * summary.iqr
    assert ours["iqr_outliers"] == sum(1 for x in data if x < low or x > high)
    assert ours["ld15iqr"] == min(x for x in data if x >= low) and ours["hd15iqr"] == max(x for x in data if x <= high)
    assert ours["data"] == data and ours["iterations"] == 7


def test_environment_differences_are_reported_beside_the_cases():
    base = LoadedRun(RunInfo(run_id="b", folder=None, env={"threads": 2, "versions": {"torch": "2.12.0"}}),
                     [_result(0, 0.9)], "test")
    new = LoadedRun(RunInfo(run_id="n", folder=None, env={"threads": 1, "versions": {"torch": "2.13.0"}}),
                    [_result(0, 0.9)], "test")
    comparison = compare_runs(base, new)
    assert comparison.env_differences == {"threads": ("2", "1"), "torch": ("2.12.0", "2.13.0")}
    # the case id ignores the environment: the case still matched
    assert not comparison.only_in_base and _row(comparison, "params").verdict == "same"


def _quality(seed, value, primary="mse", higher=False, bounded=None):
    details = {"primary_metric": primary, "higher_is_better": higher}
    if bounded is not None:
        details["primary_metric_bounded"] = bounded
    return CaseResult(config=_case(seed), metrics=[Metric("train", f"eval_{primary}", value, "")], details=details)


def test_a_regression_metric_is_compared_lower_is_better_on_a_relative_scale():
    base = _run("b", [_quality(0, 0.0315)])
    worse = _row(compare_runs(base, _run("n", [_quality(0, 0.0315 * 1.5)])), "eval_mse")
    assert worse.verdict == "worse" and worse.regression
    assert worse.tolerance == pytest.approx(0.00315) and "lower is better" in worse.rule and "unbounded" in worse.rule
    assert _row(compare_runs(base, _run("n", [_quality(0, 0.0315 / 2)])), "eval_mse").verdict == "better"
    assert _row(compare_runs(base, _run("n", [_quality(0, 0.0315 * 1.05)])), "eval_mse").verdict == "same"
    # a task may say its lower-is-better metric is bounded (an error rate): then the absolute tolerance
    rate = _row(compare_runs(_run("b", [_quality(0, 0.10, "error_rate", bounded=True)]),
                             _run("n", [_quality(0, 0.11, "error_rate", bounded=True)])), "eval_error_rate")
    assert rate.verdict == "same" and rate.tolerance == 0.02 and "bounded metric" in rate.rule


def test_accuracy_stays_higher_is_better_and_absolute():
    row = _row(compare_runs(_run("b", [_result(0, 0.90)]), _run("n", [_result(0, 0.95)])), "eval_accuracy")
    assert row.verdict == "better" and "higher is better" in row.rule and "absolute" in row.rule


def test_compare_reads_the_busy_flag_stored_with_each_row_and_counts_it():
    from rnnbench.render.compare import summary_line

    def run(run_id, median, others_cpu_s):
        result = _result(0, 0.9, latency=lognormal(median, 0.02, 60, int(median * 1e4)))
        result.worker = {"threads": 1, "load": {"wall_s": 10.0, "own_cpu_s": 9.0, "others_cpu_s": others_cpu_s,
                                                "cores": 2, "load_average_1min_end": None}}
        return _run(run_id, [result])

    def quiet_history(run):
        return {key: QUIET for key in timed_keys(run)}

    quiet, slower_busy = run("b", 1e-3, 1.0), run("n", 1.3e-3, 19.0)  # others kept 0.1 and 1.9 of 2 CPUs busy
    comparison = compare_runs(quiet, slower_busy, history=quiet_history(slower_busy))
    row = _row(comparison, "latency_s")
    assert row.verdict == "noisy" and "NEW other processes kept 1.9 of 2 CPUs busy, the case needed 1" in row.note
    assert comparison.busy == 1 and "1 undecided because the machine was busy" in summary_line(comparison)
    slower_quiet = run("n", 1.3e-3, 1.0)
    assert _row(compare_runs(quiet, slower_quiet, history=quiet_history(slower_quiet)), "latency_s").verdict == "slower"


def test_an_accuracy_trained_on_other_thread_counts_says_a_seed_reproduces_at_a_fixed_count_only():
    def on(threads, value):
        result = _result(0, value)
        result.worker = {"threads": threads}
        return result

    row = _row(compare_runs(_run("b", [on(1, 0.973)]), _run("n", [on(2, 0.981)])), "eval_accuracy")
    assert "trained on 1 vs 2 thread(s): a seed reproduces its accuracy at a fixed thread count only" in row.note
    same = _row(compare_runs(_run("b", [on(1, 0.973)]), _run("n", [on(1, 0.981)])), "eval_accuracy")
    assert "thread" not in same.note


def test_the_calibration_warning_names_the_load_when_a_run_was_flagged_busy():
    from rnnbench.analysis.compare.comparison import Comparison, CompareSettings
    from rnnbench.render.compare import _calibration_cause

    def run(run_id, others_cpu_s):
        result = _result(0, 0.9)
        result.worker = {"threads": 1, "load": {"wall_s": 10.0, "own_cpu_s": 9.0, "others_cpu_s": others_cpu_s,
                                                "cores": 2, "load_average_1min_end": None}}
        return _run(run_id, [result])

    quiet, busy = run("b", 1.0), run("n", 19.0)
    assert _calibration_cause(Comparison(quiet, quiet, CompareSettings())) == "different or throttled machines"
    cause = _calibration_cause(Comparison(quiet, busy, CompareSettings()))
    assert cause.startswith("the machine was busy during NEW") and "throttled" not in cause
