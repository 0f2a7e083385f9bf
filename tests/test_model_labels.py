"""A model option set away from its default is part of the model's label: table, findings (frame), compare, history."""

from rnnbench.analysis.compare.comparison import case_label
from rnnbench.analysis.frame import results_frame
from rnnbench.analysis.history import _labels
from rnnbench.records import CaseConfig, CaseResult, Metric
from rnnbench.render.content import summary_columns


def _case(options, accuracy):
    config = CaseConfig(model="mingru@torch", task="copy", task_options=(), seq_len=10, batch_size=8, hidden=16,
                        layers=1, device="cpu", dtype="float32", seed=0, steps=5, lr=0.002, model_options=options)
    result = CaseResult(config, status="ok", details={"primary_metric": "accuracy", "higher_is_better": True})
    result.metrics = [Metric("train", "eval_accuracy", accuracy), Metric("train", "baseline_accuracy", 0.125)]
    return result


RESULTS = [_case((), 0.5), _case((("scan", "sequential"),), 0.6)]


def test_two_settings_of_one_model_are_told_apart_everywhere():
    _, rows, _ = summary_columns(RESULTS)
    assert [row[0] for row in rows] == ["mingru", "mingru[scan=sequential]"]
    assert list(results_frame(RESULTS)["model"]) == ["mingru@torch", "mingru@torch[scan=sequential]"]
    assert case_label(RESULTS[1]).startswith("mingru@torch[scan=sequential] copy")
    labels = _labels({"a": RESULTS[0].config, "b": RESULTS[1].config})
    assert labels["b"].startswith("mingru@torch[scan=sequential]") and labels["a"].startswith("mingru@torch ")


def _family_case(model, family, accuracy):
    result = _case((), accuracy)
    result.config = CaseConfig(**{**result.config.__dict__, "model": model})
    result.details["family"] = family
    return result


def test_a_run_of_several_families_names_each_models_family_in_the_table_and_the_findings():
    from rnnbench.analysis.findings import findings

    results = [_family_case("lstm@torch", "recurrent", 0.4), _family_case("mingru@torch", "linear-recurrent", 0.5),
               _family_case("hawk@torch", "linear-recurrent", 0.7), _family_case("transformer@torch", "attention", 0.9)]
    columns, rows, _ = summary_columns(results)
    assert [c.name for c in columns][:2] == ["model", "family"]
    assert [row[1] for row in rows] == ["recurrent", "linear-recurrent", "linear-recurrent", "attention"]
    [by_family] = [f.text for f in findings(results_frame(results)) if "By family" in f.text]
    assert ("attention: transformer@torch 0.9; linear-recurrent: hawk@torch 0.7 (best of 2);"
            " recurrent: lstm@torch 0.4") in by_family, by_family
    # one family: no column, no finding
    same = [_family_case("lstm@torch", "recurrent", 0.4), _family_case("gru@torch", "recurrent", 0.5)]
    assert "family" not in [c.name for c in summary_columns(same)[0]]
    assert not [f for f in findings(results_frame(same)) if "By family" in f.text]
