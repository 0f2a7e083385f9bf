"""Statistics of samples, in one place: every table, CSV, comparison, history, export
and plot takes its median and spread from :class:`Summary` (docs/ci.md explains the choices).

* Quartiles: linear interpolation between order statistics (Hyndman & Fan 1996,
  definition 7; NumPy's and pandas' default), the only quartile rnnbench computes.
  The spread printed as "±" is half the interquartile range.
* Mann–Whitney U (two-sided, on the raw samples) decides whether two sets of
  timings differ at all, as asv does; it assumes no distribution shape, which
  suits timings (skewed, with a long right tail from interruptions).
* A percentile bootstrap (Efron & Tibshirani 1993, ch. 13; ``scipy.stats.bootstrap``)
  of the ratio of medians gives the confidence interval printed beside NEW/BASE;
  it decides "same" (the interval lies inside the threshold band) versus "noisy".
* With several runs a side, a two-level bootstrap (runs, then samples within them;
  Kalibera & Jones 2012) gives the interval instead, so that run-to-run variation,
  which no sample within a run sees, counts; with one run a side, the drift between
  consecutive blocks of a run's samples bounds what a change must exceed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

#: below this many samples a spread is not printed (two samples have no quartiles worth the name)
MIN_SAMPLES_FOR_SPREAD = 3


@dataclass(frozen=True)
class Summary:
    """Median and quartiles of repeated measurements, with their count."""

    median: float
    q1: float
    q3: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> "Summary":
        values = np.asarray(samples, dtype=float)
        if values.size == 0:
            raise ValueError("no samples to summarize")
        q1, median, q3 = np.percentile(values, [25, 50, 75])  # linear: Hyndman & Fan type 7
        return cls(float(median), float(q1), float(q3), int(values.size))

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def half_iqr(self) -> float:
        """The "±" rnnbench prints: half the interquartile range."""
        return self.iqr / 2

    @property
    def has_spread(self) -> bool:
        return self.n >= MIN_SAMPLES_FOR_SPREAD

    def format(self, fmt: Callable[[float | None], str], *, with_n: bool = True) -> str:
        """``median ±IQR/2 (n=…)``, or the median with "n too small for a spread".

        ``with_n=False`` leaves the count out, for tables that show n in a column of its own.
        """
        if not self.has_spread:
            return f"{fmt(self.median)} (n={self.n}, too few for a spread)" if with_n else fmt(self.median)
        return f"{fmt(self.median)} ±{fmt(self.half_iqr)}" + (f" (n={self.n})" if with_n else "")


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_count(value: float | None) -> str:
    if value is None:
        return "-"
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for suffix, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= scale:
            scaled = value / scale
            return f"{scaled:.3g} {suffix}" if scaled < 1000 else f"{scaled:.0f} {suffix}"  # never 1.01e+03
    return f"{int(value)} B"


@dataclass(frozen=True)
class RatioEstimate:
    """NEW/BASE for timings: the ratio of medians, its bootstrap interval and the U test's p-value."""

    ratio: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n_base: int
    n_new: int


def mann_whitney_p(base: Sequence[float], new: Sequence[float]) -> float:
    """Two-sided p-value of the Mann–Whitney U test of ``new`` against ``base``."""
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(np.asarray(new, float), np.asarray(base, float), alternative="two-sided").pvalue)


def smallest_possible_p(n_base: int, n_new: int) -> float:
    """The smallest two-sided p-value a rank test can reach with these sample sizes.

    With complete separation the exact U distribution gives ``2 / C(n1 + n2, n1)``;
    when even that is above the significance level, the test cannot decide. Computed in log
    space: the binomial coefficient of pooled runs with thousands of samples a side is far
    beyond a float, and its reciprocal underflows to 0.0, which is the right answer.
    """
    from math import exp, lgamma, log

    log_comb = lgamma(n_base + n_new + 1) - lgamma(n_base + 1) - lgamma(n_new + 1)
    return min(1.0, exp(log(2.0) - log_comb))


