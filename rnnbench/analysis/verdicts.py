"""Verdicts that can be trusted in both directions: intervals across seeds, corrected across parts.

Every helper here returns a :class:`~rnnbench.study_api.Verdict` under the same rules.

**One part** (:func:`compare`, :func:`threshold`) is a question about a difference: is
``a − factor × b`` (or ``value − bound``) on the claimed side of zero? It is answered by a
Student *t* interval across seeds at a stated level (Welch's unequal-variance form for two
groups, the one-sample form against a bound):

* ``supported`` when the interval lies entirely on the claimed side of zero,
* ``not supported`` when it lies entirely on the other side,
* ``inconclusive`` when it straddles zero, when a seed has no value (a failed or absent
  case, a NaN) or when fewer seeds ran than the criterion needs.

Seeds without any spread (a discrete statistic often ties: every seed scores the same) give
a zero-width interval, which is no evidence of certainty: such a part, and any part a study
marks ``discrete``, is decided by an exact test instead (a permutation test over every split
of the two groups' seeds, or a sign-flip test against the bound), whose smallest p-value
with 3 seeds is 0.1 (two groups) or 0.25 (one): such a part is then undecided, and says why.

Why a *t* interval and not a bootstrap or a permutation test: with 3–5 seeds a percentile
bootstrap over seeds has 10–126 distinct resamples and undercovers badly (Efron & Tibshirani
1993, ch. 13: its coverage is poor below about 10 observations), and an exact permutation or
sign-flip test over 3 seeds cannot reach p < 0.05 at all (2³ = 8 sign patterns, smallest
two-sided p = 0.25). The *t* interval is exact for normal seed-to-seed variation, is what
Colas, Sigaud & Oudeyer (2018, "How many random seeds?") recommend for comparing learning
algorithms over few seeds (Welch's form), and its width grows honestly as seeds get fewer
(t₀.₉₇₅ = 4.30 with 3 seeds against 1.96 for many). A per-seed interval (an
:class:`Estimate` with low/high, such as a fit's standard error) is reported but not added:
the spread across seeds already carries each seed's fitting noise.

**A claim of several parts** (:func:`all_of`, :func:`by_group`) needs every part, so its two
directions are different kinds of statement and are tested as such:

* ``supported`` says *every* part holds. That is an intersection–union test (Berger 1982;
  Berger & Hsu 1996): when each part is decided at level α, the claim is wrongly called
  supported with chance at most α whatever the number of parts, because a false claim has
  at least one false part and that part alone must pass. No correction is needed, and none
  is applied: a correction would only throw away power.
* ``not supported`` says *some* part fails, a union of statements, so the parts are
  corrected by Holm–Bonferroni (Holm 1979): part tests are sorted by p-value and the j-th
  smallest (of m) is decided at level α/(m − j + 1), stopping at the first that is not, so
  that the chance of deciding *any* part wrongly stays at most α (the family-wise error
  rate) whatever the parts' dependence. Each part then shows its interval at its Holm level.

The parts are then combined into one of four outcomes:

* ``supported`` when every part holds at level α;
* ``mixed`` when, under Holm, some parts are supported and others not supported: the
  reason lists which went which way, instead of letting one part decide;
* ``not supported`` when, under Holm, some part is not supported and none is supported;
* ``inconclusive`` otherwise (some part undecided and none contradicted).

Under no effect both ``supported`` and ``not supported`` come out at most α = 5% of the time
for every claim shape the built-in studies use (tests/test_verdict_statistics.py simulates
it through :func:`compare`, :func:`threshold`, :func:`all_of` and :func:`by_group`), and
``python benchmarks/mutation_check.py`` checks that one-line mistakes in this module fail a
test. The vectorised functions (:func:`welch`, :func:`one_sample`, :func:`p_values`,
:func:`holm`, :func:`codes`, :func:`combine_codes`) are the arithmetic the scalar helpers
use; :func:`claim_codes` is :func:`all_of`'s rule for t-tested parts in one call (it has no
exact tests: seeds without spread come out undecided there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Iterable, Mapping, Sequence, Union

import numpy as np

from rnnbench.analysis.terms import TOLERANCE, unequal
from rnnbench.study_api import INCONCLUSIVE, MIXED, NOT_SUPPORTED, SUPPORTED, Verdict

#: the family-wise level of every claim: the chance of a wrong "supported" or "not supported"
ALPHA = 0.05
#: seeds a comparison needs unless its claim asks for more
MIN_SEEDS = 3

#: integer codes of the vectorised functions
NOT, UNDECIDED, YES, MIX = -1, 0, 1, 2
_STATUS = {YES: SUPPORTED, NOT: NOT_SUPPORTED, UNDECIDED: INCONCLUSIVE, MIX: MIXED}


@dataclass(frozen=True)
class Estimate:
    """A per-seed value with an optional interval (e.g. a fitted slope ± 2 standard errors)."""

    value: float
    low: float | None = None
    high: float | None = None

    @property
    def lo(self) -> float:
        return self.value if self.low is None else self.low

    @property
    def hi(self) -> float:
        return self.value if self.high is None else self.high

    def __str__(self) -> str:
        if self.low is None and self.high is None:
            return fmt(self.value)
        return f"{fmt(self.value)} [{fmt(self.lo)}, {fmt(self.hi)}]"


Value = Union[float, Estimate, None]
#: per-seed values of one quantity
Seeds = Mapping[int, Value]


def fmt(x: float | None) -> str:
    """A number in 3 significant digits, readable in a sentence."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.3g}"


