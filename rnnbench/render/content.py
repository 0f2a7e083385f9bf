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

import pandas as pd

from rnnbench.analysis.conditions import condition_notes
from rnnbench.analysis.crossover import crossovers
from rnnbench.analysis.match_params import point_of
from rnnbench.records import CaseResult, Metric, RunInfo
from rnnbench.render.plots import PlotFigure, PlotSet, machine_line
from rnnbench.stats import Summary, fmt_bytes, fmt_count, fmt_time

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


# -- the summary table (terminal, report.md, report.html) ---------------------------------------

def spread(metric: Metric | None, fmt=fmt_time) -> str:
    """``median ±IQR/2`` of a metric's samples (n is shown in its own column), else its value."""
    if metric is None or metric.value is None:
        return "-"
    if not metric.samples:
        return fmt(metric.value)
    return Summary.of(metric.samples).format(fmt, with_n=False)


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
           "n", "memory", "quality", "chance", "status"]
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
        width = str(c.hidden) + (f" (of {c.requested_hidden})" if c.requested_hidden not in (None, c.hidden) else "")
        rows.append([
            c.model, c.task + (f" seed {c.seed}" if c.seed else ""), str(c.seq_len), width,
            fmt_count(params.value if params else None),
            spread(step), spread(fwd), spread(r.metric("forward", "tokens_per_s"), fmt_count),
            spread(decode), fmt_bytes(state.value) if state is not None else "-",
            count_cell(step, fwd, decode), memory_cell(r.metric("train", "memory_bytes")),
            quality, chance,
            r.status if r.status == "ok" else f"{r.status}: {r.error[:100]}",
        ])
    return rows


def visible_columns(header: list[str], rows: list[list[str]]) -> Table:
    """Drop the columns no row has a value in (a forward-only run has no train columns)."""
    keep = [i for i, name in enumerate(header)
            if name in _ALWAYS or any(row[i] not in ("-", "-/-", "-/-/-") for row in rows)]
    return [header[i] for i in keep], [[row[i] for i in keep] for row in rows]


def summary_table(results: list[CaseResult]) -> Table:
    return visible_columns(COLUMNS, summary_rows(results))


def legend(run: RunInfo, results: list[CaseResult] = ()) -> list[str]:
    per_row = {r.worker.get("threads") for r in results if r.worker.get("threads")}
    threads = per_row.pop() if len(per_row) == 1 else ("varied" if per_row else run.env.get("threads"))
    decoded = any(r.metric("decode", "token_latency_s") is not None for r in results)
    settings = run.run_settings
    warmup = f"{settings.train_warmup_steps} warm-up steps" if settings is not None else "the warm-up steps"
    lines = [
        f"Times: median ±IQR/2, wall clock, {threads} thread(s), on {run.env.get('cpu')}; n = timed samples"
        " (train steps / forward repeats / decode repeats).",
        f"train step: real training steps (forward, backward, Adam update) after {warmup};"
        " forward: full-sequence inference, blocked timing after warm-up (torch.utils.benchmark style);"
        " tokens/s: batch x length / forward time.",
        "memory: training-step memory; autograd = bytes saved for backward (activations, parameters excluded),"
        " tracemalloc = NumPy peak, torch.cuda = max_memory_allocated.",
        "quality: the task's primary metric on held-out test batches; chance: what guessing gets.",
        "decode/token: one step() call generating the next token of each sequence at context T (the prompt"
        " fed through step() first), repeated from the same state; state: bytes carried to the next token"
        " (hidden/cell state or KV cache), read from the tensors.",
        "width: the core's width that ran; '(of N)' when --match-params changed it from --hidden N;"
        " params: trainable parameters, embedding and head included.",
    ]
    return lines if decoded else [line for line in lines if not line.startswith("decode/token")]


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
        gap = f"{(count - ref_count) / ref_count:+.1%} vs {ref_model}" if count and ref_count else "-"
        rows.append([r.config.model, str(r.config.seq_len), str(r.config.requested_hidden), str(r.config.hidden),
                     f"{int(count):,}" if count else "-", gap])
    return ["model", "T", "hidden asked", "width", "params", "params vs first model"], rows


def build_content(results: list[CaseResult], run: RunInfo, frame: pd.DataFrame,
                  plots: PlotSet | None = None) -> ReportContent:
    """Every section of the report, from the run's results and its one results frame."""
    sections = [Section("Summary", table=summary_table(results),
                        bullets=legend(run, results) + cpu_notes(results, run) + condition_notes(results, run))]
    matched = matching_table(results)
    if matched is not None:
        sections.append(Section(
            "Parameter matching (--match-params)", table=matched,
            paragraphs=["Each model's width was chosen so that its trainable parameters (embedding and head"
                        " included) are within 5% of the first model's at the requested --hidden."]))
    if results:
        lines = [c.describe() for c in crossovers(frame)]
        if lines:
            sections.append(Section(
                "Where attention overtakes recurrence", bullets=lines,
                paragraphs=["Ratios of median per-token costs measured in this run, on this machine"
                            f" ({machine_line(run.env)}); a ratio above 1 means the attention model is slower."]))
    if plots is not None:
        sections.append(Section("Plots", figures=list(plots.figures), bullets=list(plots.notes)))
    sections.append(Section("Environment", code=json.dumps(run.env, indent=2, default=str)))
    return ReportContent(title=f"rnnbench run {run.run_id}", command=run.command, sections=sections)
