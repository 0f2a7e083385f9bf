"""Baselines carry their kind: check_task takes a declared predictor as declared, and the table and
findings name it ("against persistence 0.0915"), keeping the quality ahead of long task options."""

import io

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

import rnnbench
from rnnbench.analysis.findings import findings
from rnnbench.records import CaseConfig, CaseResult, Metric, RunInfo
from rnnbench.render.content import summary_columns
from rnnbench.render.fit import fit
from rnnbench.render.terminal import print_summary
from rnnbench.task_api import Baseline, baseline_entries
from rnnbench.testing import ContractError, check_task


class _Repeat(rnnbench.Task):
    """Forecast the next value of a noisy random walk: persistence beats the training mean."""

    primary_metric, higher_is_better = "mse", False

    def __init__(self, seed, baseline):
        self.seed, self._baseline = seed, baseline
        self.shape = rnnbench.TaskShape("features", 1, "regression", 1, 8)

    def batch(self, split, index, batch_size):
        (walks,) = rnnbench.sample_split(split, rnnbench.split_rng(self.seed, split, index), batch_size,
                                         lambda rng, n: (rng.standard_normal((n, 9)).cumsum(axis=1).astype(np.float32),))
        targets = np.zeros((batch_size, 8, 1), np.float32)
        targets[:, -1, 0] = walks[:, 8]
        mask = np.zeros((batch_size, 8), np.float32)
        mask[:, -1] = 1
        return rnnbench.Batch(walks[:, :8, None], targets, mask)

    def metrics(self, outputs, batch):
        return {"mse": rnnbench.masked_mse(outputs, batch)}

    def baselines(self):
        return {"mse": self._baseline}


def _spec(baseline):
    return rnnbench.TaskSpec(name="walk", factory=lambda options, seq_len, seed: _Repeat(seed, baseline),
                             defaults=rnnbench.TaskDefaults(seq_len=8))


def test_check_task_takes_a_declared_predictor_and_refuses_it_as_chance():
    report = check_task(_spec(Baseline(1.0, "persistence", "last value")), batch_size=32, batches=4)
    assert any("persistence" in line and "taken as declared" in line for line in report.checked)
    with pytest.raises(ContractError, match="declared with a kind that says so"):
        check_task(_spec(1.0), batch_size=32, batches=4)  # a bare number is chance: guessing scores far more
    with pytest.raises(ValueError, match="baseline kind must be one of"):
        Baseline(1.0, "oracle")
    assert baseline_entries({"a": 0.5})["a"] == Baseline(0.5, "chance")


def _case(model, task, options, mse, persistence):
    config = CaseConfig(model=model, task=task, task_options=options, seq_len=24, batch_size=32, hidden=32,
                        layers=1, device="cpu", dtype="float32", seed=0, steps=30, lr=0.002)
    result = CaseResult(config, status="ok", details={"primary_metric": "mse", "higher_is_better": False,
                                                       "baseline_kind": "persistence"},
                        worker={"cpu": "Test CPU", "threads": 1})
    result.metrics = [Metric("model", "params", 9060.0, "count"),
                      Metric("train", "step_time_s", 0.01, "s", "wall clock", [0.009, 0.01, 0.011, 0.012]),
                      Metric("train", "eval_mse", mse), Metric("train", "baseline_mse", persistence, "", "persistence")]
    return result


LONG = (("series", "sunspots"), ("horizon", 3), ("note", "a deliberately long option value"))
RESULTS = [_case("lstm@torch", "forecast", LONG, 0.0315, 0.0915),
           _case("transformer@torch", "forecast", LONG, 0.05, 0.0915),
           _case("lstm@torch", "forecast2", (("series", "co2"),), 0.02, 0.0915)]


def test_table_names_the_baseline_and_keeps_it_ahead_of_task_options():
    columns, rows, _ = summary_columns(RESULTS)
    names = [c.name for c in columns]
    assert "baseline" in names and "chance" not in names
    assert rows[0][names.index("baseline")] == "persistence 0.0915"
    fitted = fit(columns, rows, 100)
    kept = [c.name for c in fitted.columns]
    assert "mse" in kept and "baseline" in kept
    if len(kept) < len(names):
        assert "task options" in fitted.left_out or "options" in " ".join(fitted.left_out)
    out = io.StringIO()
    print_summary(RESULTS, RunInfo("r", folder=None, env={"threads": 1, "cpu": "Test CPU"}),
                  Console(file=out, width=140, force_terminal=True, color_system=None))
    assert "persistence 0.0915" in out.getvalue() and "chance" not in out.getvalue()


def test_findings_say_against_persistence():
    frame = pd.DataFrame([{"case_id": m, "model": m, "family": "recurrent", "task": "forecast", "task_options": "{}",
                           "seq_len": 24, "batch_size": 32, "hidden": 32, "width": 32, "layers": 1, "device": "cpu",
                           "dtype": "float32", "seed": 0, "steps": 30, "lr": 0.002, "status": "ok", "error": "",
                           "primary_metric": "mse", "higher_is_better": False, "baseline_kind": "persistence",
                           "train_eval_mse": mse, "train_baseline_mse": 0.0915}
                          for m, mse in (("lstm", 0.0315), ("transformer", 0.2))])
    [quality] = [f.text for f in findings(frame) if f.kind == "quality"]
    assert "against persistence 0.0915" in quality and "(no better than persistence)" in quality
    assert "chance" not in quality


