"""A/A history read from a real store: which earlier runs count, and the band they give."""

import os

import numpy as np
import pytest

from rnnbench.analysis.aa_history import load_aa_history
from rnnbench.analysis.sources import load_run_source
from rnnbench.records import CaseConfig, CaseResult, Metric, RunInfo
from rnnbench.store import ResultsStore

CONFIG = CaseConfig(model="lstm@torch", task="copy", task_options=(), seq_len=3, batch_size=4, hidden=8,
                    layers=1, device="cpu", dtype="float32", seed=0, steps=5, lr=0.002)
MACHINE = {"host": "runner-1", "cpu": "AMD EPYC", "cpu_count": 2, "threads": 1}


def store_run(out, run_id, created, median, **env):
    samples = list(median * np.random.default_rng(int(created)).lognormal(0.0, 0.01, 40))
    with ResultsStore(os.path.join(out, "rnnbench.db")) as store:
        store.create_run(RunInfo(run_id=run_id, folder=out, env={**MACHINE, **env}, created_at=created))
        store.add_result(run_id, CaseResult(config=CONFIG, metrics=[
            Metric("forward", "latency_s", float(np.median(samples)), "s", "test", samples)]))
        store.finish_run(run_id)


def history_of(out, base_id, new_id):
    base, new = load_run_source(base_id, out, "BASE"), load_run_source(new_id, out, "NEW")
    [history] = load_aa_history(out, [base], [new], {(CONFIG.case_id, "forward", "latency_s")}).values()
    return history


@pytest.fixture
def out(tmp_path):
    # three earlier runs of commit "a" that scatter by about 3%, and runs that must not count
    for i, median in enumerate((1.00e-3, 1.03e-3, 0.97e-3)):
        store_run(tmp_path, f"a{i}", i, median, git_commit="a")
    store_run(tmp_path, "dirty", 10, 3e-3, git_commit="a+dirty")        # uncommitted code: A/A of nothing
    store_run(tmp_path, "elsewhere", 11, 5e-3, git_commit="a", host="runner-2")  # another machine
    store_run(tmp_path, "two-threads", 12, 0.5e-3, git_commit="a", threads=2)
    store_run(tmp_path, "base", 20, 1.0e-3, git_commit="a")
    store_run(tmp_path, "new", 21, 1.5e-3, git_commit="b")
    return tmp_path


def test_the_band_comes_from_other_runs_of_one_commit_on_this_machine(out):
    history = history_of(out, "base", "new")
    band = history.band
    # a0, a1, a2 only: BASE and NEW are what is judged, and the rest ran elsewhere or on other code
    assert band.runs == 3 and band.groups == 1 and band.df == 2
    assert band.sd_log == pytest.approx(float(np.std(np.log([1.00, 1.03, 0.97]), ddof=1)), rel=0.05)
    assert 0.2 < band.band < 0.7  # t(2 df) at 99.5% is 9.9: three runs give a wide band
    assert "99% A/A band" in history.describe() and "3 earlier runs of 1 commit(s)" in history.describe()


def test_too_few_runs_and_other_machines_give_no_band(tmp_path, out):
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    store_run(lonely, "a0", 0, 1e-3, git_commit="a")
    store_run(lonely, "base", 1, 1e-3, git_commit="a")
    store_run(lonely, "new", 2, 1e-3, git_commit="b")
    history = history_of(lonely, "base", "new")
    assert history.band is None and "too little A/A history on this machine (1 other run(s)" in history.why_none
    history = history_of(out, "base", "elsewhere")
    assert history.band is None and "different machines" in history.why_none
