"""Verdict logic on fabricated result tables: each outcome, each reason for 'inconclusive'."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rnnbench.analysis.studies import evaluate
from rnnbench.analysis.verdicts import all_of, compare, threshold
from rnnbench.records import CaseConfig, CaseResult, Metric, RunInfo
from rnnbench.study_api import (
    INCONCLUSIVE, MIXED, NOT_SUPPORTED, SUPPORTED, Claim, ClaimOutcome, StudyData, StudySpec, StudySweep, SweepData,
    Verdict,
)
from rnnbench.execution.runner import build_model, build_task
from rnnbench.studies.rnn_claims import decode, gradients, language, length, memory, speed
from rnnbench.studies.rnn_claims.sweeps import FULL, QUICK


# -- the primitives -------------------------------------------------------------------------

def test_compare_supported_when_the_interval_clears_the_factor():
    v = compare("rnn", {0: 0.30, 1: 0.28, 2: 0.31}, "lstm", {0: 0.05, 1: 0.10, 2: 0.07}, factor=2.0)
    assert v.status == SUPPORTED, v.reason
    assert "rnn − 2 × lstm = 0.15, 95% interval [" in v.reason and "Welch t" in v.reason
    assert v.test is not None and v.test.claimed_sign == 1


def test_compare_not_supported_when_the_interval_lies_on_the_other_side():
    v = compare("rnn", {0: 0.10, 1: 0.12, 2: 0.11}, "lstm", {0: 0.10, 1: 0.11, 2: 0.10}, factor=2.0)
    assert v.status == NOT_SUPPORTED, v.reason


def test_compare_inconclusive_when_the_interval_straddles():
    v = compare("rnn", {0: 0.30, 1: 0.15, 2: 0.2}, "lstm", {0: 0.10, 1: 0.10, 2: 0.08}, factor=2.0)
    assert v.status == INCONCLUSIVE and "straddles zero" in v.reason


def test_every_seed_on_one_side_is_not_enough_with_a_wide_spread():
    # the old rule ("every seed on one side") said supported here; three seeds this spread do not decide it
    v = compare("a", {0: 1.0, 1: 3.0, 2: 5.0}, "b", {0: 0.0, 1: 0.9, 2: 0.5})
    assert v.status == INCONCLUSIVE, v.reason


def test_too_few_seeds_and_a_missing_seed_are_inconclusive():
    few = compare("rnn", {0: 1.0, 1: 1.1}, "lstm", {0: 0.1, 1: 0.1})
    assert few.status == INCONCLUSIVE and "needs at least 3" in few.reason
    missing = compare("rnn", {0: 1.0, 1: None, 2: 1.0}, "lstm", {0: 0.1, 1: 0.1, 2: 0.1})
    assert missing.status == INCONCLUSIVE and "seed(s) 1" in missing.reason
    nan = threshold("x", {0: float("nan"), 1: 0.0, 2: 0.0}, 0.5, above=False)
    assert nan.status == INCONCLUSIVE


def test_compare_below():
    assert compare("transformer", {0: 2.0, 1: 2.1, 2: 2.05}, "lstm", {0: 2.5, 1: 2.6, 2: 2.55},
                   above=False).status == SUPPORTED
    assert compare("transformer", {0: 2.7, 1: 2.8, 2: 2.75}, "lstm", {0: 2.5, 1: 2.6, 2: 2.55},
                   above=False).status == NOT_SUPPORTED


def test_threshold_each_outcome():
    assert threshold("acc", {0: 0.9, 1: 0.95, 2: 0.92}, 0.5, above=True).status == SUPPORTED
    assert threshold("acc", {0: 0.1, 1: 0.2, 2: 0.15}, 0.5, above=True).status == NOT_SUPPORTED
    assert threshold("acc", {0: 0.1, 1: 0.9, 2: 0.5}, 0.5, above=True).status == INCONCLUSIVE


def test_all_of_is_the_four_valued_and():
    s, n, i = Verdict(SUPPORTED, "s"), Verdict(NOT_SUPPORTED, "n"), Verdict(INCONCLUSIVE, "i")
    assert all_of([s, s]).status == SUPPORTED
    assert all_of([s, i]).status == INCONCLUSIVE
    assert all_of([i, n]).status == NOT_SUPPORTED and all_of([i, n]).reason == "n"
    mixed = all_of([i, n, s])
    assert mixed.status == MIXED and "supported (1): s" in mixed.reason and "not supported (1): n" in mixed.reason
    assert all_of([]).status == INCONCLUSIVE


def test_all_of_corrects_the_parts_by_holm():
    """A part against the claim at p = 0.038 is decided alone, but not beside an undecided part (Holm: 0.025)."""
    weak = compare("a", {0: 0.0, 1: 0.1, 2: 0.2}, "b", {0: 0.25, 1: 0.35, 2: 0.45})
    undecided = compare("c", {0: 1.0, 1: 0.1, 2: 0.5}, "d", {0: 0.5, 1: 0.6, 2: 0.2})
    assert weak.status == NOT_SUPPORTED and 0.025 < weak.test.p_value < 0.05
    combined = all_of([weak, undecided])
    assert combined.status == INCONCLUSIVE, combined.reason
    assert combined.parts[0].status == INCONCLUSIVE and "Holm level over 2 tested parts" in combined.parts[0].reason
    # beside a strong part (p < 0.025), Holm's step-down tests the weak one at 0.05 and decides it: mixed
    strong = compare("e", {0: 1.0, 1: 1.1, 2: 1.2}, "f", {0: 0.0, 1: 0.1, 2: 0.05})
    both = all_of([weak, strong])
    assert both.status == MIXED and [p.status for p in both.parts] == [NOT_SUPPORTED, SUPPORTED], both.reason


# -- fabricated result tables through the rnn-claims analyses -------------------------------

def case(arch: str, seed: int, metrics: dict[tuple[str, str], float | None], *, task: str = "copy",
         seq_len: int = 20, status: str = "ok", family: str = "recurrent", **config) -> CaseResult:
    cfg = CaseConfig(model=f"{arch}@torch", task=task, task_options=(), seq_len=seq_len, batch_size=32,
                     hidden=64, layers=1, device="cpu", dtype="float32", seed=seed, steps=100, lr=2e-3, **config)
    return CaseResult(config=cfg, status=status, error="" if status == "ok" else "RuntimeError: boom",
                      metrics=[Metric(sc, name, value) for (sc, name), value in
                               {("model", "params"): 1000.0, **metrics}.items()],
                      details={"family": family, "total_seq_len": seq_len})


def study_data(tmp_path: Path, sweeps: dict[str, list[CaseResult]]) -> StudyData:
    run = RunInfo(run_id="r1", folder=tmp_path, env={"cpu": "test CPU", "cpu_count": 2, "threads": 2},
                  settings={"executor": "local", "threads": 2})
    return StudyData("rnn-claims", "quick",
                     {name: SweepData(StudySweep(name, {}), run, results) for name, results in sweeps.items()},
                     folder=tmp_path, env=run.env)


def gradient_cases(decays: dict[str, list[float]], se: float = 0.005) -> list[CaseResult]:
    out = []
    for arch, per_seed in decays.items():
        for seed, d in enumerate(per_seed):
            out.append(case(arch, seed, {
                ("gradients", "decay_per_step_init"): d, ("gradients", "decay_per_step_init_se"): se,
                ("gradients", "decay_per_step_trained"): d, ("gradients", "decay_per_step_trained_se"): se}))
    return out


@pytest.mark.parametrize("decays, expected", [
    ({"rnn": [0.30, 0.32, 0.31], "lstm": [0.05, 0.06, 0.05], "gru": [0.04, 0.07, 0.05]}, SUPPORTED),
    ({"rnn": [0.0, 0.01, -0.01], "lstm": [0.05, 0.06, 0.05], "gru": [0.04, 0.07, 0.05]}, NOT_SUPPORTED),
    # the RNN's gradient vanishes, but not 2x faster than the gated models': the parts disagree
    ({"rnn": [0.05, 0.06, 0.055], "lstm": [0.05, 0.06, 0.05], "gru": [0.04, 0.07, 0.05]}, MIXED),
    ({"rnn": [0.30, 0.09, 0.2], "lstm": [0.05, 0.06, 0.05], "gru": [0.04, 0.07, 0.05]}, INCONCLUSIVE),
])
def test_vanishing_gradient_claim_each_outcome(tmp_path, decays, expected):
    data = study_data(tmp_path, {"gradients": gradient_cases(decays)})
    outcome = gradients.analyze(data)
    assert outcome.verdict.status == expected, outcome.verdict.reason
    assert outcome.table is not None and [row[0] for row in outcome.table[1]] == ["rnn", "lstm", "gru"]


def test_vanishing_gradient_claim_with_one_seed_is_inconclusive(tmp_path):
    data = study_data(tmp_path, {"gradients": gradient_cases({"rnn": [0.3], "lstm": [0.05], "gru": [0.05]})})
    verdict = gradients.analyze(data).verdict
    assert verdict.status == INCONCLUSIVE and "needs at least 3" in verdict.reason


def lm_cases(bpc: dict[str, list[float]], budget: str = "time") -> list[CaseResult]:
    terms = {"time_budget_s": 4.0} if budget == "time" else {"flops_budget": 8e10}
    return [case(arch, seed, {("train", "eval_bits_per_char"): v, ("train", "steps_reached"): 100.0,
                              ("train", "time_s"): 4.0, ("train", "cpu_time_s"): 3.9, ("train", "flops"): 7.9e10},
                 task="lm", family="attention" if arch == "transformer" else "recurrent", **terms)
            for arch, values in bpc.items() for seed, v in enumerate(values)]


def lm_data(tmp_path: Path, groups: dict[tuple[str, str], dict[str, list[float]]],
            default: dict[str, list[float]]) -> StudyData:
    """Claim 5's six sweeps: ``groups`` for the (budget, size) pairs named, ``default`` elsewhere."""
    return study_data(tmp_path, {language.lm_sweep(b, s): lm_cases(groups.get((b, s), default), b)
                                 for b in language.BUDGETS for s in language.SIZES})


