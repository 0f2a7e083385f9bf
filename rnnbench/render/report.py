"""report.md and the content report.html renders: findings first, then the summary table
(built with the terminal's in rnnbench.render.run_summary, every column), analysis, plots, environment.

Every figure is printed with its spread and the legend says how it was measured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnbench.records import CaseResult, RunInfo

if TYPE_CHECKING:
    from rnnbench.render.plots import PlotFigure, PlotSet


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_count(value: float | None) -> str:
    if value is None:
        return "-"
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for suffix, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= scale:
            return f"{value / scale:.3g} {suffix}"
    return f"{int(value)} B"


def print_summary(results: list[CaseResult], run: RunInfo, console: Any) -> None:
    from rnnbench.render.run_summary import print_run_summary

    print_run_summary(results, run, console)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_report_md(results: list[CaseResult], run: RunInfo, folder: Path, extra_sections: list[str] = (),
                    plots: "PlotSet | None" = None) -> Path:
    """report.md: the summary table, the analysis, the plots (if drawn) and the environment."""
    content = build_content(results, run, plots)
    path = folder / "report.md"
    path.write_text(render_markdown(content, folder, list(extra_sections)), encoding="utf-8")
    return path


@dataclass
class ReportPaths:
    markdown: Path
    html: Path
    plots: list[Path]


def write_reports(results: list[CaseResult], run: RunInfo, folder: Path) -> ReportPaths:
    """Plots (when matplotlib is installed), report.md and the self-contained report.html."""
    from rnnbench.analysis.frame import results_frame
    from rnnbench.render.plots import PlotSet, make_plots
    from rnnbench.render.html import render_html

    try:
        plots = make_plots(results_frame(results, run.run_id), run.env, folder / "plots")
    except OSError:
        raise
    except Exception as exc:  # a plot must never cost the run its report
        plots = PlotSet([], [f"plotting failed ({type(exc).__name__}: {exc}); the numbers are in results.csv"])
    markdown = write_report_md(results, run, folder, plots=plots)
    html = folder / "report.html"
    html.write_text(render_html(build_content(results, run, plots)), encoding="utf-8")
    return ReportPaths(markdown, html, [figure.path for figure in plots.figures])


# -- the report's content, rendered to Markdown here and to HTML by rnnbench.render.html -------------

@dataclass
class Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    table: tuple[list[str], list[list[str]]] | None = None
    figures: list["PlotFigure"] = field(default_factory=list)
    code: str | None = None


@dataclass
class ReportContent:
    title: str
    command: str
    sections: list[Section]


def build_content(results: list[CaseResult], run: RunInfo, plots: "PlotSet | None" = None) -> ReportContent:
    from rnnbench.analysis.crossover import crossovers
    from rnnbench.analysis.frame import results_frame

    from rnnbench.render.run_summary import report_summary, run_findings

    found = run_findings(results, run)
    sections = [Section("Findings", bullets=[f.text for f in found])] if found else []
    header, rows, notes = report_summary(results, run)
    sections.append(Section("Summary", table=(header, rows), bullets=notes))
    matched = matching_table(results)
    if matched is not None:
        sections.append(Section(
            "Parameter matching (--match-params)", table=matched,
            paragraphs=["Each model's width was chosen so that its trainable parameters (embedding and head"
                        " included) are within 5% of the first model's at the requested --hidden."]))
    if results:
        lines = [c.describe() for c in crossovers(results_frame(results, run.run_id))]
        if lines:
            sections.append(Section(
                "Where attention overtakes recurrence", bullets=lines,
                paragraphs=["Ratios of median per-token costs measured in this run, on this machine"
                            f" ({_machine(run)}); a ratio above 1 means the attention model is slower."]))
    if plots is not None:
        sections.append(Section("Plots", figures=list(plots.figures), bullets=list(plots.notes)))
    sections.append(Section("Environment", code=json.dumps(run.env, indent=2, default=str)))
    return ReportContent(title=f"rnnbench run {run.run_id}", command=run.command, sections=sections)


def _machine(run: RunInfo) -> str:
    from rnnbench.render.plots import machine_line

    return machine_line(run.env)


def matching_table(results: list[CaseResult]) -> tuple[list[str], list[list[str]]] | None:
    """Model, hidden asked for, width run, parameters and their gap to the point's first model."""
    from rnnbench.analysis.match_params import point_of

    matched = [r for r in results if r.config.requested_hidden is not None]
    if not matched:
        return None
    reference: dict[tuple, tuple[str, float]] = {}
    rows = []
    for r in matched:
        params = r.metric("model", "params")
        count = params.value if params is not None else None
        point = point_of(r.config)
        if point not in reference and count:
            reference[point] = (r.config.model, count)
        ref_model, ref_count = reference.get(point, ("-", None))
        gap = f"{(count - ref_count) / ref_count:+.1%} vs {ref_model}" if count and ref_count else "-"
        rows.append([r.config.model, str(r.config.seq_len), str(r.config.requested_hidden), str(r.config.hidden),
                     f"{int(count):,}" if count else "-", gap])
    return ["model", "T", "hidden asked", "width", "params", "params vs first model"], rows


def render_markdown(content: ReportContent, folder: Path, extra_sections: list[str] = ()) -> str:
    parts = [f"# {content.title}", ""]
    if content.command:
        parts += [f"Command: `{content.command}`", ""]
    for section in content.sections:
        if section.heading == "Environment":
            parts += list(extra_sections)
        parts += [f"## {section.heading}", ""]
        for paragraph in section.paragraphs:
            parts += [paragraph, ""]
        if section.table is not None:
            parts += [markdown_table(*section.table), ""]
        if section.bullets:
            parts += [f"- {line}" for line in section.bullets] + [""]
        for figure in section.figures:
            relative = figure.path.relative_to(folder) if figure.path.is_relative_to(folder) else figure.path
            parts += [f"### {figure.title}", "", f"![{figure.title}]({relative.as_posix()})", "",
                      f"*{figure.caption}*", ""]
        if section.code is not None:
            parts += ["```json", section.code, "```", ""]
    return "\n".join(parts)
