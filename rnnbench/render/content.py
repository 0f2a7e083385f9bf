"""A run's report content, built once: every section of report.md and report.html, and
the summary table the terminal prints.

:func:`build_content` takes the results DataFrame (built once, by whoever writes the
run folder) and the plots already drawn, computes the crossovers once, and returns a
:class:`ReportContent` that rnnbench.render.markdown and rnnbench.render.html only
lay out. Every "±" comes from :class:`rnnbench.stats.Summary`; every sentence about
how a run measured (warm-up steps) comes from the run's stored settings.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rnnbench.analysis.conditions import load_notes, settings_notes
from rnnbench.analysis.crossover import crossovers
from rnnbench.analysis.findings import Finding, attach_samples, findings, short_reason
from rnnbench.analysis.frame import baseline_kind, primary_metrics, results_frame
from rnnbench.analysis.match_params import point_of
from rnnbench.records import CaseResult, Metric, RunInfo, machine_line, run_threads
from rnnbench.render.fit import Column
from rnnbench.render.lr_grid import EXPLANATION as LR_GRID_EXPLANATION, edge_notes as lr_grid_edge_notes
from rnnbench.render.lr_grid import lr_grid_table
from rnnbench.render.measurements import measurement_tables
from rnnbench.render.plots import PlotFigure, PlotSet
from rnnbench.stats import MIN_SAMPLES_FOR_SPREAD, Summary, fmt_bytes, fmt_count, fmt_time
from rnnbench.sweep_axes import AXES, axis_value, format_value

Table = tuple[list[str], list[list[str]]]


@dataclass
class Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    table: Table | None = None
    figures: list[PlotFigure] = field(default_factory=list)
    code: str | None = None


@dataclass
class ReportContent:
    title: str
    command: str
    sections: list[Section]
    #: the findings the report opens with; the terminal prints the same ones (computed once)
    findings: list[Finding] = field(default_factory=list)


# -- the summary table (terminal, report.md, report.html) ---------------------------------------

def timed_cell(metric: Metric | None, fmt=fmt_time) -> str:
    """``median ±IQR/2`` (rnnbench.stats.Summary, as every output prints it; n is in the legend), or
    ``median (n=2)`` when there are too few samples for a spread."""
    if metric is None or metric.value is None:
        return "-"
    if not metric.samples:
        return fmt(metric.value)
    summary = Summary.of(metric.samples)
    if not summary.has_spread:
        return f"{fmt(metric.value)} (n={summary.n})"
    return summary.format(fmt, with_n=False)


def _axis_value(result: CaseResult, field: str) -> Any:
    c = result.config
    if field.endswith("_options"):
        return ",".join(f"{k}={v}" for k, v in axis_value(c, field).items()) or "-"
    return axis_value(c, field)  # None for steps under a budget (steps reached says how many ran)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):  # a grid of rates
        return format_value(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def varying_axes(results: list[CaseResult]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """The axes with more than one value (columns) and the constant ones, said in words."""
    columns, constant = [], []
    backends = {r.config.model.split("@", 1)[-1] for r in results}
    if len(backends) == 1 and all("@" in r.config.model for r in results):
        constant.append(f"backend {backends.pop()}")
    for axis in AXES:
        values = {json.dumps(_axis_value(r, axis.name), default=str) for r in results}
        if len(values) > 1:
            columns.append((axis.name, axis.column, axis.short))
        elif results:
            value = _axis_value(results[0], axis.name)
            # nothing to say: default options, no --lr-grid (an empty grid), no budget
            if (axis.name.endswith("_options") and value == "-") or value is None or value in ((), []):
                continue
            constant.append(axis.constant.format(_text(value)) + (_capped_length(results) if axis.name == "seq_len"
                                                                  else ""))
    return columns, constant


def _capped_length(results: list[CaseResult]) -> str:
    """Where --seq-len only caps the task's length (uea: the longest series kept), the length the cases ran at."""
    totals = {r.model_facts.total_seq_len for r in results} - {None}
    if len(totals) == 1 and results and (total := totals.pop()) < results[0].config.seq_len:
        return f" (a cap: the series are {total} steps)"
    return ""


