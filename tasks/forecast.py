"""``forecast``: forecasting a real series from statsmodels' bundled data sets.

The series is cut in time into train (the first 70%), valid (the next 15%) and test (the last
15%). A window is ``T`` observed steps followed by the ``H`` steps to forecast, and belongs to
a split only when all of its ``T + H`` steps lie inside it, so no window crosses a boundary and
no test window shares a step with a training window. Values are standardised with the mean and
standard deviation of the training part only. The model reads one value per step and, at the
last observed step, outputs the next ``H`` values (a regression of width ``H``).

Metrics, on the standardised scale over the whole test set: MSE (primary, lower is better), MAE,
and the skill against persistence, ``1 - MSE / MSE_persistence`` (the persistence MSE of the
whole test set, so the skill averages exactly over batches). Baselines, both real forecasters
that read the input: persistence (the last observed value, repeated) and seasonal naive (the
value one season before each forecast step).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from rnnbench.tasks._data import covering_batches, finite_batch_ids, missing, require
from rnnbench.tasks._splits import split_rng

import rnnbench
from rnnbench.specs import TaskDefaults
from rnnbench.task_api import Baseline, TaskShape
from rnnbench.tasks._bounds import check_count

#: series name -> (what it is, its season in steps)
SERIES = {
    "co2": ("Mauna Loa weekly atmospheric CO2, ppm, March 1958 - December 2001 (2,284 weeks)", 52),
    "sunspots": ("yearly sunspot numbers, 1700-2008 (309 years)", 11),
    "elnino": ("monthly sea surface temperature, Nino 1+2 region, 1950-2010 (732 months)", 12),
}
#: the chronological split: fractions of the series' steps
SPLIT_FRACTIONS = {"train": 0.70, "valid": 0.15, "test": 0.15}
PACKAGES = ("statsmodels",)


def load_series(name: str) -> np.ndarray:
    """The raw series as float64; co2's 59 missing weeks filled by linear interpolation in time."""
    datasets = require("statsmodels.api").datasets
    if name == "co2":
        return datasets.co2.load_pandas().data["co2"].interpolate(method="time").to_numpy(np.float64)
    if name == "sunspots":
        return datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(np.float64)
    frame = datasets.elnino.load_pandas().data
    return frame.drop(columns="YEAR").to_numpy(np.float64).ravel()  # the months of each year in order


@dataclass(frozen=True)
class Windows:
    """One series split in time and standardised; the window starts of each split."""

    values: np.ndarray  # the whole series, standardised with the training part's statistics
    bounds: dict[str, tuple[int, int]]  # split -> [first, end) steps of the series
    starts: dict[str, np.ndarray]  # split -> first step of each window inside it
    mean: float
    std: float


@functools.lru_cache(maxsize=16)
def windows(name: str, context: int, horizon: int) -> Windows:
    raw = load_series(name)
    n = len(raw)
    first_valid = int(round(n * SPLIT_FRACTIONS["train"]))
    first_test = int(round(n * (SPLIT_FRACTIONS["train"] + SPLIT_FRACTIONS["valid"])))
    bounds = {"train": (0, first_valid), "valid": (first_valid, first_test), "test": (first_test, n)}
    train = raw[:first_valid]
    mean, std = float(train.mean()), float(train.std())
    span = context + horizon
    starts = {split: np.arange(lo, hi - span + 1) for split, (lo, hi) in bounds.items()}
    return Windows((raw - mean) / std, bounds, starts, mean, std)


