"""Known answers for the verdict rules: each one can fail, and each mutation of benchmarks/mutation_check.py
makes at least one of them fail (issue 36).

The t intervals are checked against scipy.stats' own tests; the corrections (Holm inside
``all_of``, Bonferroni across the groups of ``by_group``) on parts whose p-values are set so
that the correction changes a decision.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from rnnbench.analysis.verdicts import (
    ALPHA, all_of, by_group, compare, corrected, one_sample, threshold, welch,
)
from rnnbench.study_api import INCONCLUSIVE, MIXED, NOT_SUPPORTED, SUPPORTED


def seeds_at(p: float, sign: int = 1, n: int = 3) -> dict[int, float]:
    """Per-seed values whose one-sample t test against 0 has two-sided p-value ``p`` and the given sign."""
    t = sps.t.isf(p / 2, n - 1)
    spread = np.linspace(-1.0, 1.0, n)
    spread /= spread.std(ddof=1)
    mean = t / math.sqrt(n)  # with a unit SD, t = mean·√n
    return dict(enumerate(sign * (mean + spread)))


def p_of(v) -> float:
    return v.test.p_value


# -- one part: the t intervals against scipy's ------------------------------------------------

A = np.array([0.31, 0.28, 0.35, 0.30])
B = np.array([0.10, 0.19, 0.05])


def test_welch_df_se_and_p_are_scipys():
    est, se, df = welch(A, B)
    ref = sps.ttest_ind(A, B, equal_var=False)
    assert float(df) == pytest.approx(ref.df, rel=1e-12)
    assert float(est) / float(se) == pytest.approx(ref.statistic, rel=1e-12)
    v = compare("a", dict(enumerate(A)), "b", dict(enumerate(B)))
    assert p_of(v) == pytest.approx(ref.pvalue, rel=1e-9)
    lo, hi = v.test.interval(ALPHA)
    ci = ref.confidence_interval(1 - ALPHA)
    assert (lo, hi) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_one_sample_se_and_p_are_scipys():
    est, se, df = one_sample(A, 0.25)
    ref = sps.ttest_1samp(A, 0.25)
    assert float(se) == pytest.approx(sps.sem(A), rel=1e-12) and float(df) == len(A) - 1
    v = threshold("a", dict(enumerate(A)), 0.25, above=True)
    assert p_of(v) == pytest.approx(ref.pvalue, rel=1e-9)
    lo, hi = v.test.interval(ALPHA)
    ci = ref.confidence_interval(1 - ALPHA)
    assert (lo + 0.25, hi + 0.25) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_the_interval_is_two_sided():
    # p = 0.08: a one-sided 95% (two-sided 90%) interval would exclude zero; the two-sided 95% one does not
    v = threshold("x", seeds_at(0.08), 0.0, above=True)
    assert v.status == INCONCLUSIVE, v.reason
    assert "95% interval" in v.reason
    assert threshold("x", seeds_at(0.04), 0.0, above=True).status == SUPPORTED


# -- no certainty from zero spread -------------------------------------------------------------

def test_identical_seeds_are_never_decided_with_p_zero():
    """Every seed the same (a discrete statistic often ties): the old rule printed "p = 0", interval [-1, -1]."""
    v = compare("gru longest delay", {0: 0.0, 1: 0.0, 2: 0.0}, "rnn longest delay", {0: 1.0, 1: 1.0, 2: 1.0})
    assert v.status == INCONCLUSIVE, v.reason
    assert v.test.p_value == pytest.approx(0.1)  # 2 of the 20 splits of 3 and 3 seeds are as extreme
    assert "p = 0 " not in v.reason and "p = 0)" not in v.reason and "exact permutation test" in v.reason
    t = threshold("x", {0: 0.3, 1: 0.3, 2: 0.3}, 0.0, above=True)
    assert t.status == INCONCLUSIVE and t.test.p_value == pytest.approx(0.25), t.reason


def test_a_discrete_statistic_is_decided_by_the_exact_test():
    a, b = {s: float(v) for s, v in enumerate([3, 3, 10, 10, 10])}, {s: float(v) for s, v in enumerate([1, 1, 0, 1, 0])}
    v = compare("a", a, "b", b, discrete=True, min_seeds=5)
    ref = sps.permutation_test((list(a.values()), list(b.values())), lambda x, y: np.mean(x) - np.mean(y),
                               permutation_type="independent", n_resamples=np.inf)
    assert v.test.p_value == pytest.approx(ref.pvalue) and v.status == SUPPORTED  # 2/252 < 0.05
    assert "exact permutation test over 252 splits" in v.reason


# -- several parts: Holm and the groups --------------------------------------------------------

def test_holm_changes_a_decision_in_all_of():
    """A part at p = 0.03 beside one at p = 0.5: alone it is decided, under Holm (level 0.025) it is not."""
    weak = threshold("weak", seeds_at(0.03, sign=-1), 0.0, above=True)
    other = threshold("other", seeds_at(0.5), 0.0, above=True)
    assert weak.status == NOT_SUPPORTED
    v = all_of([weak, other])
    assert v.status == INCONCLUSIVE, v.reason
    assert [p.status for p in v.parts] == [INCONCLUSIVE, INCONCLUSIVE]
    assert "Holm level over 2 tested parts" in v.parts[0].reason


def test_holm_steps_down_where_bonferroni_would_stop():
    # p = 0.001 and 0.04 against the claim: Bonferroni (0.025 each) decides only the first; Holm decides both
    first = threshold("first", seeds_at(0.001, sign=-1), 0.0, above=True)
    second = threshold("second", seeds_at(0.04, sign=-1), 0.0, above=True)
    undecided = threshold("third", seeds_at(0.5), 0.0, above=True)
    assert [p.status for p in corrected([first, second], every_part=False)] == [NOT_SUPPORTED, NOT_SUPPORTED]
    assert [p.status for p in corrected([first, second, undecided], every_part=False)] == [
        NOT_SUPPORTED, INCONCLUSIVE, INCONCLUSIVE]  # 0.04 > 0.05 / 2 once a third part is in the family


def test_every_part_holding_is_decided_at_alpha_without_correction():
    parts = [threshold(f"p{k}", seeds_at(0.04), 0.0, above=True) for k in range(3)]
    assert all_of(parts).status == SUPPORTED  # intersection-union: no correction


def test_by_group_decides_a_group_at_alpha_over_the_number_of_groups():
    """Group a's one part at p = 0.03 is supported alone, but with 2 groups its level is 0.025."""
    v = by_group({"a": [threshold("a", seeds_at(0.03), 0.0, above=True)],
                  "b": [threshold("b", seeds_at(0.5), 0.0, above=True)]})
    assert [p.status for p in v.parts] == [INCONCLUSIVE, INCONCLUSIVE], v.reason
    v = by_group({"a": [threshold("a", seeds_at(0.02), 0.0, above=True)],
                  "b": [threshold("b", seeds_at(0.5), 0.0, above=True)]})
    assert [p.status for p in v.parts] == [SUPPORTED, INCONCLUSIVE], v.reason


def test_by_group_decides_the_other_side_under_holm_across_all_parts():
    """Group a's part against the claim at p = 0.03 beside an undecided group: Holm's level 0.025 leaves it."""
    v = by_group({"a": [threshold("a", seeds_at(0.03, sign=-1), 0.0, above=True)],
                  "b": [threshold("b", seeds_at(0.5), 0.0, above=True)]})
    assert [p.status for p in v.parts] == [INCONCLUSIVE, INCONCLUSIVE], v.reason
    v = by_group({"a": [threshold("a", seeds_at(0.001, sign=-1), 0.0, above=True)],
                  "b": [threshold("b", seeds_at(0.001), 0.0, above=True)]})
    assert v.status == MIXED and [p.status for p in v.parts] == [NOT_SUPPORTED, SUPPORTED], v.reason
