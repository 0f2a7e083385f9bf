"""A run's folder: results.csv, env.json, plots, report.md and report.html, from stored results.

The one place that writes a report: it builds the results frame once (the CSV, the
plots and the crossovers all read it), draws the plots, builds the report content
once (rnnbench.render.content) and lays it out as Markdown and HTML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rnnbench.analysis.frame import results_frame
from rnnbench.errors import RnnbenchError
from rnnbench.records import CaseResult, RunInfo
from rnnbench.render.content import ReportContent, build_content
from rnnbench.render.html import render_html
from rnnbench.render.markdown import render_markdown
from rnnbench.render.plots import PlotSet, forward_modes, make_plots


@dataclass
class ReportPaths:
    markdown: Path
    html: Path
    plots: list[Path]
    #: what the reports say, for the terminal to print the same findings without computing them again
    content: ReportContent


def write_run_folder(run: RunInfo, results: list[CaseResult]) -> ReportPaths:
    """results.csv (one row per case), env.json, plots, report.md and report.html in ``run.folder``."""
    folder = run.folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        frame = results_frame(results, run.run_id)
        frame.to_csv(folder / "results.csv", index=False)
        (folder / "env.json").write_text(json.dumps(run.env, indent=2, default=str), encoding="utf-8")
        return write_reports(results, run, folder, frame)
    except OSError as exc:
        raise RnnbenchError(f"cannot write the run folder {folder}: {exc.strerror or exc}") from None


def draw_plots(results: list[CaseResult], run: RunInfo, frame: pd.DataFrame, folder: Path) -> PlotSet:
    """The run's plots in ``folder``; a plot that fails becomes a note, never a lost report."""
    settings = run.run_settings
    try:
        return make_plots(frame, run.env, folder, warmup_steps=settings.train_warmup_steps if settings else None,
                          modes=forward_modes(results))
    except OSError:
        raise
    except Exception as exc:  # a plot must never cost the run its report
        return PlotSet([], [f"plotting failed ({type(exc).__name__}: {exc}); the numbers are in results.csv"])


def write_reports(results: list[CaseResult], run: RunInfo, folder: Path,
                  frame: pd.DataFrame | None = None) -> ReportPaths:
    """Plots (when matplotlib is installed), report.md and the self-contained report.html."""
    frame = results_frame(results, run.run_id) if frame is None else frame
    plots = draw_plots(results, run, frame, folder / "plots")
    content = build_content(results, run, frame, plots)
    markdown = _write(folder / "report.md", render_markdown(content, folder))
    html = _write(folder / "report.html", render_html(content))
    return ReportPaths(markdown, html, [figure.path for figure in plots.figures], content)


def write_report_md(results: list[CaseResult], run: RunInfo, folder: Path, extra_sections: list[str] = (),
                    plots: PlotSet | None = None) -> Path:
    """report.md alone: the summary table, the analysis, the plots (if given) and the environment."""
    content: ReportContent = build_content(results, run, results_frame(results, run.run_id), plots)
    return _write(folder / "report.md", render_markdown(content, folder, list(extra_sections)))


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