TRANSFORMER_AHEAD = {"lstm": [2.9, 3.0, 2.95], "gru": [2.95, 3.05, 3.0], "transformer": [2.5, 2.6, 2.55]}
LSTM_AHEAD = {"lstm": [2.2, 2.25, 2.22], "gru": [2.95, 3.05, 3.0], "transformer": [2.5, 2.6, 2.55]}


@pytest.mark.parametrize("groups, default, expected", [
    ({}, TRANSFORMER_AHEAD, SUPPORTED),
    # the Languini pattern: the LSTM ahead at the small size, the Transformer at the others
    ({("time", "small"): LSTM_AHEAD, ("flops", "small"): LSTM_AHEAD}, TRANSFORMER_AHEAD, MIXED),
    ({}, {"lstm": [2.55, 3.0, 2.3], "gru": [2.95, 3.05, 3.0], "transformer": [2.5, 2.6, 2.55]}, INCONCLUSIVE),
    ({}, {"lstm": [2.0, 2.05, 2.02], "gru": [1.95, 2.05, 2.0], "transformer": [2.5, 2.6, 2.55]}, NOT_SUPPORTED),
])
def test_language_model_claim_each_outcome(tmp_path, groups, default, expected):
    outcome = language.analyze(lm_data(tmp_path, groups, default))
    assert outcome.verdict.status == expected, outcome.verdict.reason
    assert len(outcome.verdict.parts) == 6  # one verdict per (budget, size) group
    assert {row[0] for row in outcome.table[1]} == {"equal wall clock", "equal FLOPs"}


