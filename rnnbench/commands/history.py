"""``rnnbench history``: one metric of chosen cases over the runs (and commits) in the store.

A table, runs as rows and cases as columns, each cell the median ±IQR/2 of the
raw samples (or the value, for untimed metrics); ``--plot FILE.png`` draws it
with matplotlib.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rnnbench.errors import UsageError
from rnnbench.render.report import fmt_bytes, fmt_time, markdown_table
from rnnbench.store import DEFAULT_DB_NAME, ResultsStore
from rnnbench.records import CaseConfig

#: scenarios a metric column starts with (``forward_latency_s`` = forward + latency_s)
_SCENARIOS = ("train", "forward", "decode", "model")
#: case fields that may tell the selected cases apart in a column label
_LABEL_FIELDS = ("model", "task", "task_options", "seq_len", "batch_size", "hidden", "layers", "device", "dtype",
                 "seed", "steps", "lr")


@dataclass
class Point:
    value: float
    low: float | None = None  # first quartile of the samples
    high: float | None = None  # third quartile
    n: int = 0


@dataclass
class RunRow:
    run_id: str
    created_at: float
    commit: str | None
    threads: Any
    points: dict[str, Point] = field(default_factory=dict)


@dataclass
class History:
    metric: str
    unit: str
    cases: dict[str, str]  # case id -> column label, in first-seen order
    runs: list[RunRow]


def _split_metric(column: str, known: set[tuple[str, str]]) -> tuple[str, str]:
    for scenario, name in known:
        if f"{scenario}_{name}" == column:
            return scenario, name
    columns = sorted(f"{s}_{n}" for s, n in known if n != "loss_curve")
    raise UsageError(f"--metric: no metric '{column}' in the store (metrics: {', '.join(columns)})")


def _matches(value: str, wanted: list[str]) -> bool:
    # 'lstm' matches every backend of lstm; 'lstm@torch' only that one
    return not wanted or any(value == w or value.split("@", 1)[0] == w for w in wanted)


def _labels(configs: dict[str, CaseConfig]) -> dict[str, str]:
    dicts = {cid: c.to_dict() for cid, c in configs.items()}
    varying = [f for f in _LABEL_FIELDS
               if len({json.dumps(d[f], sort_keys=True) for d in dicts.values()}) > 1 or f == "model"]
    short = {"seq_len": "T", "batch_size": "B", "hidden": "H", "layers": "L"}
    out = {}
    for cid, d in dicts.items():
        parts = []
        for f in varying:
            value = d[f] if f != "task_options" else ",".join(f"{k}={v}" for k, v in d[f].items())
            parts.append(str(value) if f in ("model", "task", "device", "dtype") else f"{short.get(f, f)}={value}")
        out[cid] = " ".join(parts)
    return out


def load_history(db: Path, metric: str, models: list[str], tasks: list[str]) -> History:
    if not db.exists():
        raise UsageError(f"no results database at {db} (use --out to point at the folder that holds it)")
    with ResultsStore(db, create=False) as store:
        known = {(s, n) for s, n in store.conn.execute("SELECT DISTINCT scenario, name FROM metrics")}
        if not known:
            raise UsageError(f"the results database {db} has no metrics yet")
        scenario, name = _split_metric(metric, known)
        rows = store.conn.execute(
            "SELECT r.run_id, r.created_at, r.git_commit, r.env_json, c.case_id, c.config_json,"
            " m.value, m.unit, m.samples_json FROM metrics m"
            " JOIN cases c ON c.run_id = m.run_id AND c.case_id = m.case_id"
            " JOIN runs r ON r.run_id = m.run_id"
            " WHERE m.scenario = ? AND m.name = ? AND c.status = 'ok' AND m.value IS NOT NULL"
            " ORDER BY r.created_at, c.rowid", (scenario, name)).fetchall()
    configs: dict[str, CaseConfig] = {}
    runs: dict[str, RunRow] = {}
    unit = ""
    for run_id, created, commit, env_json, case_id, config_json, value, m_unit, samples_json in rows:
        config = CaseConfig.from_dict(json.loads(config_json))
        if not _matches(config.model, models) or not _matches(config.task, tasks):
            continue
        configs.setdefault(case_id, config)
        unit = m_unit or unit
        run = runs.get(run_id)
        if run is None:
            run = runs[run_id] = RunRow(run_id, created, commit, json.loads(env_json).get("threads"))
        samples = json.loads(samples_json) if samples_json else None
        if samples and len(samples) >= 2:
            q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
            run.points[case_id] = Point(float(value), q1, q3, len(samples))
        else:
            run.points[case_id] = Point(float(value), n=len(samples or []))
    if not configs:
        raise UsageError(f"no stored case matches (metric {metric}, models {','.join(models) or 'any'},"
                         f" tasks {','.join(tasks) or 'any'})")
    return History(metric, unit, _labels(configs), list(runs.values()))


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return fmt_time(value)
    if unit == "bytes":
        return fmt_bytes(value)
    return f"{value:.4g}"


def cell(point: Point | None, unit: str) -> str:
    if point is None:
        return "-"
    if point.low is None:
        return _fmt(point.value, unit)
    return f"{_fmt(point.value, unit)} ±{_fmt((point.high - point.low) / 2, unit)}"


def history_rows(h: History) -> tuple[list[str], list[list[str]]]:
    header = ["date (UTC)", "run", "commit", "threads", *h.cases.values()]
    rows = []
    for run in h.runs:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(run.created_at))
        commit = (run.commit or "-")[:10] + ("+dirty" if run.commit and run.commit.endswith("+dirty") else "")
        rows.append([when, run.run_id, commit, str(run.threads), *(cell(run.points.get(cid), h.unit) for cid in h.cases)])
    return header, rows


def plot_history(h: History, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib: install rnnbench[plot] (pip install 'rnnbench[plot]')") from None
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(h.runs) + 3), 4.5))
    xs = list(range(len(h.runs)))
    for cid, label in h.cases.items():
        x, y, err_low, err_high = [], [], [], []
        for i, run in enumerate(h.runs):
            p = run.points.get(cid)
            if p is None:
                continue
            x.append(i)
            y.append(p.value)
            err_low.append(p.value - p.low if p.low is not None else 0.0)
            err_high.append(p.high - p.value if p.high is not None else 0.0)
        ax.errorbar(x, y, yerr=[err_low, err_high], marker="o", capsize=3, label=label)
    ax.set_xticks(xs)
    ax.set_xticklabels([(r.commit or r.run_id)[:8] for r in h.runs], rotation=45, ha="right")
    ax.set_xlabel("run (commit), oldest first")
    ax.set_ylabel(f"{h.metric} ({h.unit})" if h.unit else h.metric)
    ax.set_title(f"{h.metric}: median, bars = interquartile range of the samples")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise UsageError(f"--plot: cannot write {path}: {exc.strerror}") from None
    finally:
        plt.close(fig)


# -- the subcommand ---------------------------------------------------------------------------

def add_parser(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("history", help="one metric of chosen cases over the runs and commits in the store",
                       description="Show a metric of the stored cases over time: one row per run (oldest first),"
                                   " one column per case.")
    add_common(p)
    p.add_argument("--metric", default="forward_latency_s",
                   help="a results.csv metric column, SCENARIO_NAME (default: %(default)s)")
    p.add_argument("--model", default="", help="comma list of models (ARCH or ARCH@BACKEND; default: all)")
    p.add_argument("--task", default="", help="comma list of tasks (default: all)")
    p.add_argument("--out", default="results", help="results folder holding rnnbench.db (default: %(default)s)")
    p.add_argument("--format", choices=("table", "markdown"), default="table", help="(default: %(default)s)")
    p.add_argument("--plot", metavar="FILE.png", help="also draw the history to a PNG (needs rnnbench[plot])")
    p.set_defaults(handler=cmd_history)


def _names(text: str) -> list[str]:
    return [item.strip().lower() for item in text.split(",") if item.strip()]


def cmd_history(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    if args.plot:  # fail before reading anything when matplotlib is missing
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--plot needs matplotlib: install rnnbench[plot] (pip install 'rnnbench[plot]')") from None
    h = load_history(Path(args.out) / DEFAULT_DB_NAME, args.metric, _names(args.model), _names(args.task))
    header, rows = history_rows(h)
    note = ("cells: median ±IQR/2 of the raw samples" if any(p.low is not None for r in h.runs for p in r.points.values())
            else "cells: the stored value")
    if args.format == "markdown":
        print(f"### {h.metric}\n\n{markdown_table(header, rows)}\n\n{note}")
    else:
        console = Console()
        if not console.is_terminal:
            console = Console(width=220)
        table = Table(title=f"rnnbench history: {h.metric}")
        for col in header:
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        console.print(f"[dim]{note}; runs oldest first; threads as recorded by each run[/dim]")
    if args.plot:
        plot_history(h, Path(args.plot))
        print(f"plot: {args.plot}")
    return 0
