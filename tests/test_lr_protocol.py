"""--lr-grid (a rate chosen per case on the validation split) and --lr-schedule (warm-up, cosine decay)."""

import dataclasses
import math

import pandas as pd
import pytest

from rnnbench.cli import main
from rnnbench.execution import runner
from rnnbench.execution.lr_grid import GridFailed, select_rate
from rnnbench.model_api import FINAL_LR_FRACTION, WARMUP_FRACTION, lr_factor
from rnnbench.records import CaseConfig, CaseResult, LrGridRecord, RateOutcome, RunSettings
from rnnbench.request.run_request import resolve_request
from rnnbench.request.options import RunRequest
from rnnbench.request.sweep import expand
from rnnbench.store import DEFAULT_DB_NAME, ResultsStore
from run_helpers import one_line_error

TINY = ["--tasks", "copy", "--task-opt", "copy.num_symbols=3", "--seq-len", "3", "--hidden", "8",
        "--batch-size", "4", "--steps", "6", "--scenarios", "train", "--threads", "1", "--no-progress"]


# -- the schedule ------------------------------------------------------------------------------

def test_warmup_cosine_rises_linearly_then_decays_to_a_tenth():
    assert [lr_factor("constant", p) for p in (0, 0.5, 1)] == [1.0, 1.0, 1.0]
    assert lr_factor("warmup-cosine", 0) == 0
    assert lr_factor("warmup-cosine", WARMUP_FRACTION / 2) == pytest.approx(0.5)
    assert lr_factor("warmup-cosine", WARMUP_FRACTION) == pytest.approx(1.0)
    middle = (1 + WARMUP_FRACTION) / 2  # half way through the decay: half way between 1 and the floor
    assert lr_factor("warmup-cosine", middle) == pytest.approx((1 + FINAL_LR_FRACTION) / 2)
    assert lr_factor("warmup-cosine", 1) == pytest.approx(FINAL_LR_FRACTION)
    decay = [lr_factor("warmup-cosine", WARMUP_FRACTION + i / 100) for i in range(0, 96)]
    assert decay == sorted(decay, reverse=True)
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        lr_factor("cosine", 0.5)


def _trained_rate(registry, model, schedule):
    [config] = expand(RunRequest(models=[model], tasks=["copy"], seq_len=[3], batch_size=[4], hidden=[8],
                                steps=[20], lr=[0.01], lr_schedule=[schedule]), registry).cases
    task = runner.build_task(config, registry)
    built = runner.build_model(config, registry, task)
    with runner.thread_limit(1):  # two threads on a busy machine wait for each other at every small op
        runner._fit(built, task, config, RunSettings(thread_cap=1), 1, CaseResult(config=config))
    optimizer = built.optimizer
    return optimizer.param_groups[0]["lr"] if hasattr(optimizer, "param_groups") else optimizer.lr


@pytest.mark.parametrize("model", ["lstm@torch", "lstm@numpy"])
def test_both_backends_follow_the_schedule_and_constant_leaves_the_rate(registry, model):
    assert _trained_rate(registry, model, "constant") == 0.01
    # the last of 20 steps trains at progress 1: a tenth of the rate
    assert _trained_rate(registry, model, "warmup-cosine") == pytest.approx(0.01 * FINAL_LR_FRACTION)


# -- choosing a rate ---------------------------------------------------------------------------

def _fake_training(scores, failing=()):
    trained = []

    def train_at(rate):
        trained.append(rate)
        if rate in failing:
            raise FloatingPointError(f"training diverged at {rate}")
        return rate, CaseResult(config=None)
    return train_at, (lambda model: scores[model]), trained


def test_a_failed_rate_is_recorded_and_the_others_still_compete():
    train_at, score, trained = _fake_training({1e-3: 2.0, 1e-2: 1.5, 1e-1: math.nan}, failing={3e-3})
    choice = select_rate([1e-3, 3e-3, 1e-2, 1e-1], train_at, score, higher_is_better=False,
                         classify=runner.classify_error)
    assert trained == [1e-3, 3e-3, 1e-2, 1e-1] and choice.lr == 1e-2 and choice.score == 1.5
    assert [o.status for o in choice.outcomes] == ["ok", "error", "ok", "error"]
    assert "diverged at 0.003" in choice.outcomes[1].error and "nan" in choice.outcomes[3].error


def test_higher_is_better_and_ties_keep_the_smaller_rate():
    train_at, score, _ = _fake_training({1e-3: 0.5, 1e-2: 0.9, 1e-1: 0.9})
    assert select_rate([1e-3, 1e-2, 1e-1], train_at, score, higher_is_better=True,
                       classify=runner.classify_error).lr == 1e-2


def test_when_every_rate_fails_the_case_fails_with_each_reason():
    train_at, score, _ = _fake_training({}, failing={1e-3, 1e-2})
    with pytest.raises(GridFailed, match=r"every rate of --lr-grid failed: 0.001: FloatingPointError: .*; 0.01:"):
        select_rate([1e-3, 1e-2], train_at, score, higher_is_better=False, classify=runner.classify_error)


