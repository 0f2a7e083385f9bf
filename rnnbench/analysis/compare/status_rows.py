"""Rows for what could not be compared: a case that failed on a side, values one side lacks."""

from __future__ import annotations

from rnnbench.analysis.compare.comparison import Row, Side
from rnnbench.records import CaseResult


def status_row(label: str, cid: str, b: CaseResult, n: CaseResult) -> Row:
    if n.status != "ok" and b.status == "ok":
        verdict, note = "failed", n.error[:200]
    elif n.status == "ok":
        verdict, note = "fixed", b.error[:200]
    else:
        verdict, note = "failed on both", n.error[:200]
    return Row("status", label, [cid], "-", "status", Side(None, status=b.status), Side(None, status=n.status),
               verdict, note=note)


def missing_rows(label: str, cid: str, b: CaseResult, n: CaseResult) -> list[Row]:
    """A row per side whose values are missing where the other side has them: a regression, since a
    CI gate that silently compares less than it did is no gate. Missing means the metric is stored
    without a value (NULL), or the case has no value at all (a metric only one side measured, such
    as a scenario only one run had, is not missing while the case has others)."""
    rows = []
    for side, have, lack in (("NEW", b, n), ("BASE", n, b)):
        valued = [m for m in have.metrics if m.value is not None]
        lacks_all = not any(m.value is not None for m in lack.metrics)
        gone = [m for m in valued if (other := lack.metric(m.scenario, m.name)) is None and lacks_all
                or other is not None and other.value is None]
        if gone:
            names = ", ".join(f"{m.scenario} {m.name}" for m in gone[:5]) + (" ..." if len(gone) > 5 else "")
            rows.append(Row("status", label, [cid], "-", "values", Side(None, status=b.status),
                            Side(None, status=n.status), "missing",
                            note=f"{side} has no value for {len(gone)} metric(s) the other side has: {names}"))
    return rows
