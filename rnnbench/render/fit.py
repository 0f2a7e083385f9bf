"""Tables that fit the terminal they are printed in, and the run summary built on them.

rich wraps a cell that is too narrow anywhere, mid-word included (``lstm@to|rch``).
Here the widths are chosen before rich sees the table: a number with its unit
and spread never wraps, text columns (a failure reason) wrap only between words,
headers wrap between words or take their short form, and when even that does not
fit, the least important columns are left out and named under the table (the
full table is in results.csv and the report). Piped output with no COLUMNS has
no width to respect: it gets the whole table, unwrapped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence

from rich.cells import cell_len

#: what one column costs besides its content: a border and one space of padding either side
_COLUMN_OVERHEAD = 3


@dataclass
class Column:
    """A column that may be abbreviated or left out.

    :param priority: 0 is never left out; higher numbers go first.
    :param wrap: text that may wrap between words (a failure reason); other cells stay on one line.
    :param wrap_at: the width a wrapping column asks for at most.
    :param styles: a cell's rich style by its first word (a verdict: ``{"slower": "bold red"}``).
    :param room_first: given its full width before the other columns share the room left (a figure
        that may wrap, but reads best whole).
    """

    name: str
    short: str = ""
    priority: int = 0
    wrap: bool = False
    wrap_at: int = 40
    justify: str = "left"
    styles: dict[str, str] = field(default_factory=dict)
    room_first: bool = False


@dataclass
class FittedTable:
    columns: list[Column]
    rows: list[list[str]]
    widths: list[int]
    headers: list[str]
    #: names of the columns left out for width
    left_out: list[str] = field(default_factory=list)


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def _bounds(header: str, cells: list[str], column: Column) -> tuple[int, int]:
    """(narrowest, widest) this column can be without splitting a word or a number."""
    header_min, header_max = _longest_word(header), cell_len(header)
    full = max((cell_len(c) for c in cells), default=0)
    if column.wrap:
        words = max((_longest_word(c) for c in cells), default=0)
        return max(header_min, words), max(header_max, min(full, max(column.wrap_at, words)))
    return max(header_min, full), max(header_max, full)


def fit(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None) -> FittedTable:
    """Choose headers, columns and widths so that the table is at most ``width`` cells wide.

    ``width`` None: no limit (everything on one line). Otherwise, full headers are tried
    first, then short ones; in each, columns are left out by priority until the narrowest
    layout fits; the variant leaving out fewer columns wins.
    """
    best: FittedTable | None = None
    for use_short in (False, True):
        if use_short and not any(c.short for c in columns):
            break
        headers = [(c.short or c.name) if use_short else c.name for c in columns]
        keep = list(range(len(columns)))
        bounds = [_bounds(headers[i], [r[i] for r in rows], columns[i]) for i in range(len(columns))]

        def narrowest(indices: list[int]) -> int:
            return sum(bounds[i][0] for i in indices) + _COLUMN_OVERHEAD * len(indices) + 1

        while width is not None and narrowest(keep) > width:
            droppable = [i for i in keep if columns[i].priority > 0]
            if not droppable:
                break
            # the least important goes first; among equals, the rightmost
            keep.remove(max(droppable, key=lambda i: (columns[i].priority, i)))
        widths = _widths([bounds[i] for i in keep], width, [columns[i].room_first for i in keep])
        candidate = FittedTable([columns[i] for i in keep], [[r[i] for i in keep] for r in rows], widths,
                                [headers[i] for i in keep],
                                [columns[i].name for i in range(len(columns)) if i not in keep])
        if best is None or len(candidate.left_out) < len(best.left_out):
            best = candidate
    assert best is not None
    return best


def _widths(bounds: list[tuple[int, int]], width: int | None, first: Sequence[bool] = ()) -> list[int]:
    """Each column its narrowest width, then the room left shared out: the ``first`` columns first, then
    narrowest need first."""
    if width is None:
        return [high for _, high in bounds]
    widths = [low for low, _ in bounds]
    room = width - (sum(widths) + _COLUMN_OVERHEAD * len(widths) + 1)
    first = list(first) or [False] * len(bounds)
    for i in sorted(range(len(bounds)), key=lambda i: (not first[i], bounds[i][1] - bounds[i][0])):
        if room <= 0:
            break
        extra = min(room, bounds[i][1] - widths[i])
        widths[i] += extra
        room -= extra
    return widths


def table_width(fitted: FittedTable) -> int:
    """The cells a fitted table takes, borders included."""
    return sum(fitted.widths) + _COLUMN_OVERHEAD * len(fitted.widths) + 1


def rich_table(fitted: FittedTable, title: str | None = None, **table_options: Any):
    """The fitted table as a rich Table with its widths fixed, so that rich re-decides nothing."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, **table_options)
    for column, header, w in zip(fitted.columns, fitted.headers, fitted.widths):
        table.add_column(header, width=w, justify=column.justify,
                         no_wrap=not column.wrap and cell_len(header) <= w, overflow="fold")
    for row in fitted.rows:  # cells are text, never rich markup
        table.add_row(*(Text(cell, style=column.styles.get(cell.split(" ", 1)[0], "")) if column.styles
                        else Text(cell) for column, cell in zip(fitted.columns, row)))
    return table


def target_width(console: Any) -> int | None:
    """The width to fit: the terminal's, COLUMNS when piped, else none (a pipe or file has no width)."""
    if console.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return console.width
    return None


def print_fitted(console: Any, columns: Sequence[Column], rows: Sequence[Sequence[str]], title: str | None = None,
                 hint: str = "all columns are in results.csv and the report", **table_options: Any) -> FittedTable:
    """Fit, print, and name what was left out; returns the fitted table."""
    from rich.console import Console
    from rich.markup import escape

    width = target_width(console)
    fitted = fit(columns, rows, width)
    table = rich_table(fitted, title=title, **table_options)
    if width is None:  # as wide as the table needs: nothing wraps in a pipe
        needed = sum(fitted.widths) + _COLUMN_OVERHEAD * len(fitted.widths) + 1
        console = Console(file=console.file, width=max(needed, cell_len(title or "")), no_color=True)
    console.print(table)
    if fitted.left_out:
        console.print(f"[dim]Not shown at {width} columns: {escape(', '.join(fitted.left_out))}"
                      f" ({escape(hint)}).[/dim]", highlight=False)
    return fitted
