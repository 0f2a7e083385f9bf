"""What a reader takes from a stored row, checked: a value rnnbench did not write (edited, truncated,
another tool's) raises :class:`DamagedRun`, which names the run, the case and the column."""

from __future__ import annotations

import json
import math
from typing import Any

from rnnbench.errors import RnnbenchError
from rnnbench.records import CaseConfig


class DamagedRun(RnnbenchError):
    """A stored value a reader needs is not what rnnbench wrote (edited, truncated, another tool's)."""

    def __init__(self, run_id: str, column: str, problem: str, case_id: str | None = None):
        self.run_id = run_id
        where = f"run {run_id[:80]}" + (f", case {case_id}" if case_id else "")
        super().__init__(f"damaged results database: {where}: {column} {problem}")


def checked_json(text: Any, run_id: str, column: str, expect: type, case_id: str | None = None) -> Any:
    """A JSON column of a stored row, as the type rnnbench wrote (an object or an array)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise DamagedRun(run_id, column, f"is not JSON ({str(text)[:40]!r})", case_id) from None
    if not isinstance(value, expect):
        kind = "an object" if expect is dict else "an array"
        raise DamagedRun(run_id, column, f"is a JSON {type(value).__name__}, not {kind}", case_id)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def checked_real(value: Any, run_id: str, column: str, case_id: str | None = None) -> float | None:
    """A REAL column (SQLite keeps text such as 'abc' in one): a number or NULL."""
    if value is None or _is_number(value):
        return value
    raise DamagedRun(run_id, column, f"is {str(value)[:40]!r}, not a number", case_id)


def checked_samples(text: Any, run_id: str, column: str, case_id: str) -> list[float] | None:
    """Raw timing samples: an array of finite non-negative numbers (an infinite time is no measurement)."""
    if not text:
        return None
    values = checked_json(text, run_id, column, list, case_id)
    bad = [v for v in values if not _is_number(v) or not math.isfinite(v) or v < 0]
    if bad:
        raise DamagedRun(run_id, column, f"holds {len(bad)} value(s) that are not finite times (first: {bad[0]!r})",
                         case_id)
    return values


def checked_created_at(value: Any, run_id: str) -> float:
    if not _is_number(value) or not math.isfinite(value):
        raise DamagedRun(run_id, "created_at", f"is {str(value)[:40]!r}, not a date (seconds since 1970)")
    return float(value)


def checked_config(text: Any, run_id: str, case_id: str) -> CaseConfig:
    data = checked_json(text, run_id, "config_json", dict, case_id)
    try:
        return CaseConfig.from_dict(data)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise DamagedRun(run_id, "config_json", f"is not a case configuration ({exc})", case_id) from None

