"""Issue 16 in the runner: --time-budget training, evaluation at other lengths, the gradients scenario, mlp."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from rnnbench.execution import runner
from rnnbench.execution.evaluation import evaluate_lengths
from rnnbench.model_api import ModelConfig
from rnnbench.records import CaseConfig, CaseResult, RunSettings
from rnnbench.torch_model import TorchModel

TASK_OPTIONS = {
    "copy": (("alphabet_size", 8), ("num_symbols", 4)),
    "selective_copy": (("alphabet_size", 8), ("num_tokens", 4)),
    "adding": (),
    "associative_recall": (("num_keys", 16), ("num_pairs", 4), ("num_queries", 2), ("num_values", 16)),
    "lm": (("corpus", ""),),
}


def case(model="mlp@torch", task="copy", seq_len=4, **overrides) -> CaseConfig:
    fields = dict(model=model, task=task, task_options=TASK_OPTIONS[task], seq_len=seq_len, batch_size=8,
                  hidden=8, layers=1, device="cpu", dtype="float32", seed=0, steps=3, lr=1e-2)
    fields.update(overrides)
    return CaseConfig(**fields)


SETTINGS = RunSettings(scenarios=("train",), thread_cap=1, eval_batches=2, train_warmup_steps=1)


def train(registry, config, settings=SETTINGS) -> CaseResult:
    result = CaseResult(config=config)
    task = runner.build_task(config, registry)
    model = runner.build_model(config, registry, task)
    runner._train(model, task, config, settings, settings.thread_cap, result,
                  lambda length: runner.build_task(config, registry, length))
    runner._record_baselines(task, result)  # run_case records them after the case's timed scenarios
    return result


def value(result, name, scenario="train"):
    metric = result.metric(scenario, name)
    assert metric is not None, name
    return metric.value


class FakeClock:
    """perf_counter that moves only when a training step runs: the budget logic, without the wall clock."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_time_budget_stops_before_the_first_step_past_the_budget(registry, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(runner.time, "perf_counter", clock)
    original = TorchModel.train_step

    def step_of_an_eighth_second(self, batch):
        clock.now += 0.125  # exact in binary, so the arithmetic below is exact too
        return original(self, batch)

    monkeypatch.setattr(TorchModel, "train_step", step_of_an_eighth_second)
    result = train(registry, case(steps=1, time_budget_s=1.0))  # --steps does not cap a budget
    # steps start at 0, 0.125, ..., 0.875 s: 8 of them, ending exactly at the budget
    assert value(result, "steps_reached") == 8
    assert value(result, "tokens_reached") == 8 * 8 * (4 + 2 * 4)
    assert value(result, "time_s") == 1.0 and value(result, "budget_s") == 1.0
    assert value(result, "cpu_time_s") >= 0
    curve = result.curve("train", "loss_curve_time")
    assert curve.x[-1] == 1.0 and curve.x[0] == 0.125 and len(curve.y) == 8
    assert "budget" in result.metric("train", "time_s").method
    # the load was read in parts of the budget (its verdict depends on the machine, so only its form is checked)
    assert result.metric("train", "load_changed") is not None and result.details["load_change"]


def test_a_step_budget_has_no_budget_metric_and_counts_its_steps(registry):
    result = train(registry, case(steps=3))
    assert value(result, "steps_reached") == 3 and result.metric("train", "budget_s") is None
    assert result.curve("train", "loss_curve").x == [0.0, 1.0, 2.0]


def test_time_budget_is_part_of_the_case_id_only_when_set():
    plain = case()
    assert case(time_budget_s=None).case_id == plain.case_id
    assert len({plain.case_id, case(time_budget_s=20.0).case_id, case(time_budget_s=30.0).case_id}) == 3
    again = CaseConfig.from_dict(case(time_budget_s=20.0).to_dict())
    assert again.time_budget_s == 20.0 and again.case_id == case(time_budget_s=20.0).case_id
    assert "budget=20s" in again.label()


@pytest.mark.parametrize("task", sorted(TASK_OPTIONS))
def test_every_length_task_builds_at_another_length_with_the_same_vocabulary(registry, task):
    config = case(task=task, seq_len=16)
    trained, longer = runner.build_task(config, registry), runner.build_task(config, registry, 32)
    for name in ("input_kind", "input_size", "output_kind", "output_size"):
        assert getattr(trained.shape, name) == getattr(longer.shape, name)
    assert longer.shape.seq_len > trained.shape.seq_len
    assert longer.batch("test", 0, 2).inputs.shape[1] == longer.shape.seq_len


@pytest.mark.parametrize("model, says", [("transformer@torch", "extends: sinusoidal positions"),
                                         ("lstm@torch", "recurrent"), ("mlp@torch", "position-wise")])
