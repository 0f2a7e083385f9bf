"""rich tables on the terminal: the run's summary (:func:`print_summary`) and the console
every read command prints through.

The summary's rows, legend and notes come from rnnbench.render.content, so the
terminal and report.md print the same cells.
"""

from __future__ import annotations

from typing import Any

from rnnbench.analysis.conditions import condition_notes
from rnnbench.records import CaseResult, RunInfo
from rnnbench.render.content import cpu_notes, legend, summary_table

#: the width of a table written to a pipe or a CI log, where no terminal width is there to respect
PIPE_WIDTH = 220


def plain_console(console: Any) -> Any:
    """``console`` itself on a terminal; when piped or in CI, a wide console on the same file."""
    from rich.console import Console

    if console.is_terminal:
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


def print_summary(results: list[CaseResult], run: RunInfo, console: Any) -> None:
    """The run's summary table, its legend and any warning about mixed CPUs."""
    from rich.markup import escape

    console = plain_console(console)
    header, rows = summary_table(results)
    print_table(f"rnnbench run {run.run_id}", header, rows, console, show_lines=False)
    for line in legend(run, results):
        console.print(f"[dim]{line}[/dim]")
    for line in cpu_notes(results, run) + condition_notes(results, run):
        console.print(f"[yellow]{escape(line)}[/yellow]")
