"""Human-readable summaries of a run: the terminal table and report.md.

Every figure is printed with its spread and the legend says how it was measured.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from rnnbench.records import CaseResult, Metric, RunInfo


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


COLUMNS = ["model", "task", "seq_len", "params", "train step", "forward", "tokens/s", "n", "memory",
           "quality", "chance", "status"]


def summary_rows(results: list[CaseResult]) -> list[list[str]]:
    rows = []
    for r in results:
        c = r.config
        params = r.metric("model", "params")
        step, fwd = r.metric("train", "step_time_s"), r.metric("forward", "latency_s")
        quality, chance = quality_cells(r)
        rows.append([
            c.model, c.task + (f" seed {c.seed}" if c.seed else ""), str(c.seq_len),
            fmt_count(params.value if params else None),
            spread(step), spread(fwd), spread(r.metric("forward", "tokens_per_s"), fmt_count),
            count_cell(step, fwd), memory_cell(r.metric("train", "memory_bytes")),
            quality, chance,
            r.status if r.status == "ok" else f"{r.status}: {r.error[:100]}",
        ])
    return rows


def legend(run: RunInfo) -> list[str]:
    threads = run.env.get("threads")
    return [
        f"Times: median ±IQR/2, wall clock, {threads} thread(s), on {run.env.get('cpu')}; n = timed samples"
        " (train steps / forward repeats).",
        "train step: real training steps (forward, backward, Adam update) after 3 warm-up steps;"
        " forward: full-sequence inference, blocked timing after warm-up (torch.utils.benchmark style);"
        " tokens/s: batch x length / forward time.",
        "memory: training-step memory; autograd = bytes saved for backward (activations, parameters excluded),"
        " tracemalloc = NumPy peak, torch.cuda = max_memory_allocated.",
        "quality: the task's primary metric on held-out test batches; chance: what guessing gets.",
    ]


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
    for col in COLUMNS:
        table.add_column(col, overflow="fold")
    for row in summary_rows(results):
        table.add_row(*row)
    console.print(table)
    for line in legend(run):
        console.print(f"[dim]{line}[/dim]")
    for line in cpu_notes(results, run):
        console.print(f"[yellow]{escape(line)}[/yellow]")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_report_md(results: list[CaseResult], run: RunInfo, folder: Path, extra_sections: list[str] = ()) -> Path:
    env = run.env
    parts = [
        f"# rnnbench run {run.run_id}",
        "",
        f"Command: `{run.command}`" if run.command else "",
        "",
        "## Summary",
        "",
        markdown_table(COLUMNS, summary_rows(results)),
        "",
        *[f"- {line}" for line in legend(run) + cpu_notes(results, run)],
        "",
        *extra_sections,
        "## Environment",
        "",
        "```json",
        json.dumps(env, indent=2, default=str),
        "```",
        "",
    ]
    path = folder / "report.md"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