def _short(name: str) -> str:
    return name if len(name) <= 5 else name[:3] + "."


def display_names(models: list[str]) -> dict[str, str]:
    """ARCH alone when every model runs on one backend (said once above the table), else ARCH@BACKEND."""
    # a label may carry the model options set away from their defaults: lru@torch[scan=parallel]
    backends = {m.partition("[")[0].split("@", 1)[-1] for m in models}
    if len(backends) == 1 and all("@" in m for m in models):
        return {m: m.partition("[")[0].split("@", 1)[0] + "".join(m.partition("[")[1:]) for m in models}
    return {m: m for m in models}


def _shared_primary_metric(results: list[CaseResult]) -> str | None:
    """The one primary metric the cases evaluated, naming the quality column; None: none, or several tasks' own."""
    names = primary_metrics(results_frame(results))
    return names[0] if len(names) == 1 else None


def _memory_method(results: list[CaseResult]) -> str | None:
    methods = {m.method.split()[0] for r in results if (m := r.metric("train", "memory_bytes")) and m.method}
    return methods.pop() if len(methods) == 1 else None


#: the priority of columns left out first when the table is too wide (rnnbench.render.fit)
LOW_PRIORITY = 9


@dataclass(frozen=True)
class _SummaryShape:
    """What the whole run decides about the summary table (which optional columns show, how a cell is
    worded), computed once so that the columns and every row agree."""

    axes: list[tuple[str, str, str]]
    primary: str | None
    one_method: str | None
    width_differs: bool
    tuned: bool
    all_chance: bool
    show_family: bool

    @classmethod
    def of(cls, results: list[CaseResult], axes: list[tuple[str, str, str]]) -> _SummaryShape:
        # a run of several families (recurrent, linear-recurrent, attention) says which model is which
        families = {r.model_facts.family for r in results} - {None, ""}
        return cls(
            axes=axes,
            primary=_shared_primary_metric(results),
            one_method=_memory_method(results),
            width_differs=any(r.config.requested_hidden not in (None, r.config.hidden) for r in results),
            tuned=any(r.config.lr_grid for r in results),
            # chance alone keeps its plain column; any other kind (persistence, 1-NN) is named in each cell
            all_chance=all(baseline_kind(r) == "chance" for r in results),
            show_family=len(families) > 1,
        )


def summary_columns(results: list[CaseResult]) -> tuple[list[Column], list[list[str]], list[str]]:
    """Columns, rows and the constant axes of the terminal summary (before fitting)."""
    axes, constant = varying_axes(results)
    shape = _SummaryShape.of(results, axes)
    columns = _summary_header(shape)
    model_names = display_names([r.config.model_label for r in results])
    rows = [_summary_row(r, model_names[r.config.model_label], shape) for r in results]
    # leave out the columns no row has a value in (a forward-only run has no train columns)
    keep = [i for i, c in enumerate(columns) if c.priority == 0 or any(row[i] != "-" for row in rows)]
    return [columns[i] for i in keep], [[row[i] for i in keep] for row in rows], constant


def _summary_header(shape: _SummaryShape) -> list[Column]:
    """Every column the summary could show, in order, with the priority it is dropped by when too wide."""
    baseline_header = "chance" if shape.all_chance else "baseline"
    columns = [Column("model", priority=0)] + ([Column("family", "fam", priority=2)] if shape.show_family else [])
    # the quality metric and its baseline are what a run is read for: they outlast every column but
    # the model and status; task options (long, and said once above the table when constant) go first
    columns += [Column(name, short, priority=LOW_PRIORITY if field == "task_options" else 1,
                       justify="right" if field not in ("task", "task_options", "device", "dtype") else "left")
                for field, name, short in shape.axes]
    if shape.width_differs:
        columns.append(Column("width", "W", priority=3, justify="right"))
    if shape.tuned:
        columns.append(Column("lr chosen", "lr", priority=2, justify="right"))
    columns += [
        Column("params", "params", priority=6, justify="right"),
        Column("train step", "train", priority=2, justify="right"),
        Column("forward", "fwd", priority=2, justify="right"),
        Column("tokens/s", "tok/s", priority=7, justify="right"),
        Column("decode/token", "decode", priority=3, justify="right"),
        Column("state", "state", priority=5, justify="right"),
        Column("memory", "mem", priority=4, justify="right"),
        Column("steps reached", "steps", priority=3, justify="right"),
        Column(shape.primary or "quality", _short(shape.primary or "quality"), priority=1, justify="right"),
        Column(baseline_header, baseline_header, priority=1, justify="right"),
        Column("status", priority=0, wrap=True, wrap_at=36),
    ]
    return columns


