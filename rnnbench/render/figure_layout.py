"""The layout every rnnbench figure shares: panels, a legend outside the data, a title that fits.

* Constrained layout (matplotlib's layout engine) places the suptitle, the axes and
  a figure legend "outside right", so the legend never covers a line.
* More than a handful of series in one axes cannot be read: callers split them into
  small multiples (panels sharing the y axis), at most MAX_SERIES_PER_PANEL lines each.
* Titles are wrapped to the figure's width instead of being cut at its edge.

Figures are drawn on ``matplotlib.figure.Figure`` with the Agg canvas directly, not
through pyplot: no display is needed and nothing leaks between figures.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Iterable, Sequence, TypeVar

#: more lines than this in one panel and the reader cannot match colours to the legend
MAX_SERIES_PER_PANEL = 5
#: the widest a legend entry gets, in characters, before it wraps onto another line
LEGEND_LABEL_CHARS = 28
#: panels per row of small multiples
PANEL_COLUMNS = 3
DPI = 100
#: room per title character at 12 pt, in pixels at DPI: a centred title wrapped to it spans at most 60% of
#: the figure, clear of the legend in its top-right corner (an average character is about 7.5 px)
_TITLE_CHAR_PX = 12.5

T = TypeVar("T")


def new_figure(panels: int = 1, *, single_size: tuple[float, float] = (8.0, 4.8), sharey: bool = True):
    """A figure with ``panels`` axes (sharing y unless ``sharey=False``: panels of different metrics),
    laid out by constrained layout; returns (figure, axes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns = 1 if panels == 1 else min(PANEL_COLUMNS, panels)
    rows = math.ceil(panels / columns)
    size = single_size if panels == 1 else (3.4 * columns + 2.4, 2.9 * rows + 1.0)
    figure = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.subplots(rows, columns, sharey=sharey, squeeze=False)
    axes = [ax for row in grid for ax in row]
    for spare in axes[panels:]:
        spare.remove()
    for ax in axes[:panels]:
        ax.tick_params(labelleft=True)  # every panel keeps its y numbers: panels are read one at a time
    return figure, axes[:panels]


def chunks(items: Sequence[T], size: int = MAX_SERIES_PER_PANEL) -> list[list[T]]:
    """``items`` in about equal groups of at most ``size``, in order."""
    if not items:
        return []
    groups = math.ceil(len(items) / size)
    per = math.ceil(len(items) / groups)
    return [list(items[i:i + per]) for i in range(0, len(items), per)]


def colours(labels: Iterable[str]) -> dict[str, str]:
    """One colour per series label, the same in every panel."""
    out: dict[str, str] = {}
    for label in labels:
        out.setdefault(label, f"C{len(out) % 10}")
    return out


def legend_outside(figure, axes) -> None:
    """One legend for the whole figure, right of the panels; entries deduplicated by label."""
    seen: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label and not label.startswith("_"):
                seen.setdefault(label, handle)
    if seen:
        # a long label (a model option and task options) wraps rather than widening the legend until
        # constrained layout leaves the panels a sliver
        labels = ["\n".join(textwrap.wrap(label, LEGEND_LABEL_CHARS)) or label for label in seen]
        figure.legend(list(seen.values()), labels, loc="outside right upper", fontsize=8, frameon=False)


def title(figure, text: str, fontsize: int = 12) -> str:
    """Set the figure's title, wrapped so that it fits its width; returns the wrapped text."""
    chars = max(20, int(figure.get_figwidth() * DPI / _TITLE_CHAR_PX * 12 / fontsize))
    wrapped = "\n".join(textwrap.wrap(text, chars))
    figure.suptitle(wrapped, fontsize=fontsize)
    return wrapped


def save(figure, path: Path) -> None:
    figure.savefig(path, dpi=DPI)
