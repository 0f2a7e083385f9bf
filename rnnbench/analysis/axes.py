"""The axes of a results frame: which numeric axis a sweep varied, which columns tell
series apart, and the per-token costs derived along them.

Both the crossovers (rnnbench.analysis.crossover) and the plots (rnnbench.render.plots)
read a frame through these, so a line in a plot and a ratio in the report group the
same rows.
"""

from __future__ import annotations

import pandas as pd

#: the axes a sweep can vary that have a numeric x, in the order a plot prefers them
NUMERIC_AXES = ("seq_len", "hidden", "batch_size", "layers", "steps", "lr")
#: every config column that can tell two series apart (seed is aggregated over, not a series)
SERIES_AXES = ("model_options", "task", "task_options", "seq_len", "hidden", "batch_size", "layers", "device", "dtype", "steps", "lr")

#: how an axis is named in captions, plot labels and crossover sentences
AXIS_LABELS = {
    "seq_len": "--seq-len",
    "hidden": "--hidden (width asked for)",
    "batch_size": "batch size",
    "layers": "layers",
    "steps": "training steps",
    "lr": "learning rate",
}


def swept_axis(frame: pd.DataFrame) -> str | None:
    """The numeric axis with more than one value (the first such, by NUMERIC_AXES order)."""
    for axis in NUMERIC_AXES:
        if axis in frame and frame[axis].nunique(dropna=True) > 1:
            return axis
    return None


def add_per_token_columns(ok: pd.DataFrame) -> None:
    """Forward and train-step time per token (and their quartiles), in place: time / (batch × length)."""
    tokens = ok["batch_size"] * ok["total_seq_len"]
    for scenario, column in (("forward", "forward_latency_s"), ("train", "train_step_time_s")):
        if column in ok:
            ok[f"{scenario}_s_per_token"] = ok[column] / tokens
            for suffix in ("_iqr", "_q1", "_q3"):
                if f"{column}{suffix}" in ok:
                    ok[f"{scenario}_s_per_token{suffix}"] = ok[f"{column}{suffix}"] / tokens
