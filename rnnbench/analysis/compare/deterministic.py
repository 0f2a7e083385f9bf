"""The rule for memory and parameter counts: deterministic figures, so the threshold alone decides."""

from __future__ import annotations

from rnnbench.analysis.compare.comparison import CompareSettings, Row, Side
from rnnbench.records import Metric


def judge_deterministic(kind: str, case: str, ids: list[str], base: Metric, new: Metric,
                        s: CompareSettings) -> Row:
    """Memory and parameter counts: no noise to test, so the threshold alone decides."""
    if base.value == 0:  # no ratio to take: any growth from nothing is "bigger"
        ratio = None
        verdict = "same" if new.value == 0 else "bigger" if new.value > 0 else "smaller"
    else:
        ratio = new.value / base.value
        verdict = "bigger" if ratio > s.upper else "smaller" if ratio < s.lower else "same"
    note = "" if base.method == new.method else \
        f"methods differ: {(base.method or '-').split()[0]} vs {(new.method or '-').split()[0]}"
    return Row(kind, case, ids, base.scenario, base.name, Side(base.value), Side(new.value), verdict,
               ratio=ratio, note=note)


def is_memory(m: Metric) -> bool:
    """A memory figure the deterministic rule judges: bytes, with a value."""
    return m.unit == "bytes" and m.value is not None
