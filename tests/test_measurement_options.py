"""Issue 16 outside the runner: the options, the sweep axis, the tables, compare's rows, the gradient plot."""

import pytest

from rnnbench.analysis.compare.comparison import CompareSettings
from rnnbench.analysis.compare.measurements import judge_measurements
from rnnbench.analysis.compare.quality import accuracy_names
from rnnbench.errors import UsageError
from rnnbench.records import CaseConfig, CaseResult, Metric, Series
from rnnbench.render.measurements import budget_table, gradient_table, length_table, measurement_tables
from rnnbench.request.run_request import resolve_request
from rnnbench.request.options import RunRequest
from rnnbench.request.sweep import expand
from conftest import case
from run_helpers import one_line_error


def config(model="lstm@torch", seed=0, budget=None, task="copy", seq_len=10) -> CaseConfig:
    return case(model=model, task=task, seq_len=seq_len, batch_size=8, hidden=16, seed=seed,
                steps=None if budget else 100, time_budget_s=budget)


def result(metrics, details=None, **config_fields) -> CaseResult:
    details = {"primary_metric": "accuracy", "higher_is_better": True, **(details or {})}
    return CaseResult(config=config(**config_fields), metrics=[Metric(*m) for m in metrics], details=details)


# -- options and the sweep ----------------------------------------------------------------------

def test_options_parse_and_reach_the_request():
    request = resolve_request({"time_budget": "20,30.5", "eval_seq_len": "10,20,40",
                               "scenarios": "train,gradients"})
    assert request.time_budget == [20.0, 30.5] and request.eval_seq_len == [10, 20, 40]
    assert request.scenarios == ["train", "gradients"]
    assert request.time_budget == [20.0, 30.5]


