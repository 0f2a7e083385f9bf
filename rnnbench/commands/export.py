"""``rnnbench export RUN``: a run as rnnbench JSON (raw samples included) or as pytest-benchmark JSON.

The pytest-benchmark form has one benchmark per case and timed scenario, with
the statistics pytest-benchmark computes (same definitions: sample standard
deviation, its quartile method, Tukey fences) taken from the raw samples, so
``pytest-benchmark compare`` and github-action-benchmark's ``pytest`` tool read it.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import sys
from bisect import bisect_left, bisect_right
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.records import CaseResult, RunInfo
from rnnbench.analysis.sources import export_document, load_run_source

#: the pytest-benchmark JSON layout these files follow (its ``version`` key)
PYTEST_BENCHMARK_FORMAT_VERSION = "5.1.0"


def _quartiles(data: Sequence[float]) -> tuple[float, float]:
    """Q1 and Q3 as pytest-benchmark computes them (Wikipedia's methods 2 and 3)."""
    s = sorted(data)
    n = len(s)
    if n == 1:
        return s[0], s[0]
    if n % 2:  # method 3: interpolate around the quarter points
        k, r = n // 4, n % 4
        if r == 1:
            return 0.25 * s[k - 1] + 0.75 * s[k], 0.75 * s[3 * k] + 0.25 * s[3 * k + 1]
        return 0.75 * s[k] + 0.25 * s[k + 1], 0.25 * s[3 * k + 1] + 0.75 * s[3 * k + 2]
    return statistics.median(s[: n // 2]), statistics.median(s[n // 2:])  # method 2: medians of halves


def benchmark_stats(data: Sequence[float], iterations: int = 1) -> dict[str, Any]:
    """pytest-benchmark's ``stats`` block for per-iteration times ``data`` (seconds)."""
    if not data:
        raise ValueError("no samples")
    s = sorted(data)
    mean = statistics.fmean(data)
    stddev = statistics.stdev(data) if len(data) > 1 else 0.0
    q1, q3 = _quartiles(data)
    iqr = q3 - q1
    low_fence, high_fence = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    iqr_outliers = sum(1 for x in data if x < low_fence or x > high_fence)
    stddev_outliers = sum(1 for x in data if x < mean - stddev or x > mean + stddev)
    total = float(sum(data))
    return {
        "min": s[0], "max": s[-1], "mean": mean, "stddev": stddev, "rounds": len(data),
        "median": statistics.median(data), "iqr": iqr, "q1": q1, "q3": q3,
        "iqr_outliers": iqr_outliers, "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        # Tukey's lowest/highest datum within 1.5 IQR of the quartiles
        "ld15iqr": s[0] if len(s) == 1 else s[bisect_left(s, low_fence)],
        "hd15iqr": s[-1] if len(s) == 1 else s[bisect_right(s, high_fence) - 1],
        "ops": len(data) / total if total else 0.0,
        "total": total, "data": list(data), "iterations": iterations,
    }


_CALLS = re.compile(r"\((\d+) call\(s\) each\)")


def _iterations(method: str) -> int:
    """Calls per sample, as the timer wrote it in the metric's method ("... (N call(s) each) ...")."""
    match = _CALLS.search(method or "")
    return int(match.group(1)) if match else 1


def _param(result: CaseResult) -> str:
    c = result.config
    return (f"{c.model}-{c.task}-T{c.seq_len}-B{c.batch_size}-H{c.hidden}-L{c.layers}-{c.device}-{c.dtype}"
            f"-seed{c.seed}-{result.case_id}")


def _machine_info(env: dict[str, Any]) -> dict[str, Any]:
    return {
        "node": env.get("host"), "processor": env.get("cpu"), "machine": platform.machine(),
        "python_compiler": "", "python_implementation": "CPython",
        "python_implementation_version": env.get("python"), "python_version": env.get("python"),
        "python_build": [], "release": "", "system": (env.get("platform") or "").split("-")[0],
        "cpu": {"brand_raw": env.get("cpu"), "count": env.get("cpu_count"), "vendor_id": "", "hardware": "",
                "brand": env.get("cpu")},
        "rnnbench_threads": env.get("threads"),
    }


def _commit_info(env: dict[str, Any]) -> dict[str, Any]:
    commit = env.get("git_commit") or "unversioned"
    return {"id": commit.removesuffix("+dirty"), "time": None, "author_time": None,
            "dirty": commit.endswith("+dirty"), "project": "rnnbench", "branch": "(unknown)"}


def pytest_benchmark_document(run: RunInfo, results: list[CaseResult]) -> dict[str, Any]:
    """One pytest-benchmark entry per ok case and timed metric (those with raw samples, in seconds)."""
    timer = (run.settings or {}).get("timer") or {}
    benchmarks = []
    for result in results:
        if result.status != "ok":
            continue
        param = _param(result)
        for m in result.metrics:
            if m.unit != "s" or not m.samples:
                continue
            name = f"{m.scenario}_{m.name}[{param}]"
            benchmarks.append({
                "group": f"{m.scenario} {m.name}",
                "name": name,
                "fullname": f"rnnbench::{name}",
                "params": {"case": param},
                "param": param,
                "extra_info": {"case_id": result.case_id, "config": result.config.to_dict(), "method": m.method,
                               "threads": result.worker.get("threads"), "run_id": run.run_id},
                "options": {"disable_gc": False, "timer": "perf_counter", "min_rounds": timer.get("min_repeats", 1),
                            "max_time": timer.get("min_run_time", 0.0), "min_time": timer.get("min_block_time", 0.0),
                            "warmup": bool(timer.get("warmup_calls", 0))},
                "stats": benchmark_stats(m.samples, _iterations(m.method)),
            })
    when = datetime.fromtimestamp(run.created_at or 0.0, tz=timezone.utc).isoformat()
    return {"machine_info": _machine_info(run.env), "commit_info": _commit_info(run.env), "benchmarks": benchmarks,
            "datetime": when, "version": PYTEST_BENCHMARK_FORMAT_VERSION}


# -- the subcommand ---------------------------------------------------------------------------

def add_parser(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "export", help="write a run as rnnbench JSON or pytest-benchmark JSON",
        description="Export a run: --format json is rnnbench's own versioned JSON (every case, metric and raw"
                    " sample; 'rnnbench compare' reads it); --format pytest-benchmark is the JSON that"
                    " 'pytest-benchmark compare' and github-action-benchmark (tool: pytest) read.")
    add_common(p)
    p.add_argument("run", metavar="RUN", help="run id, run folder, 'latest' or 'commit:SHA'")
    p.add_argument("--format", choices=("json", "pytest-benchmark"), default="json", help="(default: %(default)s)")
    p.add_argument("-o", "--output", metavar="FILE", help="file to write (default: standard output)")
    p.add_argument("--out", default="results", help="results folder holding rnnbench.db (default: %(default)s)")
    p.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    loaded = load_run_source(args.run, Path(args.out), "RUN")
    if args.format == "json":
        doc = export_document(loaded.run, loaded.results)
    else:
        doc = pytest_benchmark_document(loaded.run, loaded.results)
        if not doc["benchmarks"]:
            raise UsageError(f"{loaded.describe()} has no timed metric with raw samples to export")
    text = json.dumps(doc, indent=2, default=str) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RnnbenchError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"wrote {args.output} ({len(doc.get('benchmarks', doc.get('results', [])))} entries)", file=sys.stderr)
    return 0