def _summary_row(r: CaseResult, model_name: str, shape: _SummaryShape) -> list[str]:
    """One case's cells, in the order of :func:`_summary_header`: what identifies it, then what it measured."""
    cells = [model_name] + ([r.model_facts.family or "-"] if shape.show_family else []) \
        + [_text(_axis_value(r, field)) for field, _, _ in shape.axes]
    if shape.width_differs:
        cells.append(str(r.config.hidden))
    if shape.tuned:
        chosen = r.metric("train", "lr_selected")
        cells.append(f"{chosen.value:g}" if chosen is not None else "-")
    return cells + _measured_cells(r, shape)


def _measured_cells(r: CaseResult, shape: _SummaryShape) -> list[str]:
    """A case's measurements, from params to status: the cells every summary has."""
    params = r.metric("model", "params")
    state, memory = r.metric("decode", "state_bytes"), r.metric("train", "memory_bytes")
    key = r.scoring.primary_metric
    quality = r.metric("train", f"eval_{key}") if key else None
    chance = r.metric("train", f"baseline_{key}") if key else None
    mem = "-" if memory is None or memory.value is None else fmt_bytes(memory.value) + (
        "" if shape.one_method or not memory.method else f" ({memory.method.split()[0]})")
    quality_text = "-" if quality is None or quality.value is None else (
        f"{quality.value:.3g}" if shape.primary else f"{key} {quality.value:.3g}")
    reason = short_reason(r.error, 48) if r.status != "ok" else ""
    return [
        fmt_count(params.value if params else None),
        timed_cell(r.metric("train", "step_time_s")), timed_cell(r.metric("forward", "latency_s")),
        fmt_count(m.value) if (m := r.metric("forward", "tokens_per_s")) else "-",
        timed_cell(r.metric("decode", "token_latency_s")),
        fmt_bytes(state.value) if state is not None else "-", mem,
        fmt_count(m.value) if (r.config.time_budget_s is not None or r.config.flops_budget is not None)
        and (m := r.metric("train", "steps_reached")) else "-", quality_text,
        "-" if chance is None or chance.value is None else f"{chance.value:.3g}" if shape.all_chance
        else f"{baseline_kind(r)} {chance.value:.3g}",
        r.status if r.status == "ok" else f"{r.status}: {reason}" if reason else r.status,
    ]


def legend_lines(shown: dict[str, str], run: RunInfo, results: list[CaseResult]) -> list[str]:
    """One line per group of columns shown (``shown``: column name -> the header printed), saying how
    their numbers were measured."""

    def named(column: str) -> str:
        header = shown[column]
        return header if header == column else f"{header} ({column})"

    lines = _times_line(shown, run, results)
    if "train step" in shown:
        settings = run.run_settings
        warmup = f"{settings.train_warmup_steps} warm-up steps" if settings is not None else "the warm-up steps"
        lines.append(f"{named('train step')}: one real training step (forward, backward, Adam update) after"
                     f" {warmup}.")
    if "forward" in shown:
        lines.append(f"{named('forward')}: full-sequence inference, blocked timing after warm-up.")
    if "tokens/s" in shown:
        lines.append(f"{named('tokens/s')}: batch × length / median forward time.")
    if "decode/token" in shown:
        lines.append(f"{named('decode/token')}: one step() call generating the next token of each sequence"
                     " at context T.")
    if "state" in shown:
        lines.append(f"{named('state')}: bytes carried to the next token (hidden/cell state or KV cache).")
    if "memory" in shown:
        method = _memory_method(results)
        lines.append(f"{named('memory')}: training-step memory" + (f", measured by {method}" if method else "")
                     + " (autograd = bytes saved for backward, parameters excluded; tracemalloc = NumPy peak;"
                     " torch.cuda = max_memory_allocated).")
    if "lr chosen" in shown:
        lines.append(f"{named('lr chosen')}: the rate of --lr-grid with the best validation score, chosen per"
                     " case; the train step, memory and quality columns are that rate's training run.")
    if "steps reached" in shown:
        lines.append(f"{named('steps reached')}: training steps completed within the --time-budget (the clock covers"
                     " batches, transfers and steps; evaluation is outside it), or the steps a --flops-budget"
                     " bought (the budget over the model's counted training FLOPs per step, rounded down).")
    primary = _shared_primary_metric(results) or "quality"
    if primary in shown:
        scales = sorted({r.scoring.metric_scale for r in results} - {None, ""})
        scale = f", {'; '.join(scales)}" if scales else ""
        lines.append(f"{named(primary)}: the task's primary metric on held-out test batches{scale}"
                     + (f"; {named('chance')}: what guessing scores." if "chance" in shown else "."))
    lines += baseline_lines(results)
    if "params" in shown:
        lines.append(f"{named('params')}: trainable parameters, embedding and head included.")
    if "width" in shown:
        lines.append(f"{named('width')}: the core's width that ran, chosen by --match-params from --hidden.")
    return lines