@pytest.mark.parametrize("flags, message", [
    ({"time_budget": "0"}, "--time-budget: must be a positive number, got 0"),
    ({"time_budget": "soon"}, "--time-budget: 'soon' is not a number"),
    ({"time_budget": "20", "steps": "100"}, "--time-budget replaces --steps"),
    ({"time_budget": "20", "scenarios": "forward"}, "--time-budget budgets the training: add train"),
    ({"eval_seq_len": "10,0"}, "--eval-seq-len: must be at least 1, got 0"),
    ({"eval_seq_len": "20", "scenarios": "gradients"}, "--eval-seq-len evaluates the trained model: add train"),
    ({"scenarios": "train,gradient"}, "'gradient' is not one of train, forward, decode, gradients"),
])
def test_bad_combinations_are_usage_errors(flags, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_request(flags)


def test_a_bad_budget_is_one_line_and_exit_2(cli, tmp_path):
    proc = cli("run", "--models", "lstm", "--time-budget", "20", "--steps", "10", "--out", tmp_path)
    assert proc.returncode == 2
    assert "--time-budget replaces --steps" in one_line_error(proc)


def test_budgets_are_an_axis_of_cases_without_a_step_count(registry):
    cases = expand(RunRequest(models=["lstm", "mlp"], time_budget=[20.0, 30.0]), registry,
                   cuda_probe=lambda: False).cases
    assert sorted((c.model, c.time_budget_s) for c in cases) == [
        ("lstm@torch", 20.0), ("lstm@torch", 30.0), ("mlp@torch", 20.0), ("mlp@torch", 30.0)]
    assert {c.steps for c in cases} == {None} and len({c.case_id for c in cases}) == 4
    assert registry.resolve_model("mlp").family == "feedforward"


# -- tables ---------------------------------------------------------------------------------------

def test_budget_table_puts_steps_reached_beside_quality_and_warns_of_a_load_change():
    rows = [result([("train", "steps_reached", 1234.0), ("train", "tokens_reached", 9.0e6), ("train", "time_s", 20.1),
                    ("train", "cpu_time_s", 39.0), ("train", "eval_accuracy", 0.9), ("train", "baseline_accuracy", 0.125),
                    ("train", "load_changed", 1.0)], {"load_change": "changed: others used 0.1 -> 1.5 CPUs"}, budget=20.0),
            result([("train", "eval_accuracy", 0.5)])]  # not budgeted: not in the table
    table = budget_table(rows)
    assert table.header[5:8] == ["steps reached", "tokens", "CPU"] and len(table.rows) == 1
    assert table.rows[0][3:] == ["20 s", "20.1 s", "1.23k", "9M", "39 s", "changed",
                                 "accuracy 0.9", "0.125"]
    assert any("others used 0.1 -> 1.5 CPUs" in note for note in table.notes)
    assert budget_table(rows[1:]) is None


def test_length_table_has_a_column_per_length_and_says_what_each_model_did():
    transformer = result([("train", "eval_accuracy_len10", 0.9), ("train", "eval_accuracy_len20", 0.4),
                          ("train", "baseline_accuracy", 0.125)],
                         {"length_extension": {"10": "the training length", "20": "extends: sinusoidal"}},
                         model="transformer@torch")
    refusing = result([("train", "eval_accuracy_len10", 0.8), ("train", "baseline_accuracy", 0.125)],
                      {"length_extension": {"10": "the training length", "20": "refused: a learned table"}},
                      model="learned@x")
    table = length_table([transformer, refusing])
    assert table.header == ["model", "task", "metric", "trained at", "at 10", "at 20", "chance"]
    assert table.rows[0][4:] == ["0.9", "0.4", "0.125"] and table.rows[1][4:] == ["0.8", "refused", "0.125"]
    assert "transformer@torch: extends: sinusoidal" in table.notes
    assert "learned@x: refused: a learned table" in table.notes


def test_gradient_table_shows_decay_with_its_error_no_fit_and_unsupported():
    rnn = result([("gradients", "decay_per_step_init", 0.61, "1/step"), ("gradients", "decay_per_step_init_se", 0.01),
                  ("gradients", "decay_per_step_trained", 0.52), ("gradients", "decay_per_step_trained_se", 0.02)],
                 {"gradients": {"fit": "..."}}, model="rnn@torch")
    mlp = result([("gradients", "decay_per_step_init", None, "1/step", "no fit: no gradient reaches any earlier"
                   " position (exactly zero at every distance >= 1)")], {"gradients": {}}, model="mlp@torch")
    triton = result([], {"gradients_unsupported": "LSTM kernel hides its states"}, model="lstm@triton")
    table = gradient_table([rnn, mlp, triton])
    assert table.rows[0][3:] == ["0.610 ±0.010", "0.520 ±0.020"]
    assert table.rows[1][3] == "no fit (zero beyond d=0)" and table.rows[1][4] == "-"
    assert table.rows[2][3:] == ["not supported", "not supported"]
    assert any("LSTM kernel hides its states" in note for note in table.notes)
    assert [t.title.split(" (")[0] for t in measurement_tables([rnn])] == ["Gradient flow"]


# -- compare -----------------------------------------------------------------------------------------

def test_compare_judges_every_evaluated_length_but_the_training_one():
    case = result([("train", "eval_accuracy", 0.9), ("train", "eval_accuracy_len10", 0.9),
                   ("train", "eval_accuracy_len40", 0.3), ("train", "eval_accuracy_len20", 0.5)])
    assert accuracy_names(case) == ["eval_accuracy", "eval_accuracy_len20", "eval_accuracy_len40"]


def test_compare_rows_for_steps_reached_and_decay_are_never_regressions():
    base = result([("train", "steps_reached", 1000.0), ("gradients", "decay_per_step_trained", 0.50),
                   ("gradients", "decay_per_step_trained_se", 0.01)], budget=20.0)
    new = result([("train", "steps_reached", 700.0), ("gradients", "decay_per_step_trained", 0.60),
                  ("gradients", "decay_per_step_trained_se", 0.01)], budget=20.0)
    rows = judge_measurements("case", base.case_id, base, new, CompareSettings())
    verdicts = {row.metric: row.verdict for row in rows}
    assert verdicts == {"steps_reached": "fewer steps", "decay_per_step_trained": "steeper"}
    assert not any(row.regression for row in rows)


# -- the plot ------------------------------------------------------------------------------------------

def test_the_report_draws_the_gradient_norm_plot(tmp_path):
    pytest.importorskip("matplotlib")
    from rnnbench.analysis.frame import results_frame
    from rnnbench.render.plots import make_plots

    cases = []
    for model, decay in (("rnn@torch", 0.6), ("lstm@torch", 0.2), ("mlp@torch", None)):
        for seed in (0, 1):
            norms = [1.0] + ([0.0] * 9 if decay is None else [float(pow(2.718, -decay * d)) for d in range(1, 10)])
            case = result([], {"gradients": {}}, model=model, seed=seed)
            case.series += [Series("gradients", f"grad_norm_{stage}", list(range(10)), norms)
                            for stage in ("init", "trained")]
            cases.append(case)
    plots = make_plots(results_frame(cases), {"cpu": "test CPU", "threads": 1}, tmp_path)
    [figure] = [f for f in plots.figures if f.path.name == "gradient_norm_vs_distance.png"]
    assert figure.path.stat().st_size > 0
    assert "median over 2 seeds" in figure.caption and "mlp@torch: exactly zero beyond distance 0" in figure.caption


def test_a_series_round_trips_through_the_store(tmp_path):
    from rnnbench.records import RunInfo
    from rnnbench.store import ResultsStore

    case = result([("gradients", "decay_per_step_init", 0.6, "1/step")], budget=5.0)
    case.series.append(Series("gradients", "grad_norm_init", [0.0, 1.0], [1.0, 0.5], "distance", "L2 norm", "probe"))
    with ResultsStore(tmp_path / "r.db") as store:
        store.create_run(RunInfo("run1", tmp_path, {}))
        store.add_result("run1", case)
        [loaded] = store.results("run1")
    assert loaded.config.time_budget_s == 5.0 and loaded.case_id == case.case_id
    assert loaded.curve("gradients", "grad_norm_init").y == [1.0, 0.5]
