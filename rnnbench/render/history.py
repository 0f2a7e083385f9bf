"""A :class:`~rnnbench.analysis.history.History` as a table (terminal or Markdown) or a PNG plot.

Cells are median ±IQR/2 of the raw samples (rnnbench.stats.Summary, as every table
prints them), or the stored value of an untimed metric.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rnnbench.analysis.history import History, Point
from rnnbench.errors import UsageError
from rnnbench.render.markdown import markdown_table
from rnnbench.render.terminal import plain_console, print_table
from rnnbench.stats import fmt_bytes, fmt_time

PLOT_HINT = "--plot needs matplotlib: install rnnbench[plot] (pip install 'rnnbench[plot]')"


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
    header = ["date (UTC)", "run", "commit", "threads", *h.cases.values()]
    rows = []
    for run in h.runs:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(run.created_at))
        commit = (run.commit or "-")[:10] + ("+dirty" if run.commit and run.commit.endswith("+dirty") else "")
        rows.append([when, run.run_id, commit, str(run.threads), *(cell(run.points.get(cid), h.unit) for cid in h.cases)])
    return header, rows


def _note(h: History) -> str:
    return "cells: median ±IQR/2 of the raw samples" if h.has_samples else "cells: the stored value"


def render_markdown(h: History) -> str:
    header, rows = history_rows(h)
    return f"### {h.metric}\n\n{markdown_table(header, rows)}\n\n{_note(h)}"


def render_table(h: History, console: Any) -> None:
    console = plain_console(console)
    header, rows = history_rows(h)
    print_table(f"rnnbench history: {h.metric}", header, rows, console)
    console.print(f"[dim]{_note(h)}; runs oldest first; threads as recorded by each run[/dim]")


def require_matplotlib() -> None:
    """Fail before any work when --plot cannot be drawn."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(PLOT_HINT) from None


def plot_history(h: History, path: Path) -> None:
    """Medians with interquartile bars (cases with too few samples for a spread get none)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError(PLOT_HINT) from None
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(h.runs) + 3), 4.5))
    xs = list(range(len(h.runs)))
    for cid, label in h.cases.items():
        x, y, err_low, err_high = [], [], [], []
        for i, run in enumerate(h.runs):
            p = run.points.get(cid)
            if p is None:
                continue
            s = p.summary
            median = s.median if s is not None else p.value
            x.append(i)
            y.append(median)
            err_low.append(median - s.q1 if s is not None and s.has_spread else 0.0)
            err_high.append(s.q3 - median if s is not None and s.has_spread else 0.0)
        ax.errorbar(x, y, yerr=[err_low, err_high], marker="o", capsize=3, label=label)
    ax.set_xticks(xs)
    ax.set_xticklabels([(r.commit or r.run_id)[:8] for r in h.runs], rotation=45, ha="right")
    ax.set_xlabel("run (commit), oldest first")
    ax.set_ylabel(f"{h.metric} ({h.unit})" if h.unit else h.metric)
    ax.set_title(f"{h.metric}: median, bars = interquartile range of the samples")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise UsageError(f"--plot: cannot write {path}: {exc.strerror}") from None
    finally:
        plt.close(fig)
