"""The sweep axes are declared once (rnnbench.sweep_axes) and every reader follows that declaration."""

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from rnnbench.analysis.findings import findings
from rnnbench.errors import UsageError
from rnnbench.records import CaseConfig
from rnnbench.sweep_axes import AXES, BY_NAME, NOT_AXES, POINT_AXES


def test_every_field_of_a_case_is_a_declared_axis_or_says_why_not():
    declared = {axis.name for axis in AXES} | set(NOT_AXES)
    missing = [f.name for f in fields(CaseConfig) if f.name not in declared]
    assert not missing, f"CaseConfig fields missing from rnnbench.sweep_axes.AXES (or NOT_AXES): {missing}"
    stale = declared - {f.name for f in fields(CaseConfig)}
    assert not stale, f"rnnbench.sweep_axes names fields CaseConfig no longer has: {sorted(stale)}"


def test_a_case_label_tags_the_axes_marked_for_it(make_case):
    config = make_case(seq_len=64, batch_size=8, hidden=32, steps=30, lr=0.003, time_budget_s=0.3)
    assert config.label() == "lstm@torch copy T=64 B=8 H=32 L=1 seed=0 budget=0.3s"
    assert BY_NAME["task_options"].tag('{"n": 3}') == "n=3"
    assert BY_NAME["lr"].tag(np.float64(0.001)) == "lr=0.001"


def _budget_row(model, budget, step, accuracy):
    rng = np.random.default_rng(abs(hash((model, budget))) % 2**32)
    samples = list(step * (1 + 0.02 * rng.standard_normal(20)))
    return {"case_id": f"{model}-{budget}", "model": model, "family": "recurrent", "task": "copy",
            "task_options": "{}", "seq_len": 20, "batch_size": 4, "hidden": 32, "layers": 1, "device": "cpu",
            "dtype": "float32", "seed": 0, "steps": 30, "lr": 0.003, "time_budget_s": budget, "status": "ok",
            "total_seq_len": 22, "primary_metric": "accuracy", "higher_is_better": True,
            "train_step_time_s": float(np.median(samples)), "train_step_time_s_samples": samples,
            "train_eval_accuracy": accuracy, "train_baseline_accuracy": 0.1}


def test_two_time_budgets_with_one_seed_give_findings_per_budget():
    """--time-budget 0.3,1 --seeds 0: each budget is its own comparison point, never "over 2 seeds"."""
    assert "time_budget_s" in POINT_AXES
    frame = pd.DataFrame([_budget_row("gru", 0.3, 0.010, 0.5), _budget_row("lstm", 0.3, 0.020, 0.4),
                          _budget_row("gru", 1.0, 0.010, 0.9), _budget_row("lstm", 1.0, 0.020, 0.8)])
    texts = [f.text for f in findings(frame)]
    speed = [t for t in texts if "training step" in t]
    assert [t.split(":")[0] for t in speed] == ["At budget=0.3s", "At budget=1s"]
    assert not any("over 2 seeds" in t for t in texts)
    [scope] = [f.text for f in findings(frame) if f.kind == "scope"]
    assert "swept: budget" in scope and "1 seed(s)" in scope


def test_every_multiplied_axis_names_a_request_option():
    from dataclasses import fields as dataclass_fields

    from rnnbench.request.options import BY_KEY, RunRequest

    request_fields = {f.name for f in dataclass_fields(RunRequest)}
    for axis in AXES:
        for option in filter(None, (axis.option, *axis.replaced_by)):
            assert option in request_fields and option in BY_KEY, (axis.name, option)


def test_a_new_axis_is_one_entry_and_its_case_field(registry, monkeypatch):
    """A fake axis ``warmup`` (a CaseConfig field, a request option): the expansion multiplies it unchanged."""
    import dataclasses

    from rnnbench.request import sweep
    from rnnbench.request.options import RunRequest
    from rnnbench.sweep_axes import Axis

    case_with_warmup = dataclasses.make_dataclass(
        "CaseWithWarmup", [("warmup", int, dataclasses.field(default=0))], bases=(CaseConfig,), frozen=True)
    request_with_warmup = dataclasses.make_dataclass(
        "RequestWithWarmup", [("warmup", list, dataclasses.field(default_factory=list))], bases=(RunRequest,))
    warmup = Axis("warmup", "warmup", "wu", "warm-up steps", "{} warm-up steps", point=True, series=True,
                  option="warmup")
    monkeypatch.setattr(sweep, "AXES", (*AXES, warmup))
    monkeypatch.setattr(sweep, "CaseConfig", case_with_warmup)
    request = request_with_warmup(models=["lstm"], seeds=[0, 1], warmup=[5, 10, 20])
    assert sweep.case_count(request) == 6
    cases = sweep.expand(request, registry, cuda_probe=lambda: False).cases
    assert sorted((c.seed, c.warmup) for c in cases) == [(s, w) for s in (0, 1) for w in (5, 10, 20)]
    assert len({c.case_id for c in cases}) == 6
    with pytest.raises(UsageError, match=r"6 cases \(2 seeds x 3 warmup\)"):
        sweep.check_size(request, max_cases=5)
