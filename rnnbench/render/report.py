"""Human-readable summaries of a run: the terminal table and report.md.

Every figure is printed with its spread and the legend says how it was measured.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnbench.records import CaseResult, Metric, RunInfo
from rnnbench.render.measurements import measurement_tables

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


def spread(metric: Metric | None, fmt=fmt_time) -> str:
    """``median ±IQR/2`` of a timed metric (n is shown in its own column)."""
    if metric is None or metric.value is None:
        return "-"
    if not metric.samples:
        return fmt(metric.value)
    q1, q3 = _quartiles(metric.samples)
    return f"{fmt(metric.value)} ±{fmt(abs(q3 - q1) / 2)}"


def _quartiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    n = len(ordered)
    return ordered[int(0.25 * (n - 1))], ordered[int(0.75 * (n - 1))]


def count_cell(*metrics: Metric | None) -> str:
    return "/".join(str(len(m.samples)) if m is not None and m.samples else "-" for m in metrics)


def memory_cell(metric: Metric | None) -> str:
    """The figure and the first word of its method (``autograd``, ``tracemalloc``, ...)."""
    if metric is None or metric.value is None:
        return "-"
    return f"{fmt_bytes(metric.value)} ({metric.method.split()[0]})"


def quality_cells(result: CaseResult) -> tuple[str, str]:
    primary = result.details.get("primary_metric")
    value = result.metric("train", f"eval_{primary}") if primary else None
    if value is None or value.value is None:
        return "-", "-"
    base = result.metric("train", f"baseline_{primary}")
    return f"{primary} {value.value:.3g}", f"{base.value:.3g}" if base is not None else "-"


COLUMNS = ["model", "task", "seq_len", "width", "params", "train step", "forward", "tokens/s", "decode/token", "state",
           "n", "memory", "budget", "steps reached", "quality", "chance", "status"]
#: shown even when every cell is empty
_ALWAYS = ("model", "task", "status")


def summary_rows(results: list[CaseResult]) -> list[list[str]]:
    rows = []
    for r in results:
        c = r.config
        params = r.metric("model", "params")
        step, fwd = r.metric("train", "step_time_s"), r.metric("forward", "latency_s")
        decode, state = r.metric("decode", "token_latency_s"), r.metric("decode", "state_bytes")
        quality, chance = quality_cells(r)
        budgeted = c.time_budget_s is not None
        reached = r.metric("train", "steps_reached") if budgeted else None
        width = str(c.hidden) + (f" (of {c.requested_hidden})" if c.requested_hidden not in (None, c.hidden) else "")
        rows.append([
            c.model, c.task + (f" seed {c.seed}" if c.seed else ""), str(c.seq_len), width,
            fmt_count(params.value if params else None),
            spread(step), spread(fwd), spread(r.metric("forward", "tokens_per_s"), fmt_count),
            spread(decode), fmt_bytes(state.value) if state is not None else "-",
            count_cell(step, fwd, decode), memory_cell(r.metric("train", "memory_bytes")),
            f"{c.time_budget_s:g} s" if budgeted else "-", fmt_count(reached.value) if reached else "-",
            quality, chance,
            r.status if r.status == "ok" else f"{r.status}: {r.error[:100]}",
        ])
    return rows


def visible_columns(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """Drop the columns no row has a value in (a forward-only run has no train columns)."""
    keep = [i for i, name in enumerate(header)
            if name in _ALWAYS or any(row[i] not in ("-", "-/-", "-/-/-") for row in rows)]
    return [header[i] for i in keep], [[row[i] for i in keep] for row in rows]


def legend(run: RunInfo, results: list[CaseResult] = ()) -> list[str]:
    threads = run.env.get("threads")
    decoded = any(r.metric("decode", "token_latency_s") is not None for r in results)
    lines = [
        f"Times: median ±IQR/2, wall clock, {threads} thread(s), on {run.env.get('cpu')}; n = timed samples"
        " (train steps / forward repeats / decode repeats).",
        "train step: real training steps (forward, backward, Adam update) after 3 warm-up steps;"
        " forward: full-sequence inference, blocked timing after warm-up (torch.utils.benchmark style);"
        " tokens/s: batch x length / forward time.",
        "memory: training-step memory; autograd = bytes saved for backward (activations, parameters excluded),"
        " tracemalloc = NumPy peak, torch.cuda = max_memory_allocated.",
        "quality: the task's primary metric on held-out test batches; chance: what guessing gets.",
        "budget: --time-budget, the wall clock each case trained for; steps reached: the training steps it completed.",
        "decode/token: one step() call generating the next token of each sequence at context T (the prompt"
        " fed through step() first), repeated from the same state; state: bytes carried to the next token"
        " (hidden/cell state or KV cache), read from the tensors.",
        "width: the core's width that ran; '(of N)' when --match-params changed it from --hidden N;"
        " params: trainable parameters, embedding and head included.",
    ]
    budgeted = any(r.config.time_budget_s is not None for r in results)
    return [line for line in lines if (decoded or not line.startswith("decode/token"))
            and (budgeted or not line.startswith("budget:"))]


def cpu_notes(results: list[CaseResult], run: RunInfo) -> list[str]:
    """Say when cases ran on different CPU models (a cluster): their times are not one comparison."""
    counts = Counter(r.worker.get("cpu") for r in results if r.worker.get("cpu"))
    if len(counts) > 1:
        mix = "; ".join(f"{cpu}: {n} case(s)" for cpu, n in sorted(counts.items()))
        return [f"Warning: these cases ran on {len(counts)} different CPU models ({mix}); compare times only"
                " between cases with the same cpu (a column of results.csv)."]
    if len(counts) == 1 and run.env.get("cpu") and next(iter(counts)) != run.env.get("cpu"):
        return [f"The cases ran on {next(iter(counts))}, not on the machine that started the run ({run.env['cpu']})."]
    return []


def print_summary(results: list[CaseResult], run: RunInfo, console: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if not console.is_terminal:  # piped or in CI: no terminal width to respect
        console = Console(width=220, file=console.file)
    table = Table(title=f"rnnbench run {run.run_id}", show_lines=False)
    header, rows = visible_columns(COLUMNS, summary_rows(results))
    for col in header:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for line in legend(run, results):
        console.print(f"[dim]{line}[/dim]")
    for line in cpu_notes(results, run):
        console.print(f"[yellow]{escape(line)}[/yellow]")
    for extra in measurement_tables(results):
        table = Table(title=extra.title, show_lines=False)
        for col in extra.header:
            table.add_column(col, overflow="fold")
        for row in extra.rows:
            table.add_row(*(escape(cell) for cell in row))
        console.print(table)
        for line in extra.notes:
            console.print(f"[dim]{escape(line)}[/dim]")


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

    sections = [Section("Summary", table=visible_columns(COLUMNS, summary_rows(results)),
                        bullets=legend(run, results) + cpu_notes(results, run))]
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
    for extra in measurement_tables(results):
        sections.append(Section(extra.title, table=(extra.header, extra.rows), bullets=extra.notes))
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
