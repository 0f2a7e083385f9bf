"""Plots of a run, drawn from its results frame (rnnbench.analysis.frame) with matplotlib's Agg canvas.

One line per model (and per value of any other swept axis) against the swept
axis: forward and train-step time per token, memory, accuracy; accuracy against
training time (the Pareto view); decode latency and state bytes against context
length. Every figure carries a caption saying what was measured and how.

Figures are drawn on ``matplotlib.figure.Figure`` with the Agg canvas directly,
not through pyplot: no display is needed, no global backend is switched, and
nothing leaks between figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from rnnbench.analysis.axes import add_per_token_columns, axis_label, other_varying_axes, series_label, swept_axis
from rnnbench.analysis.frame import higher_is_better, primary_metric, primary_metrics
from rnnbench.extras import install_hint
from rnnbench.records import CaseResult, machine_line
from rnnbench.render import figure_layout
from rnnbench.sweep_axes import BY_NAME

#: how a backend's forward ran, for the forward-time caption (see :func:`forward_modes`)
TORCH_FORWARD = "torch.inference_mode"
PLAIN_FORWARD = "a plain call, no autograd to switch off"

INSTALL_HINT = f"plots need matplotlib: {install_hint('plot')}, then rebuild them with 'rnnbench report RUN_ID'"


@dataclass(frozen=True)
class PlotFigure:
    """A PNG written for the report, with the words that go with it."""

    path: Path
    title: str
    caption: str


@dataclass
class PlotSet:
    figures: list[PlotFigure]
    #: why a plot was not drawn (no swept axis, no decode scenario, no matplotlib)
    notes: list[str]


def matplotlib_missing() -> str | None:
    """None when plots can be drawn here, else the message saying how to get them."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return INSTALL_HINT
    return None


def forward_modes(results: Iterable[CaseResult]) -> dict[str, str]:
    """Per backend, how its timed forward ran: torch models (their details name the torch
    version) under torch.inference_mode, others (NumPy) as a plain call."""
    modes: dict[str, str] = {}
    for result in results:
        if result.status == "ok":
            modes.setdefault(result.config.backend, TORCH_FORWARD if "torch" in result.details else PLAIN_FORWARD)
    return modes


def _forward_how(modes: dict[str, str] | None) -> str:
    """`` (torch.inference_mode)`` for one mode; per backend when the run mixes them."""
    if not modes:
        return ""
    by_mode: dict[str, list[str]] = {}
    for backend, mode in sorted(modes.items()):
        by_mode.setdefault(mode, []).append(backend)
    if len(by_mode) == 1:
        return f" ({next(iter(by_mode))})"
    return " (" + "; ".join(f"{', '.join(backends)}: {mode}" for mode, backends in by_mode.items()) + ")"


def make_plots(frame: pd.DataFrame, env: dict[str, Any], folder: Path, *, warmup_steps: int | None = None,
               modes: dict[str, str] | None = None) -> PlotSet:
    """Draw every plot the run's data supports into ``folder``; say why the others are missing.

    ``warmup_steps`` (the run's ``train_warmup_steps``) and ``modes`` (:func:`forward_modes`)
    go into the captions; without them the captions leave those details out.
    """
    missing = matplotlib_missing()
    if missing:
        return PlotSet([], [missing])
    ok = frame[frame["status"] == "ok"].copy() if "status" in frame else frame.copy()
    if ok.empty:
        return PlotSet([], ["no successful case to plot"])
    folder.mkdir(parents=True, exist_ok=True)
    add_per_token_columns(ok)
    figures: list[PlotFigure] = []
    notes: list[str] = []
    machine = machine_line(env)
    axis = swept_axis(ok)
    if axis is None:
        notes.append("no numeric axis was swept (give --seq-len, --hidden, --batch-size or --layers several"
                     " values): per-axis plots are drawn only for sweeps")
    else:
        for spec in _axis_plots(ok, axis, machine, warmup_steps, modes):
            figure = _quality_plot(ok, axis, spec, folder) if spec.name == "accuracy" else \
                _line_plot(ok, axis, spec, folder)
            if figure is not None:
                figures.append(figure)
    pareto = _pareto_plot(ok, machine, folder)
    if pareto is not None:
        figures.append(pareto)
    if primary_metric(ok) is None:
        notes.append("no train scenario in this run: no accuracy, train-time or Pareto plots")
    if axis is not None and _memory_column(ok) is None:
        notes.append("no memory figure in this run (on CPU, memory is measured for the train scenario)")
    gradients = _gradient_plot(ok, machine, folder)
    if gradients is not None:
        figures.append(gradients)
    if "decode_token_latency_s" in ok and ok["decode_token_latency_s"].notna().any():
        if ok["decode_context_len"].nunique() > 1:
            figures += _decode_plots(ok, machine, folder)
        else:
            notes.append("decode ran at one context length only: sweep --seq-len for the decode plots")
    return PlotSet(figures, notes)