# -- several baselines per metric (issue 40) ------------------------------------------------------

UEA_LIKE = {"accuracy": [Baseline(0.111, "majority class", "of the training portion"),
                         Baseline(0.932, "nearest neighbour", "1-NN Euclidean", key="1nn_euclidean"),
                         Baseline(0.949, "nearest neighbour", "1-NN DTW", key="1nn_dtw")],
            "cross_entropy": 2.2}


def test_several_baselines_of_a_metric_are_stored_under_their_own_names():
    from rnnbench.task_api import bare_numbers, baselines_by_metric

    stored = baseline_entries(UEA_LIKE)
    assert list(stored) == ["accuracy", "accuracy_1nn_euclidean", "accuracy_1nn_dtw", "cross_entropy"]
    assert stored["accuracy"].kind == "majority class" and stored["accuracy_1nn_dtw"].value == 0.949
    assert [b.short_label for b in baselines_by_metric(UEA_LIKE)["accuracy"]] == [
        "majority class", "1-NN Euclidean", "1-NN DTW"]
    assert bare_numbers(UEA_LIKE) == ["cross_entropy"]
    with pytest.raises(ValueError, match="key="):  # two further baselines with one name
        baseline_entries({"mse": [Baseline(1.0), Baseline(2.0, "persistence"), Baseline(3.0, "persistence")]})


def test_the_open_kind_reads_the_input_is_named_by_its_detail_and_taken_as_declared():
    with pytest.raises(ValueError, match="named by its detail"):
        Baseline(0.5, "predictor")
    bit = Baseline(1.0, "predictor", "answers the current bit")
    assert bit.label == "answers the current bit" and not bit.guessable
    report = check_task(_spec(Baseline(1.0, "predictor", "repeats the last value")), batch_size=32, batches=4)
    assert any("repeats the last value" in line and "taken as declared" in line for line in report.checked)
    with pytest.raises(ValueError, match="'predictor' with a detail"):  # the refusal lists the kinds to use
        Baseline(1.0, "memoryless-ish")


def _classified(model, accuracy):
    config = CaseConfig(model=model, task="uea", task_options=(("dataset", "JapaneseVowels"),), seq_len=29,
                        batch_size=32, hidden=32, layers=1, device="cpu", dtype="float32", seed=0, steps=30,
                        lr=0.002)
    declared = baseline_entries(UEA_LIKE)
    details = {"primary_metric": "accuracy", "higher_is_better": True, "baseline_kind": "majority class",
               "family": "recurrent",
               "baselines": [{"kind": b.kind, "label": b.label, "short": b.short_label, "value": b.value,
                              "column": f"baseline_{name}"} for name, b in declared.items() if name != "cross_entropy"]}
    result = CaseResult(config, status="ok", details=details, worker={"cpu": "Test CPU", "threads": 1})
    result.metrics = [Metric("train", "eval_accuracy", accuracy)] + [
        Metric("train", f"baseline_{name}", b.value, "", b.label) for name, b in declared.items()]
    return result


def test_table_legend_and_findings_show_every_baseline_strongest_first():
    from rnnbench.render.content import baseline_lines, run_findings

    results = [_classified("lstm@torch", 0.97), _classified("transformer@torch", 0.96)]
    [line] = baseline_lines(results)
    assert "majority class (of the training portion) 0.111" in line and "nearest neighbour (1-NN DTW) 0.949" in line
    [quality] = [f.text for f in run_findings(results, RunInfo("r", folder=None, env={})) if f.kind == "quality"]
    assert "lstm@torch, held-out accuracy 0.97 against 1-NN DTW 0.949, 1-NN Euclidean 0.932, majority class 0.111" \
        in quality
    out = io.StringIO()
    print_summary(results, RunInfo("r", folder=None, env={"threads": 1, "cpu": "Test CPU"}),
                  Console(file=out, width=100, force_terminal=True, color_system=None))
    assert "1-NN DTW" in out.getvalue() and "majority class" in out.getvalue()


def test_a_bare_number_baseline_is_noted_once():
    from rnnbench.render.content import baseline_lines

    results = [_classified("lstm@torch", 0.97), _classified("gru@torch", 0.9)]
    for r in results:
        r.details["baseline_bare_numbers"] = ["cross_entropy"]
    notes = [line for line in baseline_lines(results) if line.startswith("Note:")]
    assert len(notes) == 1 and "uea declares baselines as bare numbers" in notes[0]


def test_the_legend_states_the_metric_scale():
    from rnnbench.render.content import legend_lines

    results = [_case("lstm@torch", "forecast", (), 0.0315, 0.0915), _case("gru@torch", "forecast", (), 0.04, 0.0915)]
    for r in results:
        r.details["metric_scale"] = "on the standardised series: mse in sd²"
    lines = legend_lines({"mse": "mse", "baseline": "baseline"}, RunInfo("r", folder=None, env={}), results)
    assert any(line.startswith("mse: the task's primary metric") and "mse in sd²" in line for line in lines)
    from rnnbench.tasks.forecast import ForecastTask

    assert "standardised with the training split's mean and standard deviation" in ForecastTask.metric_scale