def _times_line(shown: dict[str, str], run: RunInfo, results: list[CaseResult]) -> list[str]:
    """The legend's line on the timed columns shown (how many samples, threads, which CPU), kept apart from the
    per-column lines because it reads every timed column at once; empty when no timed column is shown."""
    per_row = {r.ran_on.threads for r in results} - {None, 0}
    # a resume allowed to change settings can mix thread counts in one run: the notes below say how
    threads = per_row.pop() if len(per_row) == 1 else ("varied" if per_row else run_threads(run.env).text())
    cpu = run.env.get("cpu")
    sampled = {"train step": ("train", "step_time_s"), "forward": ("forward", "latency_s"),
               "decode/token": ("decode", "token_latency_s")}
    counts, few = [], False
    for column, key in sampled.items():
        ns = [len(m.samples) for r in results if (m := r.metric(*key)) and m.samples]
        if column in shown and ns:
            counts.append(f"{shown[column]} n={min(ns)}" + (f"–{max(ns)}" if max(ns) != min(ns) else ""))
            few = few or min(ns) < MIN_SAMPLES_FOR_SPREAD
    if not counts:
        return []
    return [f"Times: median ±half the interquartile range ({'; '.join(counts)} timed"
            " samples" + (f"; '(n=…)': fewer than {MIN_SAMPLES_FOR_SPREAD}, too few for a spread" if few
                          else "") + f"), wall clock, {threads} thread(s), on {cpu}."]

def baseline_lines(results: list[CaseResult]) -> list[str]:
    """Every baseline of a task that declares several (the table's column shows the first), one line per task
    setting; and, once, a note that a plugin's baselines are bare numbers read as chance."""
    sets: dict[str, tuple[str, str]] = {}  # task and options -> (metric, its baselines)
    for r in results:
        declared = r.baseline_record.baselines or ()
        if len(declared) > 1:
            label = " ".join([r.config.task, *(f"{k}={v}" for k, v in r.config.task_options)])
            sets.setdefault(label, (r.scoring.primary_metric or "quality",
                                    ", ".join(f"{b.label} {b.value:.3g}" for b in declared)))
    lines = []
    for label, (metric, text) in sets.items():
        where = f" of {label}" if len(sets) > 1 else ""
        lines.append(f"Baselines{where} ({metric}; the baseline column shows the first): {text}.")
    bare = sorted({r.config.task for r in results if r.baseline_record.baseline_bare_numbers})
    if bare:
        lines.append(f"Note: {', '.join(bare)} declare{'s' if len(bare) == 1 else ''} baselines as bare numbers,"
                     " shown as chance; a task names them with rnnbench.Baseline(value, kind, detail)"
                     " (docs/api.md, 'Baselines').")
    return lines