# -- data preparation ----------------------------------------------------------------------

def _series(ok: pd.DataFrame, x: str) -> Iterable[tuple[str, pd.DataFrame]]:
    """Rows grouped into one line per model and per value of any other swept config column."""
    others = other_varying_axes(ok, x)
    keys = ["model", *others]
    for values, rows in ok.groupby(keys, sort=False, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        label = " ".join([str(values[0]), series_label(others, values[1:])]).strip()
        yield label, rows


def _aggregate(rows: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Per x: the median over seeds of y, and the bars to draw below and above it.

    Timed metrics get their quartiles (the interquartile range of the repeats); other
    metrics the range over seeds (none for a single seed).
    """
    quartiles = f"{y}_q1" in rows and f"{y}_q3" in rows
    rows = rows[[x, y, *([f"{y}_q1", f"{y}_q3"] if quartiles else [])]].dropna(subset=[x, y])
    grouped = rows.groupby(x, sort=True)
    out = pd.DataFrame({"y": grouped[y].median()})
    low, high = (grouped[f"{y}_q1"].median(), grouped[f"{y}_q3"].median()) if quartiles else \
        (grouped[y].min(), grouped[y].max())
    out["below"] = (out["y"] - low).clip(lower=0)
    out["above"] = (high - out["y"]).clip(lower=0)
    return out.reset_index().rename(columns={x: "x"})


def _spans_decades(values: Iterable[float]) -> bool:
    values = [v for v in values if v is not None and np.isfinite(v) and v > 0]
    return bool(values) and max(values) / min(values) >= 10


# -- drawing -----------------------------------------------------------------------------------

@dataclass
class _AxisPlot:
    name: str
    column: str
    title: str
    ylabel: str
    caption: str
    baseline: str | None = None
    #: values are seconds: shown in s, ms or µs, whichever reads best
    seconds: bool = False


def _axis_plots(ok: pd.DataFrame, axis: str, machine: str, warmup_steps: int | None,
                modes: dict[str, str] | None) -> list[_AxisPlot]:
    warmup = f"{warmup_steps} warm-up steps" if warmup_steps is not None else "the warm-up steps"
    plots = [
        _AxisPlot("forward_time_per_token", "forward_s_per_token", "Forward time per token", "per token",
                  f"Median wall-clock time of one full-sequence inference forward{_forward_how(modes)}, divided"
                  " by batch × total length; blocked timing after warm-up (torch.utils.benchmark style), error"
                  " bars: interquartile range of the repeats.", seconds=True),
        _AxisPlot("train_time_per_token", "train_s_per_token", "Train-step time per token", "per token",
                  "Median wall-clock time of one real training step (forward, backward, Adam update) after"
                  f" {warmup}, divided by batch × total length; error bars: interquartile range of the steps.",
                  seconds=True),
    ]
    memory = _memory_column(ok)
    if memory:
        column, method = memory
        plots.append(_AxisPlot("memory", column, "Memory", "bytes",
                               f"{column.split('_')[0]} scenario memory, measured as: {method}."))
    primary = primary_metric(ok)
    if primary:
        plots.append(_AxisPlot("accuracy", f"train_eval_{primary}", f"Held-out {primary}", primary,
                               f"The task's {primary} on held-out test batches after training; dashed: the"
                               f" task's baseline ({_kinds(ok)}).", baseline=f"train_baseline_{primary}"))
    for plot in plots:
        plot.caption = f"{plot.caption} Against {axis_label(axis)}. {machine}."
    return plots


def _kinds(ok: pd.DataFrame) -> str:
    kinds = sorted(ok["baseline_kind"].dropna().unique()) if "baseline_kind" in ok else []
    return ", ".join(map(str, kinds)) or "chance"


def _memory_column(ok: pd.DataFrame) -> tuple[str, str] | None:
    for column in ("train_memory_bytes", "forward_memory_bytes"):
        if column in ok and ok[column].notna().any():
            methods = ok.get(f"{column}_method")
            method = "; ".join(sorted(set(methods.dropna()))) if methods is not None else "see results.csv"
            return column, method
    return None


def _finish(figure, title: str, caption: str, path: Path) -> PlotFigure:
    """Title the figure and save it. The caption is not drawn into the PNG: the report prints it once,
    under the image, where it can be read, searched and copied."""
    figure_layout.title(figure, title)
    figure_layout.save(figure, path)
    return PlotFigure(path=path, title=title, caption=caption)


def time_unit(seconds: Iterable[float]) -> tuple[float, str]:
    """(factor, unit) that shows these durations in s, ms or µs, by their median."""
    values = [v for v in seconds if v is not None and np.isfinite(v) and v > 0]
    typical = float(np.median(values)) if values else 1.0
    for factor, unit in ((1.0, "s"), (1e3, "ms")):
        if typical * factor >= 1:
            return factor, unit
    return 1e6, "µs"


def byte_unit(values: Iterable[float]) -> tuple[float, str]:
    """(factor, unit) that shows these byte counts in B, KiB, MiB or GiB, by their median (no 1e6 offset)."""
    finite = [v for v in values if v is not None and np.isfinite(v) and v > 0]
    typical = float(np.median(finite)) if finite else 1.0
    for scale, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if typical >= scale:
            return 1 / scale, unit
    return 1.0, "bytes"


def _units(values: pd.Series, seconds: bool, ylabel: str) -> tuple[float, str]:
    """(factor, y label) for a column: times in s/ms/µs, bytes in KiB/MiB/GiB, else as they are."""
    if seconds:
        factor, unit = time_unit(values)
        return factor, f"{unit} {ylabel}".strip()
    if ylabel == "bytes":
        return byte_unit(values)
    return 1.0, ylabel


def _scale(ax, xs: list[float], ys: list[float], *, swept: bool = True) -> None:
    """Log axes where the values span a decade or more; an x axis of swept values is labelled at them
    (``swept=False``: measured values such as training times keep matplotlib's round ticks)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    if _spans_decades(xs):
        ax.set_xscale("log")
    ticks = sorted(set(xs))
    if swept and len(ticks) <= 12:  # ticks at the swept values, not at round numbers nobody ran
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"{x:g}" for x in ticks])
    if _spans_decades(ys):
        ax.set_yscale("log")


def panels(ok: pd.DataFrame, x: str) -> list[tuple[str, pd.DataFrame]]:
    """The rows split into small multiples of at most a handful of lines each.

    One panel when that is few enough; else one panel per value of another swept axis
    (the models compared within each), else the models in groups.
    """
    if len(list(_series(ok, x))) <= figure_layout.MAX_SERIES_PER_PANEL:
        return [("", ok)]
    for axis in other_varying_axes(ok, x):
        groups = [(value, rows) for value, rows in ok.groupby(axis, sort=True, dropna=False)]
        if len(groups) <= 9 and all(len(list(_series(rows, x))) <= figure_layout.MAX_SERIES_PER_PANEL
                                    for _, rows in groups):
            return [(BY_NAME[axis].tag(value), rows) for value, rows in groups]
    models = list(dict.fromkeys(ok["model"]))
    per_model = max(1, len(list(_series(ok, x))) // max(1, len(models)))
    size = max(1, figure_layout.MAX_SERIES_PER_PANEL // per_model)
    return [(", ".join(group), ok[ok["model"].isin(group)]) for group in figure_layout.chunks(models, size)]


def _plot_series(ax, ok: pd.DataFrame, axis: str, column: str, scale: float, colour: dict[str, str],
                 baseline: str | None = None) -> tuple[list, list]:
    """One line per model: medians of ``column`` against ``axis`` with interquartile error
    bars (and the task's baseline dashed, if named); returns every plotted x and y."""
    xs, ys = [], []
    for label, rows in _series(ok, axis):
        points = _aggregate(rows, axis, column)
        if points.empty:
            continue
        points[["y", "below", "above"]] *= scale
        colour.setdefault(label, f"C{len(colour) % 10}")
        ax.errorbar(points["x"], points["y"], yerr=[points["below"], points["above"]], marker="o", capsize=3,
                    label=label, color=colour[label])
        xs += list(points["x"])
        ys += list(points["y"])
        if baseline:
            ys += _draw_baselines(ax, rows, axis, baseline)
    return xs, ys


#: line styles of a task's baselines, first to last (all gray: the models have the colours)
_BASELINE_STYLES = ("--", ":", "-.", (0, (1, 3)))


def baseline_columns(rows: pd.DataFrame, first: str) -> list[tuple[str, str]]:
    """``(legend name, frame column)`` of every baseline of the rows' primary metric: a task's several
    baselines by name (rnnbench.task_api.Baseline), else its one, ``first``, by its kind."""
    named: list[tuple[str, str]] = []
    if "baselines" in rows and rows["baselines"].notna().any():
        named = [(name, f"train_{column}") for name, column in json.loads(rows["baselines"].dropna().iloc[0])]
    if not named:
        kinds = rows["baseline_kind"].dropna().unique() if "baseline_kind" in rows else []
        named = [(str(kinds[0]) if len(kinds) == 1 else "chance" if not len(kinds) else "baseline", first)]
    return [(name, column) for name, column in named if column in rows and rows[column].notna().any()]


def _draw_baselines(ax, rows: pd.DataFrame, axis: str | None, first: str) -> list[float]:
    """Each baseline as a gray line: against the swept axis where it has two points or more, else across
    the whole panel (a line through one point would not show); returns the values, so that the y axis
    includes them."""
    drawn = []
    for style, (name, column) in zip(_BASELINE_STYLES, baseline_columns(rows, first)):
        base = _aggregate(rows, axis, column) if axis else pd.DataFrame({"y": [rows[column].median()]})
        if base.empty:
            continue
        label = f"{name} {base['y'].iloc[0]:.3g} (baseline)" if len(base) == 1 else f"{name} (baseline)"
        if len(base) == 1:
            ax.axhline(base["y"].iloc[0], linestyle=style, color="gray", linewidth=1, label=label)
        else:
            ax.plot(base["x"], base["y"], linestyle=style, color="gray", linewidth=1, label=label)
        drawn += list(base["y"])
    return drawn


def _panel_plot(ok: pd.DataFrame, x: str, column: str, *, scale: float, xlabel: str, ylabel: str,
                baseline: str | None = None):
    """Small multiples of ``column`` against ``x``; None when nothing was drawn."""
    split = panels(ok, x)
    figure, axes = figure_layout.new_figure(len(split))
    colour: dict[str, str] = {}
    all_xs, all_ys = [], []
    for (label, rows), ax in zip(split, axes):
        xs, ys = _plot_series(ax, rows, x, column, scale, colour, baseline=baseline)
        all_xs += xs
        all_ys += ys
        if label:
            ax.set_title(label, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(True, which="both", alpha=0.3)
    if not all_xs:
        return None
    for ax in axes:
        _scale(ax, all_xs, all_ys)
    axes[0].set_ylabel(ylabel)
    figure_layout.legend_outside(figure, axes)
    return figure


def _line_plot(ok: pd.DataFrame, axis: str, spec: _AxisPlot, folder: Path) -> PlotFigure | None:
    if spec.column not in ok or not ok[spec.column].notna().any():
        return None
    scale, ylabel = _units(ok[spec.column], spec.seconds, spec.ylabel)
    figure = _panel_plot(ok, axis, spec.column, scale=scale, xlabel=axis_label(axis),
                         ylabel=ylabel, baseline=spec.baseline)
    if figure is None:
        return None
    return _finish(figure, f"{spec.title} vs {axis_label(axis)}", spec.caption,
                   folder / f"{spec.name}.png")


def metric_groups(ok: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """``(panel title, primary metric, rows)``: one group when every row's task has one primary
    metric; else one per task, each with its own metric, so that no task's panel is empty."""
    metrics = primary_metrics(ok)
    if len(metrics) <= 1:
        return [("", metrics[0], ok)] if metrics else []
    groups = []
    for task, rows in ok.groupby("task", sort=False):
        own = primary_metrics(rows)
        if own:
            groups.append((f"{task}: {own[0]}", own[0], rows))
    return groups


def _quality_plot(ok: pd.DataFrame, axis: str, spec: _AxisPlot, folder: Path) -> PlotFigure | None:
    """The held-out quality against the swept axis; a run of tasks with different metrics gets
    one panel per task, each on its own metric and scale."""
    groups = metric_groups(ok)
    if len(groups) <= 1:
        return _line_plot(ok, axis, spec, folder)
    figure, axes = figure_layout.new_figure(len(groups), sharey=False)
    colour: dict[str, str] = {}
    for (title, metric, rows), ax in zip(groups, axes):
        xs, ys = _plot_series(ax, rows, axis, f"train_eval_{metric}", 1.0, colour,
                              baseline=f"train_baseline_{metric}")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(axis_label(axis))
        ax.set_ylabel(f"held-out {metric}")
        ax.grid(True, which="both", alpha=0.3)
        _scale(ax, xs, ys)
    figure_layout.legend_outside(figure, axes)
    caption = ("Each task's primary metric on held-out test batches after training, one panel per task on its own"
               f" scale; dashed: the task's baseline ({_kinds(ok)})." + spec.caption[spec.caption.index(" Against "):])
    return _finish(figure, f"Held-out quality vs {axis_label(axis)}", caption, folder / f"{spec.name}.png")


def pareto_front(points: pd.DataFrame, higher_is_better: bool = True) -> pd.DataFrame:
    """The points no other point beats on both training time (lower) and quality."""
    ordered = points.sort_values(["x", "y"], ascending=[True, not higher_is_better])
    keep, best = [], None
    for index, row in ordered.iterrows():
        if best is None or (row["y"] > best if higher_is_better else row["y"] < best):
            keep.append(index)
            best = row["y"]
    return ordered.loc[keep]


def _pareto_plot(ok: pd.DataFrame, machine: str, folder: Path) -> PlotFigure | None:
    groups = [(title, metric, rows.dropna(subset=["train_time_s", f"train_eval_{metric}"]))
              for title, metric, rows in metric_groups(ok)] if "train_time_s" in ok else []
    groups = [group for group in groups if not group[2].empty]
    if not groups:
        return None
    figure, axes = figure_layout.new_figure(len(groups), sharey=False)
    drawn = False
    for (title, metric, data), ax in zip(groups, axes):
        column = f"train_eval_{metric}"
        for model, rows in data.groupby("model", sort=False):
            ax.scatter(rows["train_time_s"], rows[column], label=model, s=30)
        # the baselines, across the panel: the y axis spans them, so a 1-point gap between models is
        # seen against what a reader judges it by (majority class, 1-NN DTW), not magnified to fill it
        _draw_baselines(ax, data, None, f"train_baseline_{metric}")
        front = pareto_front(pd.DataFrame({"x": data["train_time_s"], "y": data[column]}), higher_is_better(data))
        if len(front) >= 2:  # one case on the front: there is no line to draw, nor to name
            drawn = True
            ax.step(front["x"], front["y"], where="post", color="black", linewidth=1, alpha=0.6,
                    label="Pareto front")
        _scale(ax, list(data["train_time_s"]), [], swept=False)
        ax.set_xlabel("training time (s, wall clock)")
        ax.set_ylabel(f"held-out {metric}")
        if title:
            ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    figure_layout.legend_outside(figure, axes)
    line = (" The line joins the cases no other case beats on both." if drawn else
            " One case is at least as good as every other on both, so there is no front line to draw.")
    metrics = [metric for _, metric, _ in groups]
    quality = metrics[0] if len(groups) == 1 else "quality"
    what = f"held-out {metrics[0]}" if len(groups) == 1 else "each task's held-out primary metric (one panel per task)"
    caption = (f"Each point is one case: {what} after training against the wall-clock time its"
               f" training steps took (time.perf_counter around the whole training loop).{line} Gray lines:"
               f" the task's baselines. {machine}.")
    return _finish(figure, f"Held-out {quality} vs training time (Pareto view)", caption,
                   folder / "pareto_accuracy_vs_training_time.png")


def _decode_plots(ok: pd.DataFrame, machine: str, folder: Path) -> list[PlotFigure]:
    figures = []
    specs = [
        ("decode_latency_per_token", "decode_token_latency_s", "Decode latency per token", "per step()",
         "Median wall-clock time of one step() call that generates the next token for each of the batch's"
         " sequences, from a state holding the prompt (T-1 positions fed through step()); blocked timing of"
         " repeated steps from the same state after warm-up, error bars: interquartile range of the repeats."),
        ("decode_state_bytes", "decode_state_bytes", "Decode state carried between tokens", "bytes",
         "Bytes of the state step() returns at context T, read from its tensors (each storage once):"
         " a recurrent model's hidden (and cell) state, a Transformer's KV cache."),
    ]
    for name, column, title, ylabel, caption in specs:
        scale, axis_label = _units(ok[column], column.endswith("_s"), ylabel)
        figure = _panel_plot(ok, "decode_context_len", column, scale=scale, xlabel="context length T (tokens)",
                             ylabel=axis_label)
        if figure is None:
            continue
        batch = ", ".join(str(b) for b in sorted(ok["batch_size"].unique()))
        figures.append(_finish(figure, f"{title} vs context length", f"{caption} Batch {batch}. {machine}.",
                               folder / f"{name}.png"))
    return figures


GRADIENT_STAGES = (("gradients_grad_norm_init", "at initialisation"), ("gradients_grad_norm_trained", "after training"))


def _gradient_plot(ok: pd.DataFrame, machine: str, folder: Path) -> PlotFigure | None:
    """||dl/dh_t|| against the distance from the loss, per model: at initialisation and after training."""
    import json

    stages = [(column, when) for column, when in GRADIENT_STAGES if column in ok and ok[column].notna().any()]
    if not stages:
        return None
    keys = ["task", "seq_len"]
    several = any(ok[key].nunique() > 1 for key in keys)
    figure, axes = figure_layout.new_figure(len(stages))
    zero_beyond: set[str] = set()
    labels = [f"{model} {task} T={seq_len}" if several else str(model)
              for model, task, seq_len in ok[["model", "task", "seq_len"]].drop_duplicates().itertuples(index=False)]
    colour = figure_layout.colours(labels)
    for ax, (column, when) in zip(axes, stages):
        rows = ok[ok[column].notna()]
        for (model, task, seq_len), group in rows.groupby(["model", "task", "seq_len"], sort=False):
            curves = [np.asarray(json.loads(text), dtype=float) for text in group[column]]
            span = min(len(curve) for curve in curves)
            stacked = np.vstack([curve[:span] for curve in curves])  # one row per seed
            label = f"{model} {task} T={seq_len}" if several else str(model)
            if np.all(stacked[:, 1:] == 0):
                zero_beyond.add(label)
            median = np.median(stacked, axis=0)
            distance = np.arange(span)
            shown = median > 0  # zeros (no path across time) have no place on a log axis
            ax.plot(distance[shown], median[shown], marker=".", markersize=3, linewidth=1.2, label=label,
                    color=colour[label])
            if len(curves) > 1:
                low, high = stacked.min(axis=0), stacked.max(axis=0)
                band = (low > 0) & shown
                ax.fill_between(distance[band], low[band], high[band], color=colour[label], alpha=0.15)
        ax.set_yscale("log")
        ax.set_xlabel("distance from the loss position (steps)")
        ax.set_ylabel("mean ||dl/dh_t|| over examples")
        ax.set_title(when, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    figure_layout.legend_outside(figure, axes)
    seeds = ok["seed"].nunique() if "seed" in ok else 1
    caption = ("Gradient flow: the norm of the gradient of each example's loss at its last scored position with"
               " respect to the state h_t at each earlier position (recurrent state of every layer, the"
               " Transformer's residual stream entering its first block), averaged over the first test batch,"
               " in float64; a straight falling line on this log scale is an exponentially vanishing gradient,"
               " its slope the decay per step in the gradient-flow table.")
    if seeds > 1:
        caption += f" Line: median over {seeds} seeds; band: their range."
    if zero_beyond:
        caption += f" {', '.join(sorted(zero_beyond))}: exactly zero beyond distance 0 (no path across time)."
    return _finish(figure, "Gradient norm vs distance from the loss", f"{caption} {machine}.",
                   folder / "gradient_norm_vs_distance.png")

