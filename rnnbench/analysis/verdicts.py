"""Verdicts that do not over-claim: decide a pre-stated criterion from per-seed values.

Every helper here returns a :class:`~rnnbench.study_api.Verdict` under the same rules:

* a missing value (a failed or absent case, a NaN) makes the verdict ``inconclusive``;
* so do fewer seeds than the criterion needs;
* a comparison is ``supported`` only when the values of every seed lie on the claimed
  side, ``not supported`` only when every seed lies on the other side, and
  ``inconclusive`` when the spread across seeds (and any per-seed interval, such as a
  fit's standard error) overlaps the boundary.

Combining: :func:`all_of` is the three-valued "and" (one part not supported makes the
claim not supported; otherwise one inconclusive part makes it inconclusive).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Union

from rnnbench.study_api import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Verdict


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


def fmt(x: float) -> str:
    """A number in 3 significant digits, readable in a sentence."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.3g}"


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
    if len(out) < min_seeds:
        return out, Verdict(INCONCLUSIVE, f"{label}: {len(out)} seed(s), the criterion needs at least {min_seeds}")
    return out, None


def describe(label: str, values: Mapping[int, Estimate]) -> str:
    """``lstm: 0.12 (seed 0), 0.15 (seed 1)``."""
    return f"{label}: " + ", ".join(f"{values[s]} (seed {s})" for s in sorted(values))


def compare(a_label: str, a: Seeds, b_label: str, b: Seeds, *, factor: float = 1.0, above: bool = True,
            min_seeds: int = 2, what: str = "") -> Verdict:
    """Is ``a`` above (or below) ``factor × b``, in every seed and beyond the spread?

    Unpaired on purpose: ``supported`` needs the lowest ``a`` (its interval's low end)
    to clear ``factor ×`` the highest ``b``, so that the spread across seeds cannot
    overlap; ``not supported`` needs the reverse; anything between is ``inconclusive``.
    With ``above=False`` the claim is "a below factor × b" and the sides swap.
    """
    sa, bad = _per_seed(a_label, a, min_seeds)
    if bad:
        return bad
    sb, bad = _per_seed(b_label, b, min_seeds)
    if bad:
        return bad
    scaled = (lambda x: factor * x)
    a_lo, a_hi = min(e.lo for e in sa.values()), max(e.hi for e in sa.values())
    # factor may be negative in principle; take both ends of the scaled interval
    b_ends = [scaled(e.lo) for e in sb.values()] + [scaled(e.hi) for e in sb.values()]
    b_lo, b_hi = min(b_ends), max(b_ends)
    times = "" if factor == 1 else f"{fmt(factor)} × "
    relation = ">" if above else "<"
    claim = f"{what + ': ' if what else ''}{a_label} {relation} {times}{b_label}"
    evidence = (describe(a_label, sa), describe(b_label, sb))
    span = (f"{a_label} spans [{fmt(a_lo)}, {fmt(a_hi)}], {times}{b_label} spans [{fmt(b_lo)}, {fmt(b_hi)}]"
            f" over {len(sa)} and {len(sb)} seed(s)")
    if above:
        holds, fails = a_lo > b_hi, a_hi < b_lo
    else:
        holds, fails = a_hi < b_lo, a_lo > b_hi
    if holds:
        return Verdict(SUPPORTED, f"{claim} in every seed ({span})", evidence)
    if fails:
        return Verdict(NOT_SUPPORTED, f"{claim} fails in every seed ({span})", evidence)
    return Verdict(INCONCLUSIVE, f"{claim}: the spread across seeds overlaps ({span})", evidence)


def threshold(label: str, values: Seeds, bound: float, *, above: bool, min_seeds: int = 2,
              what: str = "") -> Verdict:
    """Is every seed's value above (or below) a fixed bound?"""
    sv, bad = _per_seed(label, values, min_seeds)
    if bad:
        return bad
    lo, hi = min(e.lo for e in sv.values()), max(e.hi for e in sv.values())
    relation = ">" if above else "<"
    claim = f"{what + ': ' if what else ''}{label} {relation} {fmt(bound)}"
    span = f"{label} spans [{fmt(lo)}, {fmt(hi)}] over {len(sv)} seed(s)"
    holds, fails = (lo > bound, hi < bound) if above else (hi < bound, lo > bound)
    evidence = (describe(label, sv),)
    if holds:
        return Verdict(SUPPORTED, f"{claim} in every seed ({span})", evidence)
    if fails:
        return Verdict(NOT_SUPPORTED, f"{claim} fails in every seed ({span})", evidence)
    return Verdict(INCONCLUSIVE, f"{claim}: the seeds fall on both sides ({span})", evidence)


def all_of(parts: Iterable[Verdict], *, claim: str = "") -> Verdict:
    """The three-valued "and" of several verdicts, with every part's reason kept.

    One ``not supported`` part decides ``not supported`` (the criterion is contradicted
    whatever the others say); otherwise one ``inconclusive`` part makes the whole
    inconclusive; all parts ``supported`` make it supported.
    """
    parts = list(parts)
    if not parts:
        return Verdict(INCONCLUSIVE, f"{claim + ': ' if claim else ''}nothing was measured")
    statuses = [p.status for p in parts]
    if NOT_SUPPORTED in statuses:
        status = NOT_SUPPORTED
    elif INCONCLUSIVE in statuses:
        status = INCONCLUSIVE
    else:
        status = SUPPORTED
    deciding = [p for p in parts if p.status == status]
    reason = "; ".join(p.reason for p in deciding)
    # the other parts' reasons, then every part's numbers
    evidence = tuple([p.reason for p in parts if p.status != status] + [e for p in parts for e in p.evidence])
    return Verdict(status, f"{claim + ': ' if claim else ''}{reason}", evidence)


def failed_cases(results: Iterable, sweep: str) -> Verdict | None:
    """``inconclusive`` naming the failed cases of a sweep, or ``None`` when all are ok."""
    failed = [r for r in results if r.status != "ok"]
    if not failed:
        return None
    first = failed[0]
    more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
    return Verdict(INCONCLUSIVE, f"sweep '{sweep}': {first.config.label()} {first.status}: "
                   f"{first.error or 'no message'}{more}")