def test_the_mixed_language_verdict_names_each_group(tmp_path):
    verdict = language.analyze(lm_data(tmp_path, {("time", "small"): LSTM_AHEAD}, TRANSFORMER_AHEAD)).verdict
    assert verdict.status == MIXED
    # the LSTM ahead, the GRU behind: the group is mixed, and says which part went which way
    assert "small (width 64), equal wall clock (4 s): mixed" in verdict.reason, verdict.reason
    assert "large (width 64), equal FLOPs (8e+10 FLOPs): supported" in verdict.reason, verdict.reason


def test_unequal_parameters_make_an_equal_parameter_claim_inconclusive_with_the_counts(tmp_path):
    # the quick lm sweep: the Transformer at 63,528 parameters against the LSTM's 46,696
    cases = lm_cases(TRANSFORMER_AHEAD)
    for r in cases:
        counts = {"lstm": 46696.0, "gru": 46000.0, "transformer": 63528.0}
        r.metrics = [m if m.name != "params" else Metric("model", "params", counts[r.config.arch]) for m in r.metrics]
    data = lm_data(tmp_path, {}, TRANSFORMER_AHEAD)
    data.sweeps[language.lm_sweep("time", "medium")].results[:] = cases
    verdict = language.analyze(data).verdict
    assert verdict.status == INCONCLUSIVE, verdict.reason  # five groups supported, one undecided
    medium = next(p for p in verdict.parts if p.reason.startswith("medium (width 64), equal wall clock"))
    assert medium.status == INCONCLUSIVE
    assert "parameter counts differ by 38%" in medium.reason and "63,528" in medium.reason, medium.reason


@pytest.mark.parametrize("budget, metric_name, value, undecided", [
    ("time", "time_s", 30.0, True),      # an equal-time group needs equal wall clock
    ("flops", "flops", 2e11, True),      # an equal-FLOPs group needs equal FLOPs
    ("flops", "time_s", 30.0, False),    # but not equal wall clock: a model slow per FLOP takes longer
])
def test_an_unequal_budget_makes_its_group_inconclusive(tmp_path, budget, metric_name, value, undecided):
    data = lm_data(tmp_path, {}, TRANSFORMER_AHEAD)
    cases = data.sweeps[language.lm_sweep(budget, "large")].results
    cases[0].metrics = [m if m.name != metric_name else Metric("train", metric_name, value) for m in cases[0].metrics]
    verdict = language.analyze(data).verdict
    assert (verdict.status == INCONCLUSIVE) == undecided, verdict.reason
    if undecided:
        assert "differ" in verdict.reason and "large" in verdict.reason, verdict.reason


@pytest.mark.parametrize("profile", [QUICK, FULL])
def test_the_flops_budgets_are_the_stated_lstm_steps(registry, profile):
    """sweeps.py states each FLOPs budget as about lm_flops_steps LSTM steps at that width: keep it true."""
    for width, budget in zip(profile.lm_widths, profile.lm_flops):
        config = CaseConfig(model="lstm@torch", task="lm", task_options=(("corpus", ""),), seq_len=128, batch_size=32,
                            hidden=width, layers=1, device="cpu", dtype="float32", seed=0, steps=1, lr=3e-3)
        task = build_task(config, registry)
        model = build_model(config, registry, task)
        steps = budget / model.flops(task.shape.seq_len, 32, training=True)
        assert steps == pytest.approx(profile.lm_flops_steps, rel=0.15), (width, steps)


def recall_cases(acc: dict[str, list[float]]) -> list[CaseResult]:
    return [case(arch, seed, {("train", "eval_accuracy"): v, ("train", "baseline_accuracy"): 1 / 32,
                              ("decode", "state_bytes"): 1024.0}, task="associative_recall")
            for arch, values in acc.items() for seed, v in enumerate(values)]


def test_recall_claim_supported_and_not(tmp_path):
    good = decode.analyze_recall(study_data(tmp_path, {"recall": recall_cases(
        {"lstm": [0.2, 0.25, 0.22], "gru": [0.3, 0.2, 0.25], "transformer": [0.99, 1.0, 0.98]})}))
    assert good.verdict.status == SUPPORTED
    bad = decode.analyze_recall(study_data(tmp_path, {"recall": recall_cases(
        {"lstm": [0.99, 1.0, 0.98], "gru": [0.9, 0.8, 0.85], "transformer": [0.5, 0.6, 0.55]})}))
    assert bad.verdict.status == NOT_SUPPORTED
    split = decode.analyze_recall(study_data(tmp_path, {"recall": recall_cases(
        {"lstm": [0.99, 1.0, 0.98], "gru": [0.3, 0.2, 0.25], "transformer": [0.5, 0.6, 0.55]})}))
    assert split.verdict.status == MIXED
    at_chance = decode.analyze_recall(study_data(tmp_path, {"recall": recall_cases(
        {"lstm": [0.034, 0.036, 0.035], "gru": [0.03, 0.031, 0.03], "transformer": [0.030, 0.032, 0.031]})}))
    assert at_chance.verdict.status == INCONCLUSIVE and "nothing was learned" in at_chance.verdict.reason


def delay_cases(task: str, metric: str, baseline: float, scores: dict[str, dict[int, list[float]]]):
    return [case(arch, seed, {("train", f"eval_{metric}"): v, ("train", f"baseline_{metric}"): baseline},
                 task=task, seq_len=delay)
            for arch, by_delay in scores.items() for delay, values in by_delay.items()
            for seed, v in enumerate(values)]


