"""--flops-budget: each model trains for the steps its counted FLOPs per step allow, so models of unequal
cost get equal compute (the FLOPs half of Languini's protocol, claim 5 of rnn-claims)."""

import os

from run_helpers import one_line_error, rnnbench, run_sweep
from rnnbench.analysis.terms import unequal
from rnnbench.store import ResultsStore

SWEEP = ["--models", "lstm,transformer", "--tasks", "copy", "--seq-len", "8", "--batch-size", "4", "--hidden", "16",
         "--scenarios", "train", "--threads", "1", "--no-progress"]


def test_each_model_trains_for_the_steps_its_flops_allow(tmp_path):
    run_id = run_sweep(tmp_path, *SWEEP, "--flops-budget", "4e8")
    with ResultsStore(os.path.join(tmp_path, "rnnbench.db"), create=False) as store:
        results = store.results(run_id)
    steps = {}
    for r in results:
        per_step = r.metric("train", "flops").value / r.metric("train", "steps_reached").value
        reached = r.metric("train", "steps_reached").value
        assert r.config.flops_budget == 4e8 and r.config.steps is None
        assert reached == int(4e8 // per_step) and reached >= 2  # rounded down: the budget is never passed
        assert 4e8 - per_step < r.metric("train", "flops").value <= 4e8
        assert r.metric("train", "flops_budget").value == 4e8
        steps[r.config.arch] = reached
    assert steps["lstm"] != steps["transformer"]  # unequal costs, so unequal steps ...
    assert unequal(results, "train_flops", tolerance=0.25) is None  # ... for (nearly) equal FLOPs


def test_a_flops_budget_with_steps_or_a_time_budget_is_one_clear_line(tmp_path):
    replaces = "--flops-budget replaces --steps and --time-budget"
    for flags, expected in ((["--flops-budget", "1e8", "--steps", "5"], replaces),
                            (["--flops-budget", "1e8", "--time-budget", "1"], replaces),
                            (["--flops-budget", "-1"], "--flops-budget: must be a positive number")):
        proc = rnnbench("run", "--out", tmp_path, *SWEEP, *flags)
        assert proc.returncode == 2, proc.stderr
        assert expected in one_line_error(proc)
