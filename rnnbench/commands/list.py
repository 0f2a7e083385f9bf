"""``rnnbench list``: the installed models, tasks and executors, and the plugins that provide them.

Every text a plugin supplies (an availability reason, a description, option help) is
printed verbatim: rich would read ``[triton]`` in "install rnnbench[triton]" as markup
and drop it, so each cell is escaped.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rnnbench.commands.common import load_plugins
from rnnbench.manager import Registry
from rnnbench.specs import ModelSpec, TaskSpec

#: a model name or an availability reason up to this long is never split across lines
_MIN_TEXT_WIDTH = 40


def add_parser(sub, add_common) -> None:
    parser = sub.add_parser("list", help="list installed models, tasks and executors",
                            description="List what the installed plugins (and -p modules) provide.")
    add_common(parser)
    parser.add_argument("--plugins", dest="list_plugins", action="store_true",
                        help="list the plugins instead: which distribution and version registered what")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    registry = load_plugins(args.plugins)
    console = Console()
    if not console.is_terminal:  # piped: no terminal width to respect, keep rows unwrapped
        console = Console(width=200)
    if args.list_plugins:
        console.print(plugins_table(registry))
        return 0
    console.print(models_table(registry, console.width))
    console.print(tasks_table(registry))
    console.print(executors_table(registry))
    return 0


def _text(value: Any) -> str:
    return escape(str(value))


def _from(registry: Registry, name: str) -> str:
    source = registry.source_of(name)
    if source is None:
        return ""
    if source.distribution is None:
        return f"-p {source.module}"
    return source.describe()


def dtype_text(spec: ModelSpec) -> str:
    """Which dtypes train where, and which run forward/decode only."""
    per_device = {device: tuple(d for d in spec.dtypes if spec.trains_in(device, d)) for device in spec.devices}
    if len(set(per_device.values())) == 1:
        trains = next(iter(per_device.values()))
        rest = [d for d in spec.dtypes if d not in trains]
        return f"train: {', '.join(trains)}" + (f"; forward/decode only: {', '.join(rest)}" if rest else "")
    parts = [f"{device} trains: {', '.join(trains) or 'none'}" for device, trains in per_device.items()]
    return "; ".join(parts) + f"; forward/decode: {', '.join(spec.dtypes)}"


def options_text(options: dict[str, Any], help_by_key: dict[str, str] | None = None) -> str:
    if not options:
        return "-"
    help_by_key = help_by_key or {}
    return "; ".join(f"{key}={value!r}" + (f" ({help_by_key[key]})" if key in help_by_key else "")
                     for key, value in options.items())


def _folding(table: Table, name: str, texts: list[str], keep_whole: int = 0) -> None:
    """A column that folds long texts; texts up to ``keep_whole`` characters stay on one line.

    Such a column gets that fixed width (rich's ``min_width`` would make the table overflow
    the console, as rich measures columns again after shrinking them); the others shrink.
    """
    longest = max((len(line) for t in texts for line in t.splitlines()), default=0)
    table.add_column(name, overflow="fold", width=min(longest, keep_whole) or None)


def runs_on_text(spec: ModelSpec) -> str:
    return f"{', '.join(spec.devices)}\n{dtype_text(spec)}"


def models_table(registry: Registry, width: int = 200) -> Table:
    table = Table(title="models (ARCH@BACKEND; a bare ARCH means its default backend;"
                  " options: --model-opt ARCH.KEY=VALUE)")
    rows = []
    for name in sorted(registry.models):
        spec = registry.models[name]
        reason = spec.unavailable_reason()
        title = name + (" (default)" if spec.default_for_arch else "")
        rows.append([
            title + (f"\n{spec.description}" if spec.description else ""), spec.family, runs_on_text(spec),
            options_text(spec.options, spec.option_help), "yes" if reason is None else f"no: {reason}",
            _from(registry, name),
        ])
    # On a wide console (or piped) a model name and an availability reason are never split.
    whole = _MIN_TEXT_WIDTH if width >= 160 else 0
    columns = ("model", "family", "runs on", "options", "available", "from")
    for index, column in enumerate(columns):
        keep = min(whole, 30) if column == "model" else whole if column == "available" else 0
        _folding(table, column, [row[index] for row in rows], keep_whole=keep)
    for row in rows:
        table.add_row(*(_text(cell) for cell in row))
    return table


def _defaults_text(spec: TaskSpec) -> str:
    d = spec.defaults
    return (f"seq_len={d.seq_len} batch={d.batch_size} steps={d.steps} lr={d.lr:g}"
            + "".join(f" lr[{family}]={lr:g}" for family, lr in d.lr_by_family.items())
            + f" hidden={d.hidden} layers={d.layers}")


def _source_text(spec: TaskSpec) -> str:
    reason = spec.unavailable_reason()
    return spec.source + (f" (not here: {reason})" if reason else "")


def tasks_table(registry: Registry) -> Table:
    table = Table(title="tasks (options: --task-opt TASK.KEY=VALUE)")
    rows = [[name, spec.seq_len_meaning, _defaults_text(spec), options_text(spec.options),
             f"{spec.description or '-'}\ndata: {_source_text(spec)}", _from(registry, name)]
            for name, spec in sorted(registry.tasks.items())]
    for index, column in enumerate(("task", "--seq-len means", "defaults", "options", "description", "from")):
        _folding(table, column, [row[index] for row in rows])
    for row in rows:
        table.add_row(*(_text(cell) for cell in row))
    return table


def executors_table(registry: Registry) -> Table:
    table = Table(title="executors (--executor NAME)")
    for column in ("executor", "description", "from"):
        table.add_column(column, overflow="fold")
    for name in sorted(registry.executors):
        table.add_row(_text(name), _text(registry.executors[name].description or "-"), _text(_from(registry, name)))
    return table


def plugins_table(registry: Registry) -> Table:
    table = Table(title="plugins (the distribution and version that registered each)")
    for column in ("plugin", "module", "distribution", "version", "loaded by", "registered"):
        table.add_column(column, overflow="fold")
    registered: dict[str, list[str]] = {}
    for name, owner in registry.owners.items():
        registered.setdefault(owner, []).append(name)
    for plugin, source in sorted(registry.sources.items()):
        table.add_row(*(_text(cell) for cell in (
            plugin, source.module, source.distribution or "- (not installed)", source.version or "-",
            "entry point" if source.via == "entry point" else "-p",
            ", ".join(sorted(registered.get(plugin, []))) or "-")))
    return table