def test_long_term_dependency_claim_supported_and_budget_too_small(tmp_path):
    copy = delay_cases("copy", "accuracy", 0.125, {
        "rnn": {10: [1.0, 0.99, 1.0], 30: [0.2, 0.3, 0.25]},
        "lstm": {10: [1.0, 1.0, 1.0], 30: [0.99, 0.98, 0.99]},
        "gru": {10: [1.0, 1.0, 1.0], 30: [1.0, 0.97, 0.99]},
    })
    adding = delay_cases("adding", "mse", 0.167, {
        "rnn": {10: [0.005, 0.008, 0.006], 30: [0.16, 0.17, 0.16]},
        "lstm": {10: [0.001, 0.002, 0.001], 30: [0.005, 0.01, 0.007]},
        "gru": {10: [0.001, 0.002, 0.001], 30: [0.003, 0.004, 0.003]},
    })
    outcome = memory.analyze_long(study_data(tmp_path, {"copy-delays": copy, "adding-delays": adding}))
    assert outcome.verdict.status == SUPPORTED, outcome.verdict.reason
    hopeless = delay_cases("adding", "mse", 0.167, {a: {10: [0.17, 0.16, 0.165]} for a in ("rnn", "lstm", "gru")})
    outcome = memory.analyze_long(study_data(tmp_path, {"copy-delays": copy, "adding-delays": hopeless}))
    assert outcome.verdict.status == INCONCLUSIVE and "budget is too small" in outcome.verdict.reason
    # the RNN fails at every delay, the shortest included: nothing shows its failure depends on the delay
    everywhere = delay_cases("adding", "mse", 0.167, {
        "rnn": {10: [0.1, 0.12, 0.11], 30: [0.16, 0.17, 0.16]},
        "lstm": {10: [0.001, 0.002, 0.001], 30: [0.005, 0.01, 0.007]},
        "gru": {10: [0.001, 0.002, 0.001], 30: [0.003, 0.004, 0.003]},
    })
    outcome = memory.analyze_long(study_data(tmp_path, {"copy-delays": copy, "adding-delays": everywhere}))
    assert outcome.verdict.status == INCONCLUSIVE and "not shown to depend on the delay" in outcome.verdict.reason
    assert any("lstm solves every delay of the grid" in line for line in outcome.setup)


# -- the rules every claim shares -----------------------------------------------------------

def _spec(analyze) -> StudySpec:
    claim = Claim(key="c", title="a claim", quote="a sentence", criterion="supported when it holds",
                  sweeps=("s",), analyze=analyze)
    return StudySpec(name="t", description="d", claims=(claim,), profiles={"quick": (StudySweep("s", {}),)})


def test_a_failed_case_makes_the_claim_inconclusive_whatever_the_analysis_says(tmp_path):
    results = [case("lstm", 0, {}), case("gru", 0, {}, status="error")]
    data = study_data(tmp_path, {"s": results})
    [result] = evaluate(_spec(lambda d: ClaimOutcome(Verdict(SUPPORTED, "fine"))), data)
    assert result.verdict.status == INCONCLUSIVE
    assert "gru@torch" in result.verdict.reason and "error" in result.verdict.reason
    assert any("would say supported" in line for line in result.verdict.evidence)


def test_a_stopped_sweep_and_a_raising_analysis_are_inconclusive(tmp_path):
    data = study_data(tmp_path, {"s": [case("lstm", 0, {})]})
    data.sweeps["s"].expected = 3
    [result] = evaluate(_spec(lambda d: ClaimOutcome(Verdict(SUPPORTED, "fine"))), data)
    assert result.verdict.status == INCONCLUSIVE and "1 of 3 cases" in result.verdict.reason

    def broken(d):
        raise KeyError("eval_accuracy")

    data.sweeps["s"].expected = None
    [result] = evaluate(_spec(broken), data)
    assert result.verdict.status == INCONCLUSIVE and "analysis failed: KeyError" in result.verdict.reason


def test_spec_validation_names_what_is_wrong():
    with pytest.raises(ValueError, match="lacks"):
        claim = Claim(key="c", title="t", quote="q", criterion="c", sweeps=("missing",), analyze=lambda d: None)
        StudySpec(name="t", description="d", claims=(claim,), profiles={"quick": ()}).validate()
    with pytest.raises(ValueError, match="chosen by 'rnnbench study run'"):
        StudySweep("s", {"executor": "dask"}).validate()


def test_sweep_flags_become_run_arguments():
    sweep = StudySweep("s", {"models": "lstm,gru", "seq_len": [10, 30], "match_params": True,
                             "task_opt": ["copy.num_symbols=5"], "no_thing": False})
    assert sweep.argv() == ["--models", "lstm,gru", "--seq-len", "10,30", "--match-params",
                            "--task-opt", "copy.num_symbols=5"]
    assert sweep.fingerprint("x", "quick") == StudySweep("s", dict(reversed(sweep.flags.items()))).fingerprint(
        "x", "quick")
    assert sweep.fingerprint("x", "quick") != sweep.fingerprint("x", "full")
    # a device asked for on the command line is other work: its own runs; none keeps the old fingerprint
    assert sweep.fingerprint("x", "quick", "cuda") != sweep.fingerprint("x", "quick")
    assert sweep.fingerprint("x", "quick", None) == sweep.fingerprint("x", "quick")


def length_cases(task: str, trained_at: int, accuracies: dict[str, list[tuple[float, float, float]]]):
    """Per model and seed: accuracy at T, 2T and 4T."""
    out = []
    for arch, per_seed in accuracies.items():
        for seed, accs in enumerate(per_seed):
            metrics = {("train", "baseline_accuracy"): 0.125, ("train", "eval_accuracy"): accs[0]}
            for factor, acc in zip((1, 2, 4), accs):
                metrics[("train", f"eval_accuracy_len{factor * trained_at}")] = acc
            out.append(case(arch, seed, metrics, task=task, seq_len=trained_at))
    return out