def test_a_grid_run_stores_the_grid_the_scores_and_reports_the_chosen_rate_only(tmp_path, capsys):
    """The acceptance of item 2: a diverging rate does not lose the others; the stored test metric is the
    one a plain run at the chosen rate measures; DB, results.csv, report and terminal show the choice."""
    grid_out, plain_out = tmp_path / "grid", tmp_path / "plain"
    assert main(["run", "--models", "lstm", "--lr-grid", "1e-2,1e9", "--out", str(grid_out), *TINY]) == 0
    terminal = capsys.readouterr().out
    assert "lr chosen" in terminal
    with ResultsStore.reader(grid_out / DEFAULT_DB_NAME) as store:
        [result] = store.results(store.run_ids()[-1])
    assert result.config.lr_grid == (1e-2, 1e9) and result.config.lr is None
    chosen = result.metric("train", "lr_selected").value
    record = LrGridRecord.read(result.details)
    assert record.outcome(1e-2).status == "ok" and math.isfinite(record.outcome(1e-2).score)
    assert result.curve("train", "lr_grid_valid").x == [1e-2, 1e9]
    [run_dir] = [p for p in grid_out.iterdir() if p.is_dir()]
    row = pd.read_csv(run_dir / "results.csv").iloc[0]
    assert row["lr_grid"] == "0.01,1e+09" and row["train_lr_selected"] == chosen and math.isnan(row["lr"])
    report = (run_dir / "report.md").read_text()
    assert "## Learning rates (--lr-grid)" in report
    assert "lstm@torch chose the smallest rate of the grid (seed 0)" in report  # 1e9 diverges: 0.01 is the edge

    assert main(["run", "--models", "lstm", "--lr", f"{chosen:g}", "--out", str(plain_out), *TINY]) == 0
    with ResultsStore.reader(plain_out / DEFAULT_DB_NAME) as store:
        [plain] = store.results(store.run_ids()[-1])
    for name in ("eval_accuracy", "final_loss", "steps_reached"):
        assert result.metric("train", name).value == plain.metric("train", name).value, name


@pytest.mark.parametrize("value, message", [
    ("0", "must be a positive number, got 0"), ("-1", "must be a positive number, got -1"),
    ("abc", "'abc' is not a number"), ("", "expected a comma-separated list, got ''"),
    ("1e-3,1e-3", "repeats 0.001"),
])
def test_bad_grids_are_one_line_and_exit_2(tmp_path, capsys, value, message):
    assert main(["run", "--models", "lstm", f"--lr-grid={value}", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"rnnbench: error: --lr-grid: {message}" + ("; give each rate once" if "repeats" in message
                                                                 else "")]


def test_a_bad_grid_from_a_real_process_exits_2(cli, tmp_path):
    proc = cli("run", "--models", "lstm", "--lr-grid", "abc", "--out", tmp_path)
    assert proc.returncode == 2 and one_line_error(proc) == "rnnbench: error: --lr-grid: 'abc' is not a number"


def test_grid_and_schedule_from_a_sweep_file_and_from_a_study_layer(tmp_path):
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('models = ["lstm"]\nlr_grid = [0.01, 0.001]\nlr_schedule = "warmup-cosine"\n')
    request = resolve_request({}, sweep=sweep)
    assert request.lr_grid == [0.001, 0.01] and request.lr_schedule == ["warmup-cosine"]
    assert resolve_request({"lr_grid": "1e-3,3e-3", "lr_schedule": "constant,warmup-cosine"}).lr_grid == [1e-3, 3e-3]
    with pytest.raises(Exception, match="--lr fixes it"):
        resolve_request({"lr_grid": "1e-3", "lr": "1e-3"})
    bad = tmp_path / "bad.toml"
    bad.write_text("lr_grid = [0.0]\n")
    with pytest.raises(Exception, match="'lr_grid' must be a positive number, got 0"):
        resolve_request({}, sweep=bad)


def test_a_grid_case_is_another_case_and_old_configs_read_without_one(make_case):
    plain = make_case()
    stored = plain.to_dict()
    for key in ("lr_grid", "lr_schedule"):
        stored.pop(key)
    assert CaseConfig.from_dict(stored) == plain and CaseConfig.from_dict(stored).case_id == plain.case_id
    tuned = dataclasses.replace(plain, lr=None, lr_grid=(1e-3, 1e-2))
    assert CaseConfig.from_dict(tuned.to_dict()) == tuned and tuned.case_id != plain.case_id


def test_the_report_reads_the_grid_record_the_runner_writes(make_case):
    """execution.lr_grid writes and render.lr_grid reads one typed record (a renamed key cannot empty the table)."""
    from rnnbench.execution.lr_grid import GridChoice, record_choice
    from rnnbench.records import CaseResult
    from rnnbench.render.lr_grid import lr_grid_table

    config = make_case(lr=None, lr_grid=(1e-3, 1e-2))
    result = CaseResult(config=config)
    outcomes = [RateOutcome(1e-3, "ok", 0.75), RateOutcome(1e-2, "error", error="ValueError: diverged")]
    record_choice(result, GridChoice(outcomes, 1e-3, 0.75, None, CaseResult(config=config)), "accuracy", True,
                  "mean over 2 batches")
    assert LrGridRecord.read(result.details) == LrGridRecord(tuple(outcomes), "accuracy")
    header, [row] = lr_grid_table([result])
    assert header[3] == "validation accuracy per rate"
    assert row[3] == "0.001: 0.75 (chosen); 0.01: error (ValueError: diverged)" and row[4] == "0.001"


def test_a_rate_outcome_round_trips_through_its_dict():
    for outcome in (RateOutcome(3e-3, "ok", 0.5), RateOutcome(1.0, "oom", error="out of memory")):
        assert RateOutcome.from_dict(outcome.to_dict()) == outcome