# -- vectorised statistics ---------------------------------------------------------------------

def welch(a: np.ndarray, b: np.ndarray, factor: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference of means ``mean(a) − factor·mean(b)`` over the last axis, its standard error and Welch's df.

    Each side needs at least 2 values. A side with zero variance contributes nothing to the
    error; when both have none the standard error is 0 (the interval is a point) and the df
    is set to 1 (any df gives the same point).
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    na, nb = a.shape[-1], b.shape[-1]
    va = a.var(axis=-1, ddof=1) / na
    vb = factor ** 2 * b.var(axis=-1, ddof=1) / nb
    est = a.mean(axis=-1) - factor * b.mean(axis=-1)
    var = va + vb
    with np.errstate(divide="ignore", invalid="ignore"):
        df = var ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))
    df = np.where(var > 0, df, 1.0)
    return est, np.sqrt(var), df


def one_sample(x: np.ndarray, bound: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``mean(x) − bound`` over the last axis, its standard error and df n − 1."""
    x = np.asarray(x, float)
    n = x.shape[-1]
    return x.mean(axis=-1) - bound, x.std(axis=-1, ddof=1) / math.sqrt(n), np.full(x.shape[:-1], n - 1.0)


def p_values(est: np.ndarray, se: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p-values of "the difference is zero".

    A zero standard error (every seed gave the same value) gives 1, never 0: zero spread over
    a few seeds is no evidence of certainty (a discrete statistic often ties), so the t test
    cannot decide it; :func:`compare` and :func:`threshold` decide such a part by an exact
    permutation test instead (:func:`exact_p_two_samples`, :func:`exact_p_one_sample`).
    """
    est, se, df = np.broadcast_arrays(*(np.asarray(v, float) for v in (est, se, df)))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(est) / se
    from scipy import special  # deferred: study plugins load this module for `rnnbench list`

    # scipy.special's Student t CDF: the same function as scipy.stats.t.sf, without its per-call overhead
    p = 2 * special.stdtr(df, -t)
    return np.where(se > 0, p, 1.0)


def half_width(se: np.ndarray, df: np.ndarray, alpha: np.ndarray | float) -> np.ndarray:
    """Half the width of the two-sided (1 − alpha) t interval."""
    from scipy import special  # deferred: fast start

    return special.stdtrit(df, 1 - np.asarray(alpha, float) / 2) * se


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def exact_p_two_samples(a: Sequence[float], b: Sequence[float], factor: float = 1.0) -> tuple[float, int]:
    """Two-sided p-value of "``a`` and ``factor·b`` are exchangeable" by an exact permutation test.

    Every split of the pooled values into groups of the two sizes is enumerated (3 and 3 seeds:
    20 splits, so p is at least 2/20 = 0.1). Returns (p, number of splits).
    """
    from scipy import stats as sps  # deferred: fast start

    x, y = np.asarray(a, float), factor * np.asarray(b, float)
    result = sps.permutation_test((x, y), _mean_difference, permutation_type="independent",
                                  n_resamples=np.inf, vectorized=True, alternative="two-sided")
    return float(result.pvalue), len(result.null_distribution)


def exact_p_one_sample(x: Sequence[float], bound: float = 0.0) -> tuple[float, int]:
    """Two-sided p-value of "``x − bound`` is symmetric about zero" by an exact sign-flip test.

    Every pattern of signs is enumerated (3 seeds: 8, so p is at least 2/8 = 0.25).
    Returns (p, number of sign patterns).
    """
    from scipy import stats as sps  # deferred: fast start

    d = np.asarray(x, float) - bound
    result = sps.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=np.inf,
                                  vectorized=True, alternative="two-sided")
    return float(result.pvalue), len(result.null_distribution)