@pytest.mark.parametrize("lstm, expected", [
    ([(0.99, 0.97, 0.95), (1.0, 0.98, 0.96), (0.99, 0.98, 0.96)], SUPPORTED),
    # the GRU generalises, the LSTM does not: mixed, with a verdict per model
    ([(0.99, 0.5, 0.2), (1.0, 0.4, 0.2), (0.99, 0.45, 0.25)], MIXED),
    ([(0.99, 0.95, 0.85), (1.0, 0.95, 0.95), (0.99, 0.9, 0.7)], INCONCLUSIVE),  # the 4T interval straddles
    ([(0.2, 0.2, 0.2), (0.15, 0.15, 0.15), (0.2, 0.1, 0.1)], INCONCLUSIVE),  # not learned at T: nothing to generalise
])
def test_length_generalisation_claim_each_outcome(tmp_path, lstm, expected):
    good = [(0.99, 0.98, 0.97), (0.99, 0.99, 0.97), (0.99, 0.98, 0.98)]
    sweeps = {name: length_cases(task, t, {"lstm": lstm, "gru": good, "transformer": [(1, 0.1, 0.1)] * 3})
              for name, task, t in (("lengthgen-copy", "copy", 10), ("lengthgen-selective", "selective_copy", 16))}
    outcome = length.analyze(study_data(tmp_path, sweeps))
    assert outcome.verdict.status == expected, outcome.verdict.reason
    assert [p.reason.split(":")[0] for p in outcome.verdict.parts] == ["lstm", "gru"]


def test_length_generalisation_fails_for_both_models_is_not_supported(tmp_path):
    bad = [(0.99, 0.5, 0.2), (1.0, 0.4, 0.2), (0.99, 0.45, 0.25)]
    sweeps = {name: length_cases(task, t, {"lstm": bad, "gru": bad})
              for name, task, t in (("lengthgen-copy", "copy", 10), ("lengthgen-selective", "selective_copy", 16))}
    assert length.analyze(study_data(tmp_path, sweeps)).verdict.status == NOT_SUPPORTED


def speed_cases(time_ratio: float, flops_ratio: float = 1.0, scan_ratio: float = 0.5,
                lengths=(64, 256, 1024)) -> list[CaseResult]:
    """3 seeds; lstm and gru at 1 ms per step, the transformer at ``time_ratio`` times that doing
    ``flops_ratio`` times their FLOPs, mingru at ``scan_ratio`` times the gru's time; 12 repeats, ±2%."""
    out = []
    for seq_len in lengths:
        for seed in range(3):
            for k, (arch, base, flops) in enumerate((("lstm", 1e-3, 1e6), ("gru", 1e-3, 1e6),
                                                     ("transformer", time_ratio * 1e-3, flops_ratio * 1e6),
                                                     ("mingru", scan_ratio * 1e-3, 1e6))):
                # a drift per seed and model: seeds without any spread in a ratio decide nothing (issue 36)
                drift = 1 + 0.005 * ((seed * 7 + k * 3) % 5 - 2)
                times = [drift * base * (1 + 0.02 * ((i % 5) - 2) / 2) for i in range(12)]
                result = case(arch, seed, {}, task="lm", seq_len=seq_len)
                result.metrics = [Metric("train", "step_time_s", times[6], samples=times),
                                  Metric("train", "gflops", flops / times[6] / 1e9),
                                  Metric("forward", "latency_s", times[6], samples=times),
                                  Metric("model", "params", 1000.0)]
                out.append(result)
    return out


def speed_data(tmp_path: Path, cases: list[CaseResult]) -> StudyData:
    """The speed sweep and its same-model control: minGRU's sequential loop at the GRU's times."""
    sequential = [dataclasses.replace(r, config=dataclasses.replace(
        r.config, model="mingru@torch", model_options=(("scan", "sequential"),)))
        for r in cases if r.config.arch == "gru"]
    return study_data(tmp_path, {"speed": cases, speed.SEQUENTIAL_SWEEP: sequential})


@pytest.mark.parametrize("speeds, expected", [
    (dict(time_ratio=0.5), SUPPORTED),
    (dict(time_ratio=3.0, scan_ratio=2.0), NOT_SUPPORTED),
    # slower per token, but the Transformer does 4x the arithmetic and the scan is faster: the groups disagree
    (dict(time_ratio=2.0, flops_ratio=4.0), MIXED),
])
def test_sequential_training_claim_a_verdict_per_group_on_this_cpu(tmp_path, speeds, expected):
    outcome = speed.analyze(speed_data(tmp_path, speed_cases(**speeds)))
    verdict = outcome.verdict
    assert verdict.status == expected, verdict.reason
    assert verdict.label == f"{expected} on this CPU, 1k parameters, timed, not trained to a quality"
    assert f"{expected} on this CPU (test CPU" in verdict.reason
    assert [p.reason.split(":")[0] for p in verdict.parts] == ["slow", "at matched FLOPs", "because sequential"]


def test_sequential_training_without_the_parallel_scan_control_is_not_decided(tmp_path):
    cases = [r for r in speed_cases(0.5) if r.config.arch != "mingru"]
    verdict = speed.analyze(study_data(tmp_path, {"speed": cases})).verdict
    assert verdict.status == INCONCLUSIVE and "the same-model control" in verdict.reason


def test_vanishing_gradient_claim_has_a_verdict_per_initialisation_regime(tmp_path):
    default = gradient_cases({"rnn": [0.30, 0.32, 0.31], "lstm": [0.05, 0.06, 0.05], "gru": [0.04, 0.07, 0.05]})
    vanishing = gradient_cases({"rnn": [0.9, 0.95, 0.93], "lstm": [0.2, 0.1, 0.15], "gru": [0.25, 0.3, 0.28]})
    # exploding: the RNN's gradient grows with distance; the gated models' barely change
    exploding = gradient_cases({"rnn": [-0.27, -0.28, -0.27], "lstm": [0.01, -0.03, -0.04], "gru": [0.02, -0.02, 0.01]})
    # norm-preserving: the RNN decays no faster than the GRU (the finding)
    edge = gradient_cases({"rnn": [0.30, 0.33, 0.35], "lstm": [0.05, 0.06, 0.05], "gru": [0.28, 0.31, 0.33]})
    sweeps = {"gradients": default, gradients.regime_sweep(0.5): vanishing, gradients.regime_sweep(1.0): edge,
              gradients.regime_sweep(3.0): exploding}
    verdict = gradients.analyze(study_data(tmp_path, sweeps)).verdict
    regimes = {p.reason.split(":")[0]: p.status for p in verdict.parts}
    assert regimes == {"default init, at initialisation": SUPPORTED, "default init, after training": SUPPORTED,
                       "orthogonal init, radius 0.5": SUPPORTED, "orthogonal init, radius 1": MIXED,
                       "orthogonal init, radius 3": SUPPORTED}, verdict.reason
    assert verdict.status == MIXED