class ForecastTask(rnnbench.Task):
    primary_metric = "mse"
    higher_is_better = False
    metric_scale = ("on the series standardised with the training split's mean and standard deviation (sd):"
                    " mse in sd², mae in sd; skill_vs_persistence is unitless")

    def __init__(self, series: str, context: int, horizon: int, seed: int):
        check_sizes(series, context, horizon)
        self.series, self.context, self.horizon, self.seed = series, context, horizon, seed
        self.season = SERIES[series][1]
        self.data = windows(series, context, horizon)
        self.shape = TaskShape(input_kind="features", input_size=1, output_kind="regression",
                               output_size=horizon, seq_len=context)
        self._persistence = self._reference_errors("persistence")
        self._seasonal = self._reference_errors("seasonal naive")

    def _windows(self, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Observed steps ``[N, T]`` and the steps to forecast ``[N, H]`` of windows starting at ``starts``."""
        T, H = self.context, self.horizon
        observed = self.data.values[starts[:, None] + np.arange(T)]
        future = self.data.values[starts[:, None] + T + np.arange(H)]
        return observed, future

    def forecast(self, kind: str, starts: np.ndarray) -> np.ndarray:
        """The baseline forecasts ``[N, H]``: persistence, or the value one season before each step."""
        T, H = self.context, self.horizon
        if kind == "persistence":
            return np.repeat(self.data.values[starts + T - 1][:, None], H, axis=1)
        return self.data.values[starts[:, None] + T + np.arange(H) - self.season]

    def _reference_errors(self, kind: str) -> tuple[float, float]:
        starts = self.data.starts["test"]
        error = self.forecast(kind, starts) - self._windows(starts)[1]
        return float(np.mean(error ** 2)), float(np.mean(np.abs(error)))

    def batch(self, split: str, index: int, batch_size: int) -> rnnbench.Batch:
        rng = split_rng(self.seed, split, index)  # validates split and index
        starts = self.data.starts[split]
        ids, counted = finite_batch_ids(split, index, batch_size, len(starts), rng)
        observed, future = self._windows(starts[ids])
        T = self.context
        targets = np.zeros((batch_size, T, self.horizon), dtype=np.float32)
        targets[:, -1] = future
        mask = np.zeros((batch_size, T), dtype=np.float32)
        mask[:, -1] = counted
        return rnnbench.Batch(observed[..., None].astype(np.float32), targets, mask)

    def test_batches(self, batch_size: int) -> int:
        return covering_batches(len(self.data.starts["test"]), batch_size)

    def metrics(self, outputs: np.ndarray, batch: rnnbench.Batch) -> dict[str, float]:
        mask = batch.mask > 0
        error = outputs.astype(np.float64)[mask] - batch.targets.astype(np.float64)[mask]
        mse = float(np.mean(error ** 2))
        return {"mse": mse, "mae": float(np.mean(np.abs(error))),
                "skill_vs_persistence": 1.0 - mse / self._persistence[0]}

    def baselines(self) -> dict[str, list[Baseline]]:
        (p_mse, p_mae), (s_mse, s_mae) = self._persistence, self._seasonal
        season = f"{self.season} steps back"
        persistence = "last observed value"
        # two forecasters per metric, both shown; persistence first (the skill's reference), the seasonal
        # naive one stored as baseline_<metric>_seasonal_naive
        return {
            "mse": [Baseline(p_mse, "persistence", persistence),
                    Baseline(s_mse, "seasonal naive", season, key="seasonal_naive")],
            "mae": [Baseline(p_mae, "persistence", persistence),
                    Baseline(s_mae, "seasonal naive", season, key="seasonal_naive")],
            "skill_vs_persistence": [Baseline(0.0, "persistence", persistence),
                                     Baseline(1.0 - s_mse / p_mse, "seasonal naive", season, key="seasonal_naive")],
        }


def check_sizes(series: str, context: int, horizon: int) -> None:
    if series not in SERIES:
        raise ValueError(f"unknown series {series!r}; statsmodels bundles {', '.join(SERIES)}")
    check_count("--seq-len (the observed steps of a window)", context)
    check_count("horizon", horizon)


def check_options(options: dict, seq_len: int) -> None:
    """Sizes first, then whether the shortest split (valid, test: 15% each) holds a window."""
    check_sizes(options["series"], seq_len, options["horizon"])
    reason = missing(*PACKAGES)
    if reason:
        raise ValueError(reason)
    data = windows(options["series"], seq_len, options["horizon"])
    for split, starts in data.starts.items():
        if len(starts) == 0:
            lo, hi = data.bounds[split]
            raise ValueError(f"the {split} part of {options['series']} has {hi - lo} steps, too few for one window"
                             f" of --seq-len {seq_len} + horizon {options['horizon']}; use shorter windows")


def factory(options: dict, seq_len: int, seed: int) -> ForecastTask:
    return ForecastTask(series=options["series"], context=seq_len, horizon=options["horizon"], seed=seed)


@rnnbench.hookimpl
def rnnbench_register_tasks(register):
    register(rnnbench.TaskSpec(
        name="forecast", factory=factory, check_options=check_options,
        options={"series": "co2", "horizon": 1},
        defaults=TaskDefaults(seq_len=24, batch_size=32, steps=400, lr=2e-3),
        seq_len_meaning="observed steps T of each window (the forecast is made at its last step)",
        description="forecast a real series H steps ahead (statsmodels: " + ", ".join(SERIES) + ")",
        source="statsmodels: bundled series; chronological 70/15/15 split",
        available=lambda: missing(*PACKAGES),
    ))
