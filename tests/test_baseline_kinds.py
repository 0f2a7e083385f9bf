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
