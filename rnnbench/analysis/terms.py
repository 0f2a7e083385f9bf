"""The terms a case was given: its parameter count and its training budget, read back per case.

A comparison "at equal parameters" or "at an equal budget" holds only when the cases
compared were in fact given equal terms. :func:`terms_of` reads what each case stored
(the count that ran, the count ``--match-params`` sized it to, the steps, wall clock and
FLOPs it trained for); :func:`unequal` says, in one sentence with the figures, when a set of
cases differ by more than a tolerance in one of them, so that a verdict can be called
inconclusive with the counts instead of decided::

    from rnnbench.analysis.terms import unequal
    reason = unequal(results, "params")          # None when within 5% of each other
    if reason:
        return Verdict("inconclusive", reason)

Every figure is one the case measured or counted (docs/results-schema.md); a figure a case
did not store is ``None`` and :func:`unequal` says which cases lack it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from rnnbench.records import CaseResult

#: relative spread (largest / smallest - 1) above which terms count as unequal
TOLERANCE = 0.05


@dataclass(frozen=True)
class Terms:
    """What one case was given. ``None``: not stored for this case (a scenario that did not run)."""

    case_id: str
    label: str
    #: trainable parameters that ran (metric ``model_params``)
    params: float | None
    #: the count ``--match-params`` sized it to (``None``: not matched)
    matched_params: int | None
    #: training steps completed (``train_steps_reached``)
    steps: float | None
    #: wall clock of the training loop in seconds (``train_time_s``)
    train_time_s: float | None
    #: the --time-budget in seconds (``None``: trained for a step count)
    budget_s: float | None
    #: analytic FLOPs of the training steps that ran (``train_flops``)
    train_flops: float | None
    #: --lr-grid: the rate chosen on the validation split, and the wall clock the whole grid took
    lr_selected: float | None = None
    lr_grid_time_s: float | None = None

    @property
    def params_gap(self) -> float | None:
        """(params - matched_params) / matched_params: how far the match landed."""
        if self.params is None or not self.matched_params:
            return None
        return (self.params - self.matched_params) / self.matched_params


#: what :func:`unequal` can compare, and how its sentence names each
KINDS = {"params": "parameter counts", "steps": "training steps", "train_time_s": "training wall clock (s)",
         "train_flops": "training FLOPs", "lr_grid_time_s": "wall clock of the learning-rate grid (s)"}


def _metric(result: CaseResult, scenario: str, name: str) -> float | None:
    metric = result.metric(scenario, name)
    return None if metric is None or metric.value is None else float(metric.value)


def terms_of(result: CaseResult) -> Terms:
    """The terms one stored case was given."""
    c = result.config
    return Terms(case_id=result.case_id, label=f"{c.model_label} seed {c.seed}",
                 params=_metric(result, "model", "params"), matched_params=c.matched_params,
                 steps=_metric(result, "train", "steps_reached"), train_time_s=_metric(result, "train", "time_s"),
                 budget_s=c.time_budget_s, train_flops=_metric(result, "train", "flops"),
                 lr_selected=_metric(result, "train", "lr_selected"),
                 lr_grid_time_s=_metric(result, "train", "lr_grid_time_s"))


def unequal(results: Iterable[CaseResult], kind: str, tolerance: float = TOLERANCE) -> str | None:
    """``None`` when the cases' ``kind`` (a key of :data:`KINDS`) are within ``tolerance`` of each other
    (largest / smallest - 1); otherwise why not, with every case's figure."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    terms = [terms_of(r) for r in results]
    values = [(t.label, getattr(t, kind)) for t in terms]  # a list: two cases may share a label
    missing = [label for label, v in values if v is None]
    if missing:
        return f"{KINDS[kind]} not stored for {', '.join(missing)}: equal terms cannot be checked"
    if not values:
        return None
    low, high = min(v for _, v in values), max(v for _, v in values)
    spread = high / low - 1 if low > 0 else float("inf")
    if spread <= tolerance + 1e-12:
        return None
    figures = ", ".join(f"{label} {value:,.0f}" if value >= 100 else f"{label} {value:.3g}"
                        for label, value in values)
    return f"{KINDS[kind]} differ by {spread:.0%} (more than {tolerance:.0%}): {figures}"
