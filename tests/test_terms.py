"""rnnbench.analysis.terms: the parameter count and training budget each case was given."""

import pytest

from rnnbench.analysis.terms import terms_of, unequal
from rnnbench.records import CaseConfig, CaseResult, Metric


def case(model, params, *, matched=None, steps=100.0, time_s=10.0, seed=0):
    config = CaseConfig(model=model, task="lm", task_options=(), seq_len=8, batch_size=2, hidden=16, layers=1,
                        device="cpu", dtype="float32", seed=seed, steps=100, lr=1e-3, matched_params=matched)
    return CaseResult(config=config, metrics=[
        Metric("model", "params", params, "count"), Metric("train", "steps_reached", steps, "steps"),
        Metric("train", "time_s", time_s, "s"), Metric("train", "flops", steps * params * 6, "FLOP")])


def test_terms_read_what_the_case_stored():
    terms = terms_of(case("transformer@torch", 48_000.0, matched=46_696))
    assert (terms.params, terms.matched_params, terms.steps, terms.train_time_s) == (48_000, 46_696, 100, 10)
    assert terms.train_flops == 100 * 48_000 * 6 and terms.params_gap == pytest.approx(1304 / 46_696)
    assert terms.lr_selected is None and terms.lr_grid_time_s is None  # trained without --lr-grid


def test_unequal_parameters_give_the_counts_in_the_reason():
    lstm, transformer = case("lstm@torch", 46_696.0), case("transformer@torch", 63_528.0)
    reason = unequal([lstm, transformer], "params")
    assert reason == ("parameter counts differ by 36% (more than 5%): lstm@torch seed 0 46,696,"
                      " transformer@torch seed 0 63,528")
    assert unequal([lstm, case("transformer@torch", 48_000.0)], "params") is None  # 2.8%: equal terms


def test_budgets_and_missing_figures():
    fast, slow = case("lstm@torch", 1e4, steps=300.0), case("gru@torch", 1e4, steps=100.0, seed=1)
    assert "training steps differ by 200%" in unequal([fast, slow], "steps")
    assert unequal([fast, slow], "train_time_s") is None
    bare = CaseResult(config=slow.config)  # a case that stored no metric
    assert unequal([fast, bare], "train_flops") == "training FLOPs not stored for gru@torch seed 1: equal terms cannot be checked"
    with pytest.raises(ValueError, match="unknown kind"):
        unequal([fast], "width")