def test_evaluation_at_other_lengths_records_a_metric_per_length_and_what_the_model_did(registry, model, says):
    settings = dataclasses.replace(SETTINGS, eval_seq_lens=(4, 8, 16))
    result = train(registry, case(model=model), settings)
    assert value(result, "eval_accuracy_len4") == value(result, "eval_accuracy")  # the training length
    for length in (8, 16):
        assert 0 <= value(result, f"eval_accuracy_len{length}") <= 1
        assert value(result, f"eval_cross_entropy_len{length}") > 0
    # copy's chance accuracy does not depend on the delay; its all-positions loss does
    assert result.metric("train", "baseline_accuracy_len8") is None
    assert value(result, "baseline_memoryless_ce_all_positions_len8") == pytest.approx(4 * np.log(8) / (8 + 8))
    extension = result.details["length_extension"]
    assert extension["4"] == "the training length" and says in extension["16"]


class RefusingCore(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc = nn.Linear(hidden, hidden)

    def forward(self, x):
        return self.fc(x)

    def length_extension(self, seq_len, trained_len):
        raise ValueError(f"a learned table of {trained_len} positions has no row for {seq_len}")


def test_a_model_that_refuses_a_length_gets_the_reason_and_no_metric(registry):
    config = case()
    task = runner.build_task(config, registry)
    shape = task.shape
    model = TorchModel(ModelConfig(shape.input_kind, shape.input_size, shape.output_kind, shape.output_size,
                                   hidden=8, layers=1, max_seq_len=shape.seq_len),
                       lambda c: RefusingCore(c.hidden), lambda T, B: 0.0)
    result = CaseResult(config=config)
    evaluate_lengths(model, task, 4, lambda length: runner.build_task(config, registry, length), (4, 8), 8, 1,
                     {"accuracy": 0.5}, result)
    assert result.details["length_extension"]["8"] == "refused: a learned table of 12 positions has no row for 16"
    assert result.metric("train", "eval_accuracy_len8") is None
    assert result.metric("train", "eval_accuracy_len4").value == 0.5


def test_gradients_scenario_stores_both_curves_and_fits(registry):
    settings = dataclasses.replace(SETTINGS, scenarios=("gradients", "train"))  # order does not matter
    result = runner.run_case(case(model="rnn@torch"), registry, settings)
    assert result.status == "ok", result.error
    for stage in ("init", "trained"):
        series = result.curve("gradients", f"grad_norm_{stage}")
        assert series.x[:3] == [0.0, 1.0, 2.0] and len(series.y) == 4 + 2 * 4
        assert value(result, f"decay_per_step_{stage}", "gradients") > 0  # tanh RNN: vanishing
        assert value(result, f"decay_per_step_{stage}_se", "gradients") > 0
    assert "last scored position" in result.details["gradients"]["loss_position"]


def test_gradients_without_training_probe_the_initial_model_only(registry):
    settings = dataclasses.replace(SETTINGS, scenarios=("gradients",))
    result = runner.run_case(case(model="gru@torch"), registry, settings)
    assert result.curve("gradients", "grad_norm_init") is not None
    assert result.curve("gradients", "grad_norm_trained") is None
    assert "did not run" in result.details["gradients"]["trained"]


def test_mlp_outputs_at_a_position_depend_on_that_position_alone(registry):
    model = registry.models["mlp@torch"].factory(ModelConfig("tokens", 10, "classes", 9, hidden=16, layers=2,
                                                             max_seq_len=12))
    inputs = torch.randint(0, 10, (3, 12), generator=torch.Generator().manual_seed(0))
    changed = inputs.clone()
    changed[:, :6] = (changed[:, :6] + 1) % 10  # every earlier position different
    with torch.no_grad():
        a, b = model.net(inputs), model.net(changed)
    assert torch.equal(a[:, 6:], b[:, 6:]) and not torch.equal(a[:, :6], b[:, :6])


@pytest.mark.slow
def test_mlp_sits_at_chance_on_copy(registry):
    # The default copy task (10 symbols of 8): a space of 8^10 sequences, so the held-out split is
    # as uniform per position as the training split, and memoryless guessing gets 1/8 on both.
    settings = dataclasses.replace(SETTINGS, eval_batches=8)
    config = case(seq_len=5, steps=60, batch_size=32, hidden=16,
                  task_options=(("alphabet_size", 8), ("num_symbols", 10)))
    result = train(registry, config, settings)
    # 8 batches x 32 x 10 recalls: the sampling sd of an accuracy of 1/8 is 0.0065; 0.03 is 4.5 sd
    assert abs(value(result, "eval_accuracy") - value(result, "baseline_accuracy")) < 0.03
