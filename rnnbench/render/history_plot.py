"""The ``rnnbench history --plot`` figure: one metric of chosen cases over the stored runs.

Many cases become small multiples (one panel per model, a handful of lines each);
the x ticks name what tells runs apart: the commit when runs differ in it, else the
run's number and start time (runs of one commit all read the same commit).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rnnbench.render import figure_layout
from rnnbench.render.plots import time_unit


@dataclass
class HistoryRun:
    run_id: str
    created_at: float
    commit: str | None


@dataclass
class HistorySeries:
    """One case: its points as (run index, median, first quartile or None, third quartile or None)."""

    label: str
    #: what puts it in a panel with others (the model)
    group: str
    points: list[tuple[int, float, float | None, float | None]] = field(default_factory=list)
    #: the label without the group, shown when the group is the panel's title (``T=8``)
    within: str = ""


def tick_labels(runs: list[HistoryRun]) -> tuple[list[str], str]:
    """(a label per run, the x axis label): commits when they tell the runs apart, else number and time."""
    commits = {(r.commit or "")[:8] for r in runs}
    if len(commits) == len(runs) and "" not in commits:
        return [(r.commit or "")[:8] for r in runs], "run (commit), oldest first"
    times = [time.strftime("%m-%d %H:%M", time.gmtime(r.created_at)) for r in runs]
    shared = f"; all at commit {commits.pop()}" if len(commits) == 1 and "" not in commits else ""
    return [f"{i + 1}\n{t}" for i, t in enumerate(times)], f"run number and start (UTC), oldest first{shared}"


def draw_history(path: Path, metric: str, unit: str, runs: list[HistoryRun], series: list[HistorySeries]) -> None:
    """Write the figure to ``path`` (PNG); OSError when it cannot be written."""
    groups = list(dict.fromkeys(s.group for s in series))
    by_group = len(series) > figure_layout.MAX_SERIES_PER_PANEL and all(s.within for s in series)
    if not by_group:
        panels = [("", part) for part in figure_layout.chunks(series)]
    else:  # one panel per model, its cases told apart by the rest of their label
        panels = []
        for group in groups:
            members = [s for s in series if s.group == group]
            for part in figure_layout.chunks(members):
                panels.append((group, part))

    def legend_label(s: HistorySeries) -> str:
        return s.within if by_group else s.label

    values = [p[1] for s in series for p in s.points]
    scale, shown_unit = (time_unit(values) if unit == "s" else (1.0, unit))
    figure, axes = figure_layout.new_figure(len(panels), single_size=(max(7.0, 0.5 * len(runs) + 5), 4.6))
    labels, xlabel = tick_labels(runs)
    colour = figure_layout.colours(legend_label(s) for s in series)
    for (name, members), ax in zip(panels, axes):
        for s in members:
            xs = [p[0] for p in s.points]
            ys = [p[1] * scale for p in s.points]
            below = [(p[1] - p[2]) * scale if p[2] is not None else 0.0 for p in s.points]
            above = [(p[3] - p[1]) * scale if p[3] is not None else 0.0 for p in s.points]
            ax.errorbar(xs, ys, yerr=[below, above], marker="o", capsize=3, label=legend_label(s),
                        color=colour[legend_label(s)])
        ax.set_xticks(range(len(runs)))
        ax.set_xticklabels(labels, fontsize=7, rotation=0 if "\n" in labels[0] else 45,
                           ha="center" if "\n" in labels[0] else "right")
        ax.set_xlim(-0.5, len(runs) - 0.5)
        if name:
            ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        positive = [v for v in values if v > 0]
        if positive and max(positive) / min(positive) >= 10:  # a decade or more: ratios read on a log axis
            ax.set_yscale("log")
    axes[0].set_ylabel(f"{metric} ({shown_unit})" if shown_unit else metric)
    figure.supxlabel(xlabel, fontsize=9)
    figure_layout.legend_outside(figure, axes)
    figure_layout.title(figure, f"{metric} over {len(runs)} run(s): median, bars = interquartile range of the samples")
    figure_layout.save(figure, path)