def holm(p: np.ndarray, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down over the last axis: (decided?, the level each part is tested at).

    The j-th smallest of m p-values is tested at alpha / (m − j + 1); a part is decided
    when its adjusted p-value (the running maximum of (m − j + 1)·p) is at most alpha.
    """
    p = np.asarray(p, float)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1)
    multipliers = m - np.arange(m)
    adjusted = np.maximum.accumulate(np.minimum(ranked * multipliers, 1.0), axis=-1)
    decided, level = np.empty_like(p, dtype=bool), np.empty_like(p)
    np.put_along_axis(decided, order, adjusted <= alpha, axis=-1)
    np.put_along_axis(level, order, np.broadcast_to(alpha / multipliers, ranked.shape), axis=-1)
    return decided, level


def codes(est: np.ndarray, decided: np.ndarray, claimed_sign: np.ndarray | int) -> np.ndarray:
    """Each part's code: YES when decided on the claimed side of zero, NOT on the other, else UNDECIDED."""
    side = np.sign(est) * np.asarray(claimed_sign)
    return np.where(decided & (side > 0), YES, np.where(decided & (side < 0), NOT, UNDECIDED))


def combine_codes(parts: np.ndarray) -> np.ndarray:
    """The four-valued "and" over the last axis (see the module docstring)."""
    parts = np.asarray(parts)
    every_yes = (parts == YES).all(axis=-1)
    some_yes = (parts == YES).any(axis=-1) | (parts == MIX).any(axis=-1)
    some_not = (parts == NOT).any(axis=-1) | (parts == MIX).any(axis=-1)
    return np.where(every_yes, YES, np.where(some_yes & some_not, MIX, np.where(some_not, NOT, UNDECIDED)))


def claim_codes(est: np.ndarray, se: np.ndarray, df: np.ndarray, claimed_sign: np.ndarray | int = 1,
                alpha: float = ALPHA) -> np.ndarray:
    """The claim's code from its parts' intervals (last axis: parts), the rule :func:`all_of` applies."""
    p = p_values(est, se, df)
    every_part_holds = (codes(est, p <= alpha, claimed_sign) == YES).all(axis=-1)
    decided, _ = holm(p, alpha)
    return np.where(every_part_holds, YES, combine_codes(codes(est, decided, claimed_sign)))


# -- one part ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PartTest:
    """The interval behind one part: ``estimate`` of a difference whose sign the claim states.

    :param claim: the part in words ("after training: rnn decay > 2 × lstm decay").
    :param quantity: what ``estimate`` is ("rnn − 2 × lstm").
    :param claimed_sign: +1 when the claim says the difference is above zero, −1 below.
    :param method: how the interval was formed ("Welch t, 3 and 3 seeds").
    :param exact_p: the two-sided p-value of an exact permutation test, when the part is decided
        by one (a discrete statistic, or seeds without spread) instead of the t interval.
    """

    claim: str
    quantity: str
    estimate: float
    se: float
    df: float
    claimed_sign: int
    method: str
    evidence: tuple[str, ...] = ()
    exact_p: float | None = None

    @cached_property
    def p_value(self) -> float:
        if self.exact_p is not None:
            return self.exact_p
        return float(p_values(self.estimate, self.se, self.df))

    def interval(self, alpha: float) -> tuple[float, float]:
        """The two-sided (1 − alpha) t interval; unbounded when the t test cannot decide (no spread, exact test)."""
        if self.exact_p is not None or not self.se > 0:
            return -math.inf, math.inf
        h = float(half_width(self.se, self.df, alpha))
        return self.estimate - h, self.estimate + h

    def verdict(self, alpha: float = ALPHA, decided: bool | None = None, note: str = "") -> Verdict:
        """The part at level 1 − alpha (``decided`` overrides the interval, as Holm's step-down may)."""
        lo, hi = self.interval(alpha)
        if decided is None:
            decided = (self.p_value <= alpha and self.estimate != 0) if self.exact_p is not None else (lo > 0 or hi < 0)
        code = int(codes(np.array(self.estimate), np.array(decided), self.claimed_sign))
        if self.exact_p is not None:
            ci = f"{self.quantity} = {fmt(self.estimate)} ({self.method}; p = {self.p_value:.2g} at level {alpha:.3g})"
        else:
            ci = (f"{self.quantity} = {fmt(self.estimate)}, {100 * (1 - alpha):.4g}% interval [{fmt(lo)}, {fmt(hi)}]"
                  f" ({self.method}; p = {self.p_value:.2g})")
        if self.exact_p is not None:
            words = {YES: "holds", NOT: "fails: the exact test puts it on the other side of zero",
                     UNDECIDED: "undecided: the exact test cannot exclude zero"}[code]
        else:
            words = {YES: "holds", NOT: "fails: the interval lies on the other side of zero",
                     UNDECIDED: "undecided: the interval straddles zero"}[code]
        return Verdict(_STATUS[code], f"{self.claim} {words} ({ci}{'; ' + note if note else ''})",
                       self.evidence, test=self)


def _as_estimate(v: Value) -> Estimate | None:
    if v is None:
        return None
    est = v if isinstance(v, Estimate) else Estimate(float(v))
    if not all(math.isfinite(x) for x in (est.value, est.lo, est.hi)):
        return None
    return est


def _per_seed(label: str, values: Seeds, min_seeds: int) -> tuple[dict[int, Estimate], Verdict | None]:
    """The estimates, or an inconclusive verdict saying which seed is missing or that too few ran."""
    out: dict[int, Estimate] = {}
    missing = []
    for seed in sorted(values):
        est = _as_estimate(values[seed])
        if est is None:
            missing.append(seed)
        else:
            out[seed] = est
    if missing:
        seeds = ", ".join(str(s) for s in missing)
        return out, Verdict(INCONCLUSIVE, f"{label}: no value for seed(s) {seeds} (a case failed or is missing)")
    if len(out) < max(min_seeds, 2):
        return out, Verdict(INCONCLUSIVE, f"{label}: {len(out)} seed(s), the criterion needs at least "
                                          f"{max(min_seeds, 2)}")
    return out, None


def describe(label: str, values: Mapping[int, Estimate]) -> str:
    """``lstm: 0.12 (seed 0), 0.15 (seed 1)``."""
    return f"{label}: " + ", ".join(f"{values[s]} (seed {s})" for s in sorted(values))


def compare(a_label: str, a: Seeds, b_label: str, b: Seeds, *, factor: float = 1.0, above: bool = True,
            min_seeds: int = MIN_SEEDS, what: str = "", alpha: float = ALPHA, discrete: bool = False) -> Verdict:
    """Is the mean of ``a`` above (or, with ``above=False``, below) ``factor ×`` the mean of ``b``?

    Decided by Welch's t interval for ``mean(a) − factor·mean(b)`` across seeds at level
    1 − alpha (unpaired: seeds of two models need not share anything). Inside
    :func:`all_of` the level is Holm's instead. A ``discrete`` statistic (a count, a value
    from a grid: ties are likely), or seeds without any spread, are decided by an exact
    permutation test of ``a`` against ``factor·b`` (:func:`exact_p_two_samples`) instead,
    never by a zero-width interval.
    """
    sa, bad = _per_seed(a_label, a, min_seeds)
    if bad:
        return bad
    sb, bad = _per_seed(b_label, b, min_seeds)
    if bad:
        return bad
    xa, xb = np.array([e.value for e in sa.values()]), np.array([e.value for e in sb.values()])
    est, se, df = welch(xa, xb, factor)
    times = "" if factor == 1 else f"{fmt(factor)} × "
    relation = ">" if above else "<"
    exact_p, method = None, f"Welch t, df {float(df):.3g}, {len(sa)} and {len(sb)} seeds"
    if discrete or not float(se) > 0:
        exact_p, splits = exact_p_two_samples(xa, xb, factor)
        why = "a discrete statistic" if discrete else "no spread across seeds"
        method = f"{why}: exact permutation test over {splits} splits of {len(sa)} and {len(sb)} seeds"
    test = PartTest(claim=f"{what + ': ' if what else ''}{a_label} {relation} {times}{b_label}",
                    quantity=f"{a_label} − {times}{b_label}", estimate=float(est), se=float(se), df=float(df),
                    claimed_sign=1 if above else -1, method=method,
                    evidence=(describe(a_label, sa), describe(b_label, sb)), exact_p=exact_p)
    return test.verdict(alpha)


def threshold(label: str, values: Seeds, bound: float, *, above: bool, min_seeds: int = MIN_SEEDS,
              what: str = "", alpha: float = ALPHA, discrete: bool = False) -> Verdict:
    """Is the mean over seeds above (or below) a fixed bound? One-sample t interval of ``mean − bound``.

    A ``discrete`` statistic, or seeds without any spread, are decided by an exact sign-flip
    test of ``value − bound`` (:func:`exact_p_one_sample`) instead.
    """
    sv, bad = _per_seed(label, values, min_seeds)
    if bad:
        return bad
    x = np.array([e.value for e in sv.values()])
    est, se, df = one_sample(x, bound)
    relation = ">" if above else "<"
    exact_p, method = None, f"one-sample t, {len(sv)} seeds"
    if discrete or not float(se) > 0:
        exact_p, patterns = exact_p_one_sample(x, bound)
        why = "a discrete statistic" if discrete else "no spread across seeds"
        method = f"{why}: exact sign-flip test over {patterns} sign patterns of {len(sv)} seeds"
    test = PartTest(claim=f"{what + ': ' if what else ''}{label} {relation} {fmt(bound)}",
                    quantity=f"mean {label} − {fmt(bound)}", estimate=float(est), se=float(se), df=float(df),
                    claimed_sign=1 if above else -1, method=method,
                    evidence=(describe(label, sv),), exact_p=exact_p)
    return test.verdict(alpha)


# -- a claim of several parts ----------------------------------------------------------------

def corrected(parts: Sequence[Verdict], alpha: float = ALPHA, *, every_part: bool = True) -> list[Verdict]:
    """Every part re-decided: at level alpha when every part then holds (``every_part``), else by Holm.

    Parts without a test (a failed case, a count that is exact) keep their status.
    """
    parts = list(parts)
    tested = [i for i, p in enumerate(parts) if p.test is not None]
    if not tested:
        return parts
    uncorrected = [p.test.verdict(alpha) if p.test is not None else p for p in parts]
    if every_part and all(p.status == SUPPORTED for p in uncorrected):
        return uncorrected  # intersection-union: every part at level alpha is a level-alpha "every part holds"
    p = np.array([parts[i].test.p_value for i in tested])
    decided, level = holm(p, alpha)
    m = len(tested)
    for k, i in enumerate(tested):
        note = f"Holm level over {m} tested parts" if m > 1 else ""
        if not decided[k] and parts[i].test.p_value <= float(level[k]):
            note += "; not decided: Holm's step-down stopped at a part with a larger p-value"
        parts[i] = parts[i].test.verdict(float(level[k]), decided=bool(decided[k]), note=note.lstrip("; "))
    return parts


def combine(parts: Sequence[Verdict], *, claim: str = "") -> Verdict:
    """The four-valued "and" of already-decided parts, naming which went which way."""
    parts = list(parts)
    lead = f"{claim}: " if claim else ""
    if not parts:
        return Verdict(INCONCLUSIVE, f"{lead}nothing was measured")
    code_of = {SUPPORTED: YES, NOT_SUPPORTED: NOT, INCONCLUSIVE: UNDECIDED, MIXED: MIX}
    status = _STATUS[int(combine_codes(np.array([code_of[p.status] for p in parts])))]
    groups = {s: [p for p in parts if p.status == s] for s in (SUPPORTED, MIXED, NOT_SUPPORTED, INCONCLUSIVE)}
    if status == MIXED:
        said = [f"{s} ({len(groups[s])}): " + "; ".join(p.reason for p in groups[s])
                for s in (SUPPORTED, MIXED, NOT_SUPPORTED) if groups[s]]
        reason = "parts disagree — " + " | ".join(said)
    else:
        reason = "; ".join(p.reason for p in groups[status])
    others = [f"[{p.status}] {p.reason}" for p in parts if p.status != status and status != MIXED]
    if status == MIXED:
        others = [f"[{p.status}] {p.reason}" for p in groups[INCONCLUSIVE]]
    evidence = tuple(others + [e for p in parts for e in p.evidence])
    return Verdict(status, f"{lead}{reason}", evidence, parts=tuple(parts))


def all_of(parts: Iterable[Verdict], *, claim: str = "", alpha: float = ALPHA) -> Verdict:
    """Holm-correct the parts' tests, then combine them (see the module docstring)."""
    return combine(corrected(list(parts), alpha), claim=claim)


def by_group(groups: Mapping[str, Sequence[Verdict]], *, alpha: float = ALPHA) -> Verdict:
    """One verdict per group (a model, a regime), then their four-valued "and".

    "The GRU generalises, the LSTM does not" comes out ``mixed`` with both named, not as one
    "not supported". A group is supported when all its parts hold at alpha / (number of
    groups) (Bonferroni across the groups' "supported" statements); otherwise its parts are
    decided by Holm across *all* tested parts of the claim.
    """
    names = list(groups)
    flat = [p for name in names for p in groups[name]]
    holm_decided = corrected(flat, alpha, every_part=False)
    per_group, start = [], 0
    for name in names:
        n = len(groups[name])
        own = [p.test.verdict(alpha / len(names)) if p.test is not None else p for p in groups[name]]
        parts = own if own and all(p.status == SUPPORTED for p in own) else holm_decided[start:start + n]
        group = combine(parts)
        per_group.append(replace(group, reason=f"{name}: {group.status} — {group.reason}"))
        start += n
    return combine(per_group)


def failed_cases(results: Iterable, sweep: str) -> Verdict | None:
    """``inconclusive`` naming the failed cases of a sweep, or ``None`` when all are ok."""
    failed = [r for r in results if r.status != "ok"]
    if not failed:
        return None
    first = failed[0]
    more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
    return Verdict(INCONCLUSIVE, f"sweep '{sweep}': {first.config.label()} {first.status}: "
                   f"{first.error or 'no message'}{more}")


#: the decision rule every criterion of a study ends with (docs/studies.md explains it)
RULE = (f"Every comparison is decided by a {100 * (1 - ALPHA):g}% Student t interval across seeds (Welch's for two"
        f" models, one-sample against a bound), with at least {MIN_SEEDS} seeds (seeds without spread, and discrete"
        " statistics, by an exact permutation or sign-flip test instead): supported when every part's interval"
        " lies on the claimed side; not supported when, under Holm's correction across the claim's parts, some part's"
        " interval lies on the other side and none on the claimed side; mixed when parts go both ways (each named);"
        " inconclusive when an interval straddles its bound, with fewer seeds, or when a case failed.")


# -- equal terms -----------------------------------------------------------------------------

def equal_terms(results: Iterable, kinds: Sequence[str] = ("params",), *, within: Sequence[str] = ("seq_len",),
                tolerance: float | None = None) -> Verdict | None:
    """``inconclusive`` with the figures when a criterion's "equal parameters" (or steps, wall clock,
    FLOPs) does not hold, else ``None``.

    Cases are compared within each point of the sweep (the config fields ``within``, such as
    the sequence length: matching sizes models per point); failed cases are left to the
    failed-case rule. ``kinds`` are keys of :data:`rnnbench.analysis.terms.KINDS`.
    """
    groups: dict[tuple, list] = {}
    for r in results:
        if r.status == "ok":
            groups.setdefault(tuple(getattr(r.config, f) for f in within), []).append(r)
    for point, cases in sorted(groups.items(), key=lambda kv: str(kv[0])):
        for kind in kinds:
            why = unequal(cases, kind, TOLERANCE if tolerance is None else tolerance)
            if why:
                where = ", ".join(f"{f} {v}" for f, v in zip(within, point))
                return Verdict(INCONCLUSIVE, f"the criterion needs equal terms, but at {where} {why}")
    return None


def unless_unequal(verdict: Verdict, guard: Verdict | None) -> Verdict:
    """The verdict, or the guard's ``inconclusive`` keeping what the analysis alone would have said."""
    if guard is None:
        return verdict
    return Verdict(INCONCLUSIVE, guard.reason,
                   (f"the analysis alone would say {verdict.status}: {verdict.reason}", *verdict.evidence))