def test_recall_reports_the_state_size_sweep_as_accuracy_against_state_bytes(tmp_path):
    equal = recall_cases({"lstm": [0.2, 0.25, 0.22], "gru": [0.3, 0.2, 0.25], "transformer": [0.99, 1.0, 0.98]})
    widths = []
    for hidden, acc in ((32, 0.1), (256, 0.8)):
        for r in recall_cases({"lstm": [acc] * 3}):
            r.config = dataclasses.replace(r.config, hidden=hidden)
            r.metrics = [m if m.name != "state_bytes" else Metric("decode", "state_bytes", 8.0 * hidden)
                         for m in r.metrics]
            widths.append(r)
    outcome = decode.analyze_recall(study_data(tmp_path, {"recall": equal, "recall-widths": widths}))
    assert outcome.verdict.status == SUPPORTED
    rows = {row[0]: row for row in outcome.table[1]}
    assert rows["lstm width 32"][1:] == ["0.1, 0.1, 0.1", "256"] and rows["lstm width 256"][2] == "2,048"


def test_the_grus_copy_result_is_not_decided_by_the_solved_line_alone(tmp_path):
    """The GRU just under the 'solved' line (0.904 < 0.9125) at delay 1 but the best at delay 10 (issue 36):
    the old rule counted it as solving no delay, with zero spread and p = 0; the area reads every delay."""
    copy = delay_cases("copy", "accuracy", 0.125, {
        "rnn": {1: [0.95, 0.96, 0.95], 3: [0.60, 0.55, 0.62], 10: [0.30, 0.28, 0.33], 30: [0.2, 0.21, 0.19]},
        "lstm": {1: [0.95, 0.94, 0.96], 3: [0.93, 0.92, 0.93], 10: [0.59, 0.60, 0.58], 30: [0.30, 0.31, 0.29]},
        "gru": {1: [0.904, 0.903, 0.905], 3: [0.90, 0.89, 0.90], 10: [0.81, 0.80, 0.82], 30: [0.43, 0.44, 0.42]},
    })
    adding = delay_cases("adding", "mse", 0.167, {
        "rnn": {2: [0.005, 0.008, 0.006], 30: [0.16, 0.17, 0.16]},
        "lstm": {2: [0.001, 0.002, 0.001], 30: [0.005, 0.01, 0.007]},
        "gru": {2: [0.001, 0.002, 0.001], 30: [0.003, 0.004, 0.003]},
    })
    outcome = memory.analyze_long(study_data(tmp_path, {"copy-delays": copy, "adding-delays": adding}))
    gru_copy = [p for p in outcome.verdict.parts if p.reason.startswith("copy") and "gru" in p.reason.split(":")[1]]
    assert gru_copy and gru_copy[0].status == SUPPORTED, outcome.verdict.reason
    assert outcome.verdict.status == SUPPORTED, outcome.verdict.reason
    assert "p = 0 " not in outcome.verdict.reason and "p = 0)" not in outcome.verdict.reason


def _with(results: list[CaseResult], metrics: dict[tuple[str, str], float], **config) -> list[CaseResult]:
    """The cases with extra metrics and config fields (an lr grid, a parameter count)."""
    out = []
    for r in results:
        extra = [Metric(sc, name, v) for (sc, name), v in metrics.items()]
        kept = [m for m in r.metrics if (m.scenario, m.name) not in metrics]
        out.append(dataclasses.replace(r, metrics=kept + extra, config=dataclasses.replace(r.config, **config)))
    return out


def test_a_learning_rate_chosen_at_the_edge_of_its_grid_leaves_the_part_undecided(tmp_path):
    """Every model chose the top of the grid (issue 36, claim 5): a higher rate might change the ranking."""
    def data(chosen: float):
        return study_data(tmp_path, {language.lm_sweep(b, s): _with(lm_cases(TRANSFORMER_AHEAD, b),
                                                                     {("train", "lr_selected"): chosen},
                                                                     lr_grid=(3e-3, 1e-2, 3e-2) if chosen != 1e-2
                                                                     else (3e-3, 1e-2))
                                     for b in language.BUDGETS for s in language.SIZES})
    edge = language.analyze(data(1e-2)).verdict
    assert edge.status == INCONCLUSIVE, edge.reason
    assert "chose lr 0.01, the top of its grid 0.003, 0.01" in edge.reason and "not decided" in edge.reason
    # an interior choice, or the top of a grid that reaches the cap, decides
    interior = language.analyze(study_data(tmp_path, {
        language.lm_sweep(b, s): _with(lm_cases(TRANSFORMER_AHEAD, b), {("train", "lr_selected"): 1e-2},
                                       lr_grid=(3e-3, 1e-2, 3e-2))
        for b in language.BUDGETS for s in language.SIZES})).verdict
    assert interior.status == SUPPORTED, interior.reason
    at_cap = language.analyze(study_data(tmp_path, {
        language.lm_sweep(b, s): _with(lm_cases(TRANSFORMER_AHEAD, b), {("train", "lr_selected"): 3e-2},
                                       lr_grid=(3e-3, 1e-2, 3e-2))
        for b in language.BUDGETS for s in language.SIZES})).verdict
    assert at_cap.status == SUPPORTED, at_cap.reason