def bootstrap_ratio_ci(base: Sequence[float], new: Sequence[float], *, confidence: float = 0.95,
                       resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of median(new) / median(base), each side resampled on its own.

    Seeded, so the same samples always give the same interval.
    """
    from scipy.stats import bootstrap

    def ratio_of_medians(b: np.ndarray, n: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.median(n, axis=axis) / np.median(b, axis=axis)

    result = bootstrap((np.asarray(base, float), np.asarray(new, float)), ratio_of_medians,
                       n_resamples=resamples, confidence_level=confidence, method="percentile",
                       vectorized=True, paired=False, rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def estimate_ratio(base: Sequence[float], new: Sequence[float], *, confidence: float = 0.95,
                   resamples: int = 2000, seed: int = 0) -> RatioEstimate:
    """Everything a timing verdict needs; the interval and p-value are None below two samples a side."""
    ratio = float(np.median(new) / np.median(base))
    if len(base) < 2 or len(new) < 2:
        return RatioEstimate(ratio, None, None, None, len(base), len(new))
    low, high = bootstrap_ratio_ci(base, new, confidence=confidence, resamples=resamples, seed=seed)
    return RatioEstimate(ratio, low, high, mann_whitney_p(base, new), len(base), len(new))


# -- between-run variance (docs/ci.md, "Rounds") ---------------------------------------------------

def hierarchical_ratio_ci(base_runs: Sequence[Sequence[float]], new_runs: Sequence[Sequence[float]], *,
                          confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Two-level percentile bootstrap interval of median(NEW) / median(BASE) over repeated runs.

    Each resample draws, on each side, as many runs as the side has, with replacement,
    then within every drawn run as many samples as it has, with replacement, and takes the
    median of the drawn samples pooled (Kalibera & Jones 2012, "Quantifying performance
    changes with effect size confidence intervals"; Davison & Hinkley 1997, §3.8). Drawing
    runs first lets the variation between runs, which no sample within a run sees, widen
    the interval. Seeded, so the same runs always give the same interval.
    """
    rng = np.random.default_rng(seed)

    def medians(runs: Sequence[Sequence[float]], count: int) -> np.ndarray:
        lengths = np.array([len(r) for r in runs])
        width = int(lengths.max())
        padded = np.full((len(runs), width), np.nan)
        for i, r in enumerate(runs):
            padded[i, :len(r)] = r
        chosen = rng.integers(0, len(runs), size=(count, len(runs)))  # runs drawn per resample
        within = np.floor(rng.random((count, len(runs), width)) * lengths[chosen][..., None]).astype(int)
        drawn = padded[chosen[..., None], within]
        if (lengths == width).all():
            return np.median(drawn.reshape(count, -1), axis=1)
        # a drawn run keeps only as many samples as it has: the rest of its row is padding
        drawn[np.arange(width)[None, None, :] >= lengths[chosen][..., None]] = np.nan
        return np.nanmedian(drawn.reshape(count, -1), axis=1)

    # resamples in batches of about 2 million drawn samples a side: memory stays bounded for long runs
    per_resample = max(len(base_runs) * max(map(len, base_runs)), len(new_runs) * max(map(len, new_runs)))
    batch = max(1, 2_000_000 // per_resample)
    ratios = np.concatenate([medians(new_runs, n) / medians(base_runs, n)
                             for n in [batch] * (resamples // batch) + ([resamples % batch] if resamples % batch else [])])
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)


#: a run's samples are cut into this many consecutive blocks to measure its drift
DRIFT_BLOCKS = 4
#: and each block needs this many samples for its median to mean something
MIN_SAMPLES_PER_BLOCK = 3


def drift_within_run(samples: Sequence[float], blocks: int = DRIFT_BLOCKS) -> float | None:
    """How far the machine drifted during one run: max/min - 1 of the medians of consecutive blocks.

    The samples are in the order they were timed; the blocks share the process, the code
    and the data, so what separates their medians is the machine's state over time.
    ``None`` when the run has too few samples to cut into blocks.
    """
    if len(samples) < blocks * MIN_SAMPLES_PER_BLOCK:
        return None
    medians = [float(np.median(part)) for part in np.array_split(np.asarray(samples, float), blocks)]
    return max(medians) / min(medians) - 1.0


@dataclass(frozen=True)
class AABand:
    """How far one run's median may move from another's of the same code: a prediction band.

    ``band`` is relative: an A/A pair's ratio NEW/BASE lies within [1/(1+band), 1+band]
    with probability ``level``; ``sd_log`` is the pooled standard deviation of the log
    run medians it rests on, ``df`` its degrees of freedom.
    """

    band: float
    level: float
    sd_log: float
    df: int
    runs: int
    groups: int


def aa_prediction_band(groups: Sequence[Sequence[float]], level: float = 0.99) -> AABand | None:
    """The band a new A/A pair of single runs stays within, from earlier runs of unchanged code.

    ``groups`` holds the median of each earlier run, one group per version of the code
    (runs within a group differ only in when they ran). Work on log medians: the pooled
    within-group standard deviation ``s`` (df = Σ(n_g − 1)) estimates the run-to-run
    spread σ that no sample within a run sees. A new pair's log ratio has standard deviation
    σ·√2 and, for normal run effects, ``d / (s·√2)`` follows Student's t with df degrees
    of freedom: a prediction interval (Hahn & Meeker 1991, "Statistical Intervals", §4.7).
    ``None`` below two degrees of freedom (with one, t's 99.5% quantile is 64).
    """
    from scipy.stats import t as student_t

    logs = [np.log(np.asarray(g, float)) for g in groups if len(g) >= 2]
    df = sum(len(g) - 1 for g in logs)
    if df < 2:
        return None
    sd = float(np.sqrt(sum(float(((g - g.mean()) ** 2).sum()) for g in logs) / df))
    quantile = float(student_t.ppf((1.0 + level) / 2.0, df))
    return AABand(float(np.expm1(quantile * sd * np.sqrt(2.0))), level, sd, df,
                  sum(len(g) for g in logs), len(logs))
