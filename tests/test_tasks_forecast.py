"""forecast: chronological splits no window crosses, train-only normalisation, metrics and named baselines."""

import numpy as np
import pytest

pytest.importorskip("statsmodels")

from rnnbench.task_api import baseline_entries  # noqa: E402
from rnnbench.tasks import forecast  # noqa: E402


def task(series="co2", context=24, horizon=1, seed=0):
    return forecast.factory({"series": series, "horizon": horizon}, context, seed)


def test_shapes_and_the_forecast_at_the_last_step():
    t = task(horizon=3)
    b = t.batch("train", 0, 8)
    assert b.inputs.shape == (8, 24, 1) and b.targets.shape == (8, 24, 3) and b.mask.shape == (8, 24)
    assert (b.mask[:, -1] == 1).all() and b.mask.sum() == 8
    assert (t.shape.input_kind, t.shape.output_kind, t.shape.output_size) == ("features", "regression", 3)


@pytest.mark.parametrize("series", ["co2", "sunspots", "elnino"])
def test_no_window_crosses_a_split_and_no_test_window_overlaps_a_training_window(series):
    data = forecast.windows(series, 24, 2)
    spans = {split: [(s, s + 26) for s in starts] for split, starts in data.starts.items()}
    for split, (lo, hi) in data.bounds.items():
        assert all(lo <= a and b <= hi for a, b in spans[split])
    last_train_step = max(b for _, b in spans["train"])
    first_test_step = min(a for a, _ in spans["test"])
    assert last_train_step <= data.bounds["valid"][0] <= first_test_step  # train steps end before test steps begin


def test_windows_hold_the_series_values():
    t = task(context=5, horizon=2)
    raw = forecast.load_series("co2")
    start = int(t.data.starts["test"][0])
    b = t.batch("test", 0, 4)
    assert np.allclose(b.inputs[0, :, 0] * t.data.std + t.data.mean, raw[start:start + 5], atol=1e-3)
    assert np.allclose(b.targets[0, -1] * t.data.std + t.data.mean, raw[start + 5:start + 7], atol=1e-3)
    assert not np.isnan(raw).any()  # co2's missing weeks are interpolated


def test_normalisation_fitted_on_train_only():
    data = forecast.windows("co2", 24, 1)
    lo, hi = data.bounds["train"]
    assert abs(data.values[lo:hi].mean()) < 1e-9 and data.values[lo:hi].std() == pytest.approx(1.0)
    assert data.values[slice(*data.bounds["test"])].mean() > 1.0  # CO2 rises: test lies above the training range


def test_deterministic_and_whole_test_set():
    a, b = task(seed=3), task(seed=3)
    assert np.array_equal(a.batch("train", 4, 16).inputs, b.batch("train", 4, 16).inputs)
    count = len(a.data.starts["test"])
    batches = a.test_batches(64)
    assert sum(a.batch("test", i, 64).mask.sum() for i in range(batches)) == count


def test_baselines_recomputed_and_named():
    t = task(series="sunspots", context=12, horizon=1)
    raw = t.data.values
    starts = t.data.starts["test"]
    target = raw[starts + 12]
    persistence = np.mean((raw[starts + 11] - target) ** 2)
    seasonal = np.mean((raw[starts + 12 - 11] - target) ** 2)
    baselines = baseline_entries(t.baselines())
    assert baselines["mse"].value == pytest.approx(persistence) and baselines["mse"].kind == "persistence"
    assert baselines["mse_seasonal_naive"].value == pytest.approx(seasonal)
    assert baselines["mse_seasonal_naive"].kind == "seasonal naive"
    # a model that forecasts exactly persistence has skill 0 and the persistence MSE
    outputs = np.zeros((len(starts), 12, 1), np.float32)
    batch = t.batch("test", 0, len(starts))
    outputs[:, -1, 0] = batch.inputs[:, -1, 0]
    scores = t.metrics(outputs, batch)
    assert scores["mse"] == pytest.approx(persistence, rel=1e-5) and scores["skill_vs_persistence"] == pytest.approx(0, abs=1e-5)


def test_contract(registry):
    from rnnbench.testing import check_task

    report = check_task(registry.tasks["forecast"], options={"series": "elnino", "horizon": 2}, batch_size=16,
                        batches=4)
    assert any("taken as declared" in line for line in report.checked)


def test_windows_too_long_for_a_split_are_refused():
    with pytest.raises(ValueError, match="too few for one window"):
        forecast.check_options({"series": "sunspots", "horizon": 1}, 60)
    with pytest.raises(ValueError, match="unknown series"):
        forecast.check_options({"series": "gold", "horizon": 1}, 10)