def test_a_language_model_verdict_below_the_token_floor_is_inconclusive_and_says_so(tmp_path):
    small = study_data(tmp_path, {language.lm_sweep(b, s): _with(lm_cases(TRANSFORMER_AHEAD, b),
                                                                  {("model", "params"): 100_000.0})
                                  for b in language.BUDGETS for s in language.SIZES})
    outcome = language.analyze(small)
    assert outcome.verdict.status == INCONCLUSIVE
    assert "inconclusive: below 2M tokens" in outcome.verdict.reason and "0.064M" in outcome.verdict.reason
    assert any("mean held-out bpc gap by size: transformer − lstm: -0.4 (small)" in line for line in outcome.setup)


def _scale_in_label(verdict: Verdict, timed: bool = False) -> None:
    """The label says where the verdict holds: the device, the parameter range and tokens trained (or 'timed')."""
    label = verdict.label
    assert label.startswith(verdict.status + " on "), label
    assert ("on this CPU" if timed else "on cpu") in label and "parameters" in label, label
    assert ("timed, not trained" in label) if timed else ("tokens trained" in label), label


def test_every_rnn_claims_verdict_label_carries_its_scale(tmp_path):
    """A bare 'not supported' reads as a refutation at any scale (issue 36): each label names its scale."""
    copy = delay_cases("copy", "accuracy", 0.125, {
        "rnn": {10: [1.0, 0.99, 1.0], 30: [0.2, 0.3, 0.25]}, "lstm": {10: [1.0, 1.0, 1.0], 30: [0.99, 0.98, 0.99]},
        "gru": {10: [1.0, 1.0, 1.0], 30: [1.0, 0.97, 0.99]}})
    adding = delay_cases("adding", "mse", 0.167, {
        "rnn": {10: [0.005, 0.008, 0.006], 30: [0.16, 0.17, 0.16]},
        "lstm": {10: [0.001, 0.002, 0.001], 30: [0.005, 0.01, 0.007]},
        "gru": {10: [0.001, 0.002, 0.001], 30: [0.003, 0.004, 0.003]}})
    good = [(0.99, 0.98, 0.97), (0.99, 0.99, 0.97), (0.99, 0.98, 0.98)]
    lengthgen = {name: length_cases(task, t, {"lstm": good, "gru": good})
                 for name, task, t in (("lengthgen-copy", "copy", 10), ("lengthgen-selective", "selective_copy", 16))}
    gradients_data = {"gradients": _with(gradient_cases({"rnn": [0.30, 0.32, 0.31], "lstm": [0.05, 0.06, 0.05],
                                                          "gru": [0.04, 0.07, 0.05]}), {("train", "loss"): 1.0})}
    outcomes = [
        gradients.analyze(study_data(tmp_path, gradients_data)),
        memory.analyze_long(study_data(tmp_path, {"copy-delays": copy, "adding-delays": adding})),
        language.analyze(lm_data(tmp_path, {}, TRANSFORMER_AHEAD)),
        decode.analyze_recall(study_data(tmp_path, {"recall": recall_cases(
            {"lstm": [0.2, 0.25, 0.22], "gru": [0.3, 0.2, 0.25], "transformer": [0.99, 1.0, 0.98]})})),
        length.analyze(study_data(tmp_path, lengthgen)),
    ]
    for outcome in outcomes:
        _scale_in_label(outcome.verdict)
    _scale_in_label(speed.analyze(speed_data(tmp_path, speed_cases(0.5))).verdict, timed=True)
    lm = language.analyze(lm_data(tmp_path, {}, TRANSFORMER_AHEAD)).verdict
    assert "64k tokens trained" in lm.label and "1k parameters" in lm.label, lm.label


def test_the_because_sequential_control_is_one_model_run_both_ways(tmp_path):
    """minGRU's parallel scan against its own sequential loop, not against the GRU (issue 36)."""
    outcome = speed.analyze(speed_data(tmp_path, speed_cases(0.5, scan_ratio=0.5)))
    group = [p for p in outcome.verdict.parts if p.reason.startswith("because sequential")][0]
    assert group.status == SUPPORTED and "mingru parallel scan / sequential loop" in group.reason, group.reason
    assert any(row[0] == "mingru sequential loop / parallel scan" for row in outcome.table[1])
    # without the control sweep, the group is not decided
    alone = speed.analyze(study_data(tmp_path, {"speed": speed_cases(0.5)})).verdict
    group = [p for p in alone.parts if p.reason.startswith("because sequential")][0]
    assert group.status == INCONCLUSIVE and "run both ways" in group.reason


def test_claim_3_no_memory_is_a_construction_check_not_a_t_test(tmp_path):
    """The mlp at chance in every seed (distance 0, no spread): a t test could only be undecided (issue 36)."""
    def data(mlp: list[float]):
        copy = delay_cases("copy", "accuracy", 0.2, {"mlp": {1: mlp}, "lstm": {1: [0.99, 0.98, 1.0]},
                                                      "gru": {1: [0.97, 0.99, 0.98]}, "rnn": {1: [0.9, 0.92, 0.91]}})
        params = [case(arch, 0, {("model", "params"): 1000.0}, seq_len=t)
                  for arch in ("rnn", "lstm", "gru", "mlp") for t in (10, 100)]
        return study_data(tmp_path, {"copy-delays": copy, "params": params})
    at_chance = memory.analyze_memory(data([0.2, 0.2, 0.2])).verdict
    assert at_chance.status == SUPPORTED and "construction check" in at_chance.reason, at_chance.reason
    assert at_chance.label.startswith("supported on cpu") and "tokens trained" in at_chance.label
    beats_chance = memory.analyze_memory(data([0.5, 0.52, 0.51])).verdict
    assert beats_chance.status == MIXED and "not supported (1): copy at delay 1: |mlp accuracy − chance|" in \
        beats_chance.reason, beats_chance.reason


