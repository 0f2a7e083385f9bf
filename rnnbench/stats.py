"""Statistics for comparing two sets of timing samples (docs/ci.md explains the choices).

* Mann–Whitney U (two-sided, on the raw samples) decides whether the two
  distributions differ at all, as asv does; it assumes no distribution shape,
  which suits timings (skewed, with a long right tail from interruptions).
* A percentile bootstrap of the ratio of medians gives the confidence interval
  printed beside NEW/BASE; it decides "same" (the interval lies inside the
  threshold band) versus "noisy" (the samples cannot rule out a change beyond it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


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
    when even that is above the significance level, the test cannot decide.
    """
    from math import comb

    return min(1.0, 2.0 / comb(n_base + n_new, n_base))


def bootstrap_ratio_ci(base: Sequence[float], new: Sequence[float], *, confidence: float = 0.95,
                       resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of median(new) / median(base), resampling each side on its own.

    Seeded, so the same samples always give the same interval.
    """
    rng = np.random.default_rng(seed)
    b = np.asarray(base, float)
    n = np.asarray(new, float)
    # median of each resample: draw indices [resamples, len] and take the median along the rows
    b_medians = np.median(b[rng.integers(0, len(b), size=(resamples, len(b)))], axis=1)
    n_medians = np.median(n[rng.integers(0, len(n), size=(resamples, len(n)))], axis=1)
    ratios = n_medians / b_medians
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(ratios, [tail, 100.0 - tail])
    return float(low), float(high)


def estimate_ratio(base: Sequence[float], new: Sequence[float], *, confidence: float = 0.95,
                   resamples: int = 2000, seed: int = 0) -> RatioEstimate:
    """Everything a timing verdict needs; the interval and p-value are None below two samples a side."""
    ratio = float(np.median(new) / np.median(base))
    if len(base) < 2 or len(new) < 2:
        return RatioEstimate(ratio, None, None, None, len(base), len(new))
    low, high = bootstrap_ratio_ci(base, new, confidence=confidence, resamples=resamples, seed=seed)
    return RatioEstimate(ratio, low, high, mann_whitney_p(base, new), len(base), len(new))