def cpu_notes(results: list[CaseResult], run: RunInfo) -> list[str]:
    """Say when cases ran on different CPU models (a cluster): their times are not one comparison."""
    counts = Counter(r.ran_on.cpu for r in results if r.ran_on.cpu)
    if len(counts) > 1:
        mix = "; ".join(f"{cpu}: {n} case(s)" for cpu, n in sorted(counts.items()))
        return [f"Warning: these cases ran on {len(counts)} different CPU models ({mix}); compare times only"
                " between cases with the same cpu (a column of results.csv)."]
    if len(counts) == 1 and run.env.get("cpu") and next(iter(counts)) != run.env.get("cpu"):
        return [f"The cases ran on {next(iter(counts))}, not on the machine that started the run ({run.env['cpu']})."]
    return []


def run_findings(results: list[CaseResult], run: RunInfo, frame: pd.DataFrame | None = None) -> list[Finding]:
    """The findings of the run (rnnbench.analysis.findings), from its results frame and raw samples."""
    if not results:
        return []
    return findings(attach_samples(results_frame(results, run.run_id) if frame is None else frame, results))


def report_summary(results: list[CaseResult], run: RunInfo) -> tuple[list[str], list[list[str]], list[str]]:
    """The full summary table for report.md/report.html (every column with a value) and its notes."""
    columns, rows, constant = summary_columns(results)
    shown = {c.name: c.name for c in columns}
    notes = ([f"All cases: {', '.join(constant)}."] if constant else []) + legend_lines(shown, run, results)
    # the load's warnings stand with the findings they qualify (build_content), not here
    return [c.name for c in columns], rows, notes + cpu_notes(results, run) + settings_notes(results)


# -- the other sections -------------------------------------------------------------------------

def matching_table(results: list[CaseResult]) -> Table | None:
    """Model, hidden asked for, width run, parameters and their gap to the point's first model."""
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
        ref_count = r.config.matched_params or ref_count  # the count it was sized to, when stored
        gap = f"{(count - ref_count) / ref_count:+.1%} vs {ref_model}" if count and ref_count else "-"
        row = [r.config.model_label, str(r.config.seq_len), str(r.config.requested_hidden), str(r.config.hidden),
               f"{int(count):,}" if count else "-", f"{int(ref_count):,}" if ref_count else "-", gap]
        if row not in rows:  # seeds, rates and budgets of one point share the architecture
            rows.append(row)
    return ["model", "T", "hidden asked", "width", "params", "matched to", "params vs first model"], rows


def build_content(results: list[CaseResult], run: RunInfo, frame: pd.DataFrame,
                  plots: PlotSet | None = None) -> ReportContent:
    """Every section of the report, from the run's results and its one results frame."""
    found = run_findings(results, run, frame)
    # a busy machine or a distorted timing qualifies the timing findings: said first, in their section
    warnings = load_notes(results, run)
    sections = [Section("Findings", paragraphs=warnings, bullets=[f.text for f in found])] if found else []
    header, rows, notes = report_summary(results, run)
    sections.append(Section("Summary", table=(header, rows), bullets=notes))
    matched = matching_table(results)
    if matched is not None:
        sections.append(Section(
            "Parameter matching (--match-params)", table=matched,
            paragraphs=["Each model's width was chosen so that its trainable parameters (embedding and head"
                        " included) are within 5% of the first model's at the requested --hidden."]))
    tuned = lr_grid_table(results)
    if tuned is not None:
        sections.append(Section("Learning rates (--lr-grid)", table=tuned, paragraphs=[LR_GRID_EXPLANATION],
                                bullets=lr_grid_edge_notes(results)))
    if results:
        lines = [c.describe() for c in crossovers(frame)]
        if lines:
            sections.append(Section(
                "Where attention overtakes recurrence", bullets=lines,
                paragraphs=["Ratios of median per-token costs measured in this run, on this machine"
                            f" ({machine_line(run.env)}); a ratio above 1 means the attention model is slower."]))
    for extra in measurement_tables(results):
        sections.append(Section(extra.title, table=(extra.header, extra.rows), bullets=extra.notes))
    if plots is not None:
        sections.append(Section("Plots", figures=list(plots.figures), bullets=list(plots.notes)))
    sections.append(Section("Environment", code=json.dumps(run.env, indent=2, default=str)))
    return ReportContent(title=f"rnnbench run {run.run_id}", command=run.command, sections=sections,
                         findings=found)