def _with_facts(results: list[CaseResult], **facts_by_arch: str) -> list[CaseResult]:
    """The cases with the model fact ``gate_bias`` each gated model records (plugins/torch/rnn.py)."""
    return [dataclasses.replace(r, details={**r.details, "gate_bias": facts_by_arch[r.config.arch]})
            if r.config.arch in facts_by_arch else r for r in results]


def test_claim_2_states_the_matched_gate_bias_each_case_recorded(tmp_path):
    """Matched keep-gate initialisation, read from the facts every case stored, not from the flags (issue 36)."""
    copy = delay_cases("copy", "accuracy", 0.125, {
        "rnn": {10: [1.0, 0.99, 1.0], 30: [0.2, 0.3, 0.25]}, "lstm": {10: [1.0, 1.0, 1.0], 30: [0.99, 0.98, 0.99]},
        "gru": {10: [1.0, 1.0, 1.0], 30: [1.0, 0.97, 0.99]}})
    adding = delay_cases("adding", "mse", 0.167, {
        "rnn": {10: [0.005, 0.008, 0.006], 30: [0.16, 0.17, 0.16]},
        "lstm": {10: [0.001, 0.002, 0.001], 30: [0.005, 0.01, 0.007]},
        "gru": {10: [0.001, 0.002, 0.001], 30: [0.003, 0.004, 0.003]}})

    def outcome(lstm: str, gru: str):
        facts = {"lstm": lstm, "gru": gru}
        return memory.analyze_long(study_data(tmp_path, {"copy-delays": _with_facts(copy, **facts),
                                                         "adding-delays": _with_facts(adding, **facts)}))
    matched = outcome("forget gate f bias 1", "update gate z bias 1")
    said = ("LSTM forget gate and GRU update gate both start at bias 1 (gate_bias=1, recorded in each case)")
    assert any(said in line for line in matched.verdict.evidence), matched.verdict.evidence
    assert any(said in line for line in matched.setup)
    unmatched = outcome("forget gate f bias 1", "update gate z bias PyTorch's U(-1/sqrt(H), 1/sqrt(H))")
    line = [e for e in unmatched.verdict.evidence if e.startswith("gated initialisation")][0]
    assert "NOT matched" in line and "GRU update gate: PyTorch's U(-1/sqrt(H), 1/sqrt(H))" in line, line
    # a case stored without the fact says so instead of assuming the default
    unknown = memory.analyze_long(study_data(tmp_path, {"copy-delays": copy, "adding-delays": adding}))
    assert any("not recorded" in e for e in unknown.verdict.evidence), unknown.verdict.evidence


@pytest.mark.parametrize("control, expected_control, expected", [
    # without weight sharing the untrained positions beyond T fail: the sharing is what generalises
    ([(0.99, 0.5, 0.2), (0.98, 0.45, 0.18), (0.99, 0.55, 0.22)], SUPPORTED, SUPPORTED),
    # no effect: the control generalises as well as the shared models, so the sharing is not shown to be the
    # reason and the claim is not decided
    ([(0.99, 0.98, 0.97), (0.99, 0.99, 0.98), (0.98, 0.98, 0.97)], INCONCLUSIVE, INCONCLUSIVE),
    # a control that did not learn at T shows nothing
    ([(0.2, 0.2, 0.2), (0.15, 0.15, 0.15), (0.2, 0.1, 0.1)], INCONCLUSIVE, INCONCLUSIVE),
])
def test_length_generalisation_control_without_weight_sharing(tmp_path, control, expected_control, expected):
    """Claim 7's control (issue 36): a recurrence with its own weights per position must degrade more."""
    good = [(0.99, 0.98, 0.97), (0.99, 0.99, 0.97), (0.99, 0.98, 0.98)]
    sweeps = {name: length_cases(task, t, {"lstm": good, "gru": good, length.CONTROL: control})
              for name, task, t in (("lengthgen-copy", "copy", 10), ("lengthgen-selective", "selective_copy", 16))}
    outcome = length.analyze(study_data(tmp_path, sweeps))
    groups = {p.reason.split(":")[0]: p for p in outcome.verdict.parts}
    group = groups["control (unshared_rnn, no weight sharing)"]
    assert group.status == expected_control, group.reason
    assert outcome.verdict.status == expected, outcome.verdict.reason
    if control[0][0] > 0.5:  # learned at T: the parts compare the drops
        assert "unshared_rnn accuracy drop T→40 − lstm drop" in group.reason, group.reason
    else:
        assert "the control did not learn the task at T" in group.reason, group.reason
    # without the control in the sweep the claim is decided on the shared models alone, as before
    alone = {name: [r for r in cases if r.config.arch != length.CONTROL] for name, cases in sweeps.items()}
    assert length.analyze(study_data(tmp_path, alone)).verdict.status == SUPPORTED


def test_the_claim_7_sweeps_run_the_unshared_control_with_weights_for_every_evaluated_length(registry):
    """The control must run at 4T: its positions cover the longest evaluated sequence, tokens of the task included."""
    from rnnbench.studies.rnn_claims.sweeps import sweeps as make
    for sizes in (QUICK, FULL):
        for sweep in make(sizes):
            if not sweep.name.startswith("lengthgen"):
                continue
            flags = sweep.flags
            assert length.CONTROL in flags["models"].split(",")
            positions = int(next(o for o in flags["model_opt"] if o.startswith("unshared_rnn.positions=")).split("=")[1])
            spec = registry.resolve_task(flags["tasks"])
            options = {**spec.options, **{o.split("=")[0].split(".", 1)[1]: int(o.split("=")[1])
                                          for o in flags.get("task_opt", [])}}
            longest = max(spec.factory(options, int(v), 0).shape.seq_len for v in str(flags["eval_seq_len"]).split(","))
            assert longest == positions, (sweep.name, longest, positions)
