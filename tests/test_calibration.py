"""The calibration: a fixed reference computation timed at each run's start and end, and what
compare and history do with it (the ratio, the warning, --normalise)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from run_helpers import rnnbench
from rnnbench.analysis.calibration import CalibrationRatio
from rnnbench.execution import calibration
from rnnbench.records import CaseConfig, CaseResult, Metric, RunInfo
from rnnbench.store import ResultsStore


def test_a_measurement_times_both_computations_at_the_thread_count():
    env = {}
    calibration.record(env, "start", 1)
    reading = env["calibration"]["start"]
    assert reading["gemm_s"] > 0 and reading["recurrent_s"] > 0 and reading["threads"] == 1
    assert "torch.mm" in env["calibration"]["method"]
    assert calibration.drift(env) is None  # no end yet
    assert calibration.score(env)["combined"] == pytest.approx((reading["gemm_s"] * reading["recurrent_s"]) ** 0.5)


def _env(gemm, recurrent, end_factor=1.0):
    return {"git_commit": "c", "calibration": {
        "start": {"gemm_s": gemm, "recurrent_s": recurrent},
        "end": {"gemm_s": gemm * end_factor, "recurrent_s": recurrent * end_factor}}}


def test_score_is_the_geometric_mean_of_start_and_end_and_old_runs_have_none():
    env = _env(1e-5, 4e-4, end_factor=1.21)
    assert calibration.score(env)["gemm_s"] == pytest.approx(1.1e-5)
    assert calibration.drift(env) == pytest.approx(1.21)
    assert calibration.score({}) is None and calibration.score({"calibration": {"start": {"gemm_s": "x"}}}) is None
    ratio = CalibrationRatio(calibration.score(_env(1e-5, 4e-4)), calibration.score(_env(1.3e-5, 5.2e-4)))
    assert ratio.ratio() == pytest.approx(1.3) and ratio.differs and "x1.300" in ratio.describe()
    assert "not measured in BASE" in CalibrationRatio(None, ratio.new).describe()


def _store_run(out, run_id, created, env, latency_samples):
    config = CaseConfig(model="lstm@torch", task="copy", task_options=(), seq_len=3, batch_size=4, hidden=8,
                        layers=1, device="cpu", dtype="float32", seed=0, steps=5, lr=0.002)
    with ResultsStore(os.path.join(out, "rnnbench.db")) as store:
        store.create_run(RunInfo(run_id=run_id, folder=out, env=env, created_at=created))
        store.add_result(run_id, CaseResult(config=config, metrics=[
            Metric("forward", "latency_s", float(np.median(latency_samples)), "s", "test", list(latency_samples))]))
        store.finish_run(run_id)


@pytest.fixture(scope="module")
def slower_machine(tmp_path_factory):
    """The same code on a machine 30% slower: every timing and the calibration move together."""
    out = str(tmp_path_factory.mktemp("calibration"))
    samples = 1e-3 * np.random.default_rng(0).lognormal(0.0, 0.02, 60)
    _store_run(out, "20260101-000000-base", 1.0, _env(1e-5, 4e-4), samples)
    _store_run(out, "20260101-000001-news", 2.0, _env(1.3e-5, 5.2e-4), samples[::-1] * 1.3)
    return out


def test_compare_prints_the_ratio_warns_and_normalises(slower_machine):
    plain = rnnbench("compare", "--out", slower_machine, "latest~1", "latest", "--format", "json")
    doc = json.loads(plain.stdout)
    # one run a side and nothing else in the store: no A/A band, so the 30% decides nothing ...
    assert plain.returncode == 0 and doc["rows"][0]["verdict"] == "noisy"
    assert "too little A/A history" in doc["rows"][0]["note"]
    # ... while the rule of before calls it slower, though the machine, not the code, changed
    strict = rnnbench("compare", "--out", slower_machine, "latest~1", "latest", "--strict", "--format", "json")
    assert strict.returncode == 1 and json.loads(strict.stdout)["rows"][0]["verdict"] == "slower"
    assert doc["calibration"]["ratio"] == pytest.approx(1.3) and doc["calibration"]["differs"]
    assert any("differs by 30%" in line and "--normalise" in line for line in doc["calibration"]["text"])
    normalised = rnnbench("compare", "--out", slower_machine, "latest~1", "latest", "--normalise", "--format", "json")
    doc = json.loads(normalised.stdout)
    assert normalised.returncode == 0 and doc["rows"][0]["verdict"] == "same"
    assert doc["rows"][0]["ratio"] == pytest.approx(1.0) and doc["calibration"]["normalised"]
    table = rnnbench("compare", "--out", slower_machine, "latest~1", "latest")
    assert "calibration NEW/BASE: x1.300" in table.stdout and "warning: the calibration differs by 30%" in table.stdout


def test_history_shows_normalised_timings(slower_machine):
    from rnnbench.analysis.history import load_history

    h = load_history(Path(slower_machine) / "rnnbench.db", "forward_latency_s", [], [], normalise=True)
    values = [next(iter(run.points.values())).value for run in h.runs]
    assert values[0] == pytest.approx(values[1]) and h.unit == "x calibration" and h.normalised


def test_normalising_runs_without_a_calibration_is_one_clear_line(tmp_path):
    samples = [1e-3] * 20
    _store_run(str(tmp_path), "20260101-000000-aaaa", 1.0, {"git_commit": "c"}, samples)
    _store_run(str(tmp_path), "20260101-000001-bbbb", 2.0, {"git_commit": "c"}, samples)
    proc = rnnbench("compare", "--out", tmp_path, "latest~1", "latest", "--normalise")
    assert proc.returncode == 2 and "--normalise: calibration: not measured in BASE and NEW" in proc.stderr
    plain = rnnbench("compare", "--out", tmp_path, "latest~1", "latest")
    assert plain.returncode == 0 and "calibration: not measured in BASE and NEW" in plain.stdout
