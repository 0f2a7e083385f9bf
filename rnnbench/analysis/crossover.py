"""Where attention overtakes recurrence: per-token cost ratios along the swept axis.

For every attention-family model and every recurrent model (either recurrent family) of a run, and each
per-token cost (forward, train step, decode step), the ratio of their medians at
each value of the swept axis, and where it crosses 1. This is the sentence the
plots exist to support, written out so that nobody has to read it off a chart.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rnnbench.analysis.axes import add_per_token_columns, axis_label, other_varying_axes, series_label, swept_axis
from rnnbench.specs import RECURRENT_FAMILIES

#: (column, what it is, x column or None for the swept axis)
COSTS = (
    ("forward_s_per_token", "forward time per token", None),
    ("train_s_per_token", "train-step time per token", None),
    ("decode_token_latency_s", "decode latency per token", "decode_context_len"),
)


@dataclass
class Crossover:
    cost: str
    attention: str
    recurrent: str
    axis: str
    xs: list[float]
    ratios: list[float]  # attention / recurrent, ratio of medians
    group: str = ""

    def verdict(self) -> str:
        a, r, axis = self.attention, self.recurrent, axis_label(self.axis)
        below = [ratio < 1 for ratio in self.ratios]
        if all(below):
            return f"{a} costs less than {r} at every {axis} measured"
        if not any(below):
            return f"{a} costs more than {r} at every {axis} measured"
        for i in range(len(below) - 1):
            if below[i] and not below[i + 1]:
                return f"{a} overtakes {r} between {axis} {_num(self.xs[i])} and {_num(self.xs[i + 1])}"
        for i in range(len(below) - 1):
            if not below[i] and below[i + 1]:
                return f"{a} falls below {r} between {axis} {_num(self.xs[i])} and {_num(self.xs[i + 1])}"
        return f"{a} and {r} cross more than once"  # pragma: no cover - covered by the loops above

    def describe(self) -> str:
        ratios = ", ".join(f"{ratio:.2g}× at {_num(x)}" for x, ratio in zip(self.xs, self.ratios))
        group = f" ({self.group})" if self.group else ""
        return f"{self.cost}{group}: {self.verdict()} (ratio of medians {self.attention}/{self.recurrent}: {ratios})."


def _num(x: float) -> str:
    return f"{x:g}"


def crossovers(frame: pd.DataFrame) -> list[Crossover]:
    """Every attention/recurrent pair's cost ratios along the swept axis (needs two or more values)."""
    if "family" not in frame or "status" not in frame:
        return []
    ok = frame[frame["status"] == "ok"].copy()
    if ok.empty or swept_axis(ok) is None:
        return []
    add_per_token_columns(ok)
    axis = swept_axis(ok)
    found: list[Crossover] = []
    for column, cost, x_column in COSTS:
        x = x_column or axis
        if column not in ok or x not in ok or ok[column].notna().sum() == 0:
            continue
        others = other_varying_axes(ok, x)
        groups = ok.groupby(others, sort=False, dropna=False) if others else [((), ok)]
        for values, rows in groups:
            values = values if isinstance(values, tuple) else (values,)
            group = series_label(others, values)
            medians = rows.dropna(subset=[column]).groupby(["model", x])[column].median()
            families = rows.groupby("model")["family"].first()
            attention = [m for m in families.index if families[m] == "attention"]
            recurrent = [m for m in families.index if families[m] in RECURRENT_FAMILIES]
            for a in attention:
                for r in recurrent:
                    if a not in medians.index.get_level_values(0) or r not in medians.index.get_level_values(0):
                        continue
                    joined = pd.concat([medians[a], medians[r]], axis=1, keys=["a", "r"]).dropna().sort_index()
                    if len(joined) < 2:
                        continue
                    found.append(Crossover(cost, a, r, x, [float(v) for v in joined.index],
                                           [float(v) for v in joined["a"] / joined["r"]], group))
    return found
