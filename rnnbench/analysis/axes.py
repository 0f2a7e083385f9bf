"""The axes of a results frame: which numeric axis a sweep varied, which columns tell
series apart, and the per-token costs derived along them.

Both the crossovers (rnnbench.analysis.crossover) and the plots (rnnbench.render.plots)
read a frame through these, so a line in a plot and a ratio in the report group the
same rows. The axes themselves are declared once, in rnnbench.sweep_axes.
"""

from __future__ import annotations

import pandas as pd

from rnnbench.sweep_axes import BY_NAME, PLOT_X_AXES, SERIES_AXES

#: the context length a decode plot is drawn against follows from --seq-len: not another series
_IMPLIED_BY = {"decode_context_len": "seq_len"}


def axis_label(name: str) -> str:
    """How an axis is named in captions, plot labels and crossover sentences."""
    if name == "decode_context_len":
        return "context length"
    return BY_NAME[name].label if name in BY_NAME else name


def swept_axis(frame: pd.DataFrame) -> str | None:
    """The numeric axis with more than one value (the first such, in the order rnnbench.sweep_axes declares)."""
    for axis in PLOT_X_AXES:
        if axis in frame and frame[axis].nunique(dropna=True) > 1:
            return axis
    return None


def other_varying_axes(frame: pd.DataFrame, x: str) -> list[str]:
    """The series axes besides ``x`` (and what ``x`` implies) with more than one value: each of their
    values is another line of a plot and another group of crossovers."""
    implied = _IMPLIED_BY.get(x)
    return [c for c in SERIES_AXES if c not in (x, implied) and c in frame and frame[c].nunique(dropna=True) > 1]


def series_label(names: list[str], values: tuple) -> str:
    """``T=64 cpu``: the values of the other varying axes that name one line or group."""
    return " ".join(BY_NAME[n].tag(v) for n, v in zip(names, values))


def add_per_token_columns(ok: pd.DataFrame) -> None:
    """Forward and train-step time per token (and their quartiles), in place: time / (batch × length)."""
    tokens = ok["batch_size"] * ok["total_seq_len"]
    for scenario, column in (("forward", "forward_latency_s"), ("train", "train_step_time_s")):
        if column in ok:
            ok[f"{scenario}_s_per_token"] = ok[column] / tokens
            for suffix in ("_iqr", "_q1", "_q3"):
                if f"{column}{suffix}" in ok:
                    ok[f"{scenario}_s_per_token{suffix}"] = ok[f"{column}{suffix}"] / tokens
