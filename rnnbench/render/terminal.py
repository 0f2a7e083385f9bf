"""rich tables on the terminal: the run's summary (:func:`print_summary`) and the console
every read command prints through.

The summary's rows, legend and notes come from rnnbench.render.content, so the
terminal and report.md print the same cells; the terminal's table is fitted to its
width by rnnbench.render.fit (the report's has every column), and the findings follow it.
"""

from __future__ import annotations

from typing import Any

from rnnbench.analysis.conditions import condition_notes
from rnnbench.analysis.findings import Finding
from rnnbench.records import CaseResult, RunInfo
from rnnbench.render.content import cpu_notes, legend_lines, run_findings, summary_columns
from rnnbench.render.fit import print_fitted
from rnnbench.render.measurements import measurement_tables

#: the width of a table written to a pipe or a CI log, where no terminal width is there to respect
PIPE_WIDTH = 220


def plain_console(console: Any) -> Any:
    """``console`` itself on a terminal or where COLUMNS gives a width (rich reads it); when piped or in CI
    without one, a wide console on the same file."""
    import os

    from rich.console import Console

    if console.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return console
    return Console(width=PIPE_WIDTH, file=console.file)


def print_table(title: str, header: list[str], rows: list[list[str]], console: Any, **table_options: Any) -> None:
    from rich.table import Table

    table = Table(title=title, **table_options)
    for col in header:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def print_summary(results: list[CaseResult], run: RunInfo, console: Any,
                  found: list[Finding] | None = None) -> None:
    """The table (fitted to the console), its legend, CPU warnings and the findings."""
    from rich.markup import escape

    columns, rows, constant = summary_columns(results)
    soft = not console.is_terminal  # a pipe: lines stay whole, the reader's viewer wraps them
    if constant:
        console.print(f"[dim]All cases: {escape(', '.join(constant))}.[/dim]", highlight=False, soft_wrap=soft)
    fitted = print_fitted(console, columns, rows, title=f"rnnbench run {run.run_id}")
    shown = {c.name: header for c, header in zip(fitted.columns, fitted.headers)}
    for line in legend_lines(shown, run, results):
        console.print(f"[dim]{escape(line)}[/dim]", highlight=False, soft_wrap=soft)
    for line in cpu_notes(results, run) + condition_notes(results, run):
        console.print(f"[yellow]{escape(line)}[/yellow]", highlight=False, soft_wrap=soft)
    for extra in measurement_tables(results):  # the training-dynamics tables, when the run has their measurements
        print_table(extra.title, extra.header, [[escape(cell) for cell in row] for row in extra.rows],
                    plain_console(console), show_lines=False)
        for line in extra.notes:
            console.print(f"[dim]{escape(line)}[/dim]", highlight=False, soft_wrap=soft)
    found = run_findings(results, run) if found is None else found
    if found:
        console.print("[bold]Findings[/bold] (from this run's stored results):", highlight=False)
        for finding in found:
            console.print(f"• {escape(finding.text)}", highlight=False, soft_wrap=soft)
