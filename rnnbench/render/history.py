"""A :class:`~rnnbench.analysis.history.History` as a table (terminal or Markdown) or a PNG plot.

Cells are median ±IQR/2 of the raw samples (rnnbench.stats.Summary, as every table
prints them), or the stored value of an untimed metric.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rnnbench.analysis.history import History, Point, RunRow
from rnnbench.errors import UsageError
from rnnbench.extras import install_hint
from rnnbench.render import figure_layout
from rnnbench.render.fit import Column, print_fitted
from rnnbench.render.markdown import markdown_table
from rnnbench.render.plots import time_unit
from rnnbench.stats import fmt_bytes, fmt_time

PLOT_HINT = f"--plot needs matplotlib: {install_hint('plot')}"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return fmt_time(value)
    if unit == "bytes":
        return fmt_bytes(value)
    return f"{value:.4g}"


def cell(point: Point | None, unit: str) -> str:
    if point is None:
        return "-"
    if point.summary is None:
        return _fmt(point.value, unit)
    return point.summary.format(lambda v: _fmt(v, unit), with_n=False)


def history_rows(h: History) -> tuple[list[str], list[list[str]]]:
    """Runs as rows, cases as columns: the cases with the most runs first (a case with one value has no
    history to read, and a narrow terminal leaves out the rightmost cases)."""
    points = {cid: sum(cid in run.points for run in h.runs) for cid in h.cases}
    cases = sorted(h.cases, key=lambda cid: -points[cid])  # stable: first seen first among equals
    header = ["date (UTC)", "run", "commit", "threads", *(h.cases[cid] for cid in cases)]
    rows = []
    for run in h.runs:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(run.created_at))
        commit = (run.commit or "-")[:10] + ("+dirty" if run.commit and run.commit.endswith("+dirty") else "")
        rows.append([when, run.run_id, commit, str(run.threads), *(cell(run.points.get(cid), h.unit) for cid in cases)])
    return header, rows


def _note(h: History) -> str:
    note = "cells: median ±IQR/2 of the raw samples" if h.has_samples else "cells: the stored value"
    if h.normalised:
        note += (", each divided by its run's calibration (time of a fixed GEMM and tanh recurrence at the run's"
                 " thread count, geometric mean of its start and end)")
        if h.uncalibrated:
            note += f"; left out, stored without a calibration: {', '.join(h.uncalibrated)}"
    return note


def render_markdown(h: History) -> str:
    header, rows = history_rows(h)
    return f"### {h.metric}\n\n{markdown_table(header, rows)}\n\n{_note(h)}"


def render_table(h: History, console: Any) -> None:
    """The table fitted to the terminal: dates, run ids and commits never wrap; cases are left out
    from the right when it is narrow, and named under the table."""
    header, rows = history_rows(h)
    columns = [Column("date (UTC)"), Column("run"), Column("commit"), Column("threads", priority=2)]
    columns += [Column(label, priority=1, justify="right") for label in header[len(columns):]]
    print_fitted(console, columns, rows, title=f"rnnbench history: {h.metric}",
                 hint="choose cases with --model and --task, or print them all with --format markdown")
    console.print(f"[dim]{_note(h)}; runs oldest first; threads as recorded by each run[/dim]",
                  soft_wrap=not console.is_terminal)


def require_matplotlib() -> None:
    """Fail before any work when --plot cannot be drawn."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(PLOT_HINT) from None


def tick_labels(runs: list[RunRow]) -> tuple[list[str], str]:
    """(a label per run, the x axis label): commits when they tell the runs apart, else the run's
    number and start time (runs of one commit would all read the same commit)."""
    commits = {(r.commit or "")[:8] for r in runs}
    if len(commits) == len(runs) and "" not in commits:
        return [(r.commit or "")[:8] for r in runs], "run (commit), oldest first"
    if len(commits) > 1:  # some runs share a commit: number them, and keep each one's commit
        return ([f"{i + 1}\n{(r.commit or '-')[:8]}" for i, r in enumerate(runs)],
                "run number and commit, oldest first")
    times = [time.strftime("%m-%d %H:%M", time.gmtime(r.created_at)) for r in runs]
    shared = f"; all at commit {commits.pop()}" if "" not in commits else ""
    return [f"{i + 1}\n{t}" for i, t in enumerate(times)], f"run number and start (UTC), oldest first{shared}"


def _panels(h: History) -> tuple[list[tuple[str, list[str]]], dict[str, str]]:
    """Cases in panels of a handful: one panel per model (its cases told apart by the rest of their
    label, T=8, …) when there are more than MAX_SERIES_PER_PANEL; returns the panels and each case's
    legend label."""
    cases = list(h.cases)
    label = dict(h.cases)
    split = {cid: h.cases[cid].partition(" ") for cid in cases}
    if len(cases) <= figure_layout.MAX_SERIES_PER_PANEL or not all(rest for _, _, rest in split.values()):
        return [("", part) for part in figure_layout.chunks(cases)], label
    panels = []
    for model in dict.fromkeys(model for model, _, _ in split.values()):
        members = [cid for cid in cases if split[cid][0] == model]
        panels += [(model, part) for part in figure_layout.chunks(members)]
    return panels, {cid: split[cid][2] for cid in cases}


def plot_history(h: History, path: Path) -> None:
    """Medians with interquartile bars (cases with too few samples for a spread get none), in small
    multiples per model when there are many cases; legend outside the data, title wrapped to fit."""
    panels, legend = _panels(h)
    values = [p.value for run in h.runs for p in run.points.values()]
    scale, unit = time_unit(values) if h.unit == "s" else (1.0, h.unit)
    figure, axes = figure_layout.new_figure(len(panels), single_size=(max(7.0, 0.5 * len(h.runs) + 5), 4.6))
    labels, xlabel = tick_labels(h.runs)
    colour = figure_layout.colours(legend[cid] for cid in h.cases)
    positive = [v for v in values if v > 0]
    log = bool(positive) and max(positive) / min(positive) >= 10  # a decade or more: ratios read on a log axis
    for (name, members), ax in zip(panels, axes):
        for cid in members:
            x, y, below, above = [], [], [], []
            for i, run in enumerate(h.runs):
                p = run.points.get(cid)
                if p is None:
                    continue
                s = p.summary
                median = s.median if s is not None else p.value
                x.append(i)
                y.append(median * scale)
                below.append((median - s.q1) * scale if s is not None and s.has_spread else 0.0)
                above.append((s.q3 - median) * scale if s is not None and s.has_spread else 0.0)
            ax.errorbar(x, y, yerr=[below, above], marker="o", capsize=3, label=legend[cid],
                        color=colour[legend[cid]])
        ax.set_xticks(range(len(h.runs)))
        multiline = "\n" in labels[0]
        ax.set_xticklabels(labels, fontsize=7, rotation=0 if multiline else 45, ha="center" if multiline else "right")
        ax.set_xlim(-0.5, len(h.runs) - 0.5)
        if name:
            ax.set_title(name, fontsize=10)
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel(f"{h.metric} ({unit})" if unit else h.metric)
    figure.supxlabel(xlabel, fontsize=9)
    figure_layout.legend_outside(figure, axes)
    figure_layout.title(figure, f"{h.metric} over {len(h.runs)} run(s): median, bars = interquartile range"
                        " of the samples")
    try:
        figure_layout.save(figure, path)
    except OSError as exc:
        raise UsageError(f"--plot: cannot write {path}: {exc.strerror}") from None
