"""The training-dynamics measurements of a case, shown beside the verdicts but never a regression."""

from __future__ import annotations

import math

from rnnbench.analysis.compare.comparison import CompareSettings, Row, Side
from rnnbench.records import CaseResult


def judge_measurements(case: str, cid: str, b: CaseResult, n: CaseResult, s: CompareSettings) -> list[Row]:
    """The training-dynamics measurements, shown but never a regression: steps reached in a time budget, gradient decay.

    Steps reached are one count per case that follows the machine's load; a decay's
    change is judged against its two fits' standard errors (2·sqrt(se_b² + se_n²)).
    """
    rows = []
    bm, nm = b.metric("train", "steps_reached"), n.metric("train", "steps_reached")
    if n.config.time_budget_s is not None and bm is not None and nm is not None and bm.value:
        ratio = nm.value / bm.value
        verdict = "more steps" if ratio > s.upper else "fewer steps" if ratio < s.lower else "same"
        rows.append(Row("budget", case, [cid], "train", "steps_reached", Side(bm.value), Side(nm.value), verdict,
                        ratio=ratio, note=f"in {n.config.time_budget_s:g} s"))
    for stage in ("init", "trained"):
        bd, nd = b.metric("gradients", f"decay_per_step_{stage}"), n.metric("gradients", f"decay_per_step_{stage}")
        if bd is None or nd is None or bd.value is None or nd.value is None:
            continue
        errors = [m.value for m in (b.metric("gradients", f"decay_per_step_{stage}_se"),
                                    n.metric("gradients", f"decay_per_step_{stage}_se")) if m and m.value]
        tolerance = 2 * math.sqrt(sum(e * e for e in errors)) if len(errors) == 2 else 0.0
        delta = nd.value - bd.value
        verdict = "steeper" if delta > tolerance else "flatter" if -delta > tolerance else "same"
        rows.append(Row("gradient", case, [cid], "gradients", f"decay_per_step_{stage}", Side(bd.value),
                        Side(nd.value), verdict, delta=delta, tolerance=tolerance))
    return rows
