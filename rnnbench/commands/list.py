"""``rnnbench list``: the installed models, tasks and executors."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from rnnbench.commands.common import load_plugins


def add_parser(sub, add_common) -> None:
    parser = sub.add_parser("list", help="list installed models, tasks and executors")
    add_common(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    registry = load_plugins(args.plugins)
    console = Console()
    if not console.is_terminal:  # piped: no terminal width to respect, keep rows unwrapped
        console = Console(width=160)
    models = Table(title="models (ARCH@BACKEND; a bare ARCH means its default backend)")
    for col in ("model", "family", "devices", "dtypes", "available", "plugin"):
        models.add_column(col)
    for name in sorted(registry.models):
        spec = registry.models[name]
        reason = spec.unavailable_reason()
        default = " (default)" if spec.default_for_arch else ""
        models.add_row(name + default, spec.family, ",".join(spec.devices), ",".join(spec.dtypes),
                       "yes" if reason is None else f"no: {reason}", registry.owners.get(name, ""))
    console.print(models)
    tasks = Table(title="tasks (options: --task-opt TASK.KEY=VALUE)")
    for col in ("task", "--seq-len means", "defaults", "options", "description"):
        tasks.add_column(col, overflow="fold")
    for name in sorted(registry.tasks):
        spec = registry.tasks[name]
        d = spec.defaults
        tasks.add_row(name, spec.seq_len_meaning,
                      f"seq_len={d.seq_len} batch={d.batch_size} steps={d.steps} lr={d.lr:g}"
                      + "".join(f" lr[{f}]={lr:g}" for f, lr in d.lr_by_family.items())
                      + f" hidden={d.hidden} layers={d.layers}",
                      ", ".join(f"{k}={v}" for k, v in spec.options.items()) or "-", spec.description)
    console.print(tasks)
    executors = Table(title="executors (--executor NAME)")
    executors.add_column("executor")
    executors.add_column("description")
    for name in sorted(registry.executors):
        executors.add_row(name, registry.executors[name].description)
    console.print(executors)
    return 0
