"""A run as a document for other tools: rnnbench's own versioned JSON (raw samples
included; ``rnnbench compare`` reads it back through rnnbench.analysis.sources) and
pytest-benchmark JSON.

The pytest-benchmark form has one benchmark per case and timed scenario, with the
fields pytest-benchmark computes (sample standard deviation, Tukey fences, ops),
taken from the raw samples, so ``pytest-benchmark compare`` and
github-action-benchmark's ``pytest`` tool read it. Its median and quartiles are
rnnbench's (:class:`rnnbench.stats.Summary`: linear interpolation, Hyndman & Fan
type 7), so the export shows the same median and spread as every other rnnbench
output; pytest-benchmark's own quartile method differs for small sample counts. Each
benchmark says so in ``extra_info["quartiles"]``.
"""

from __future__ import annotations

import math
import platform
import statistics
from bisect import bisect_left, bisect_right
from datetime import datetime, timezone
from typing import Any, Sequence

import rnnbench
from rnnbench.analysis.sources import EXPORT_FORMAT, EXPORT_VERSION
from rnnbench.records import CaseResult, RunInfo, TimerSettings, run_threads
from rnnbench.stats import Summary

#: the pytest-benchmark JSON layout these files follow (its ``version`` key)
PYTEST_BENCHMARK_FORMAT_VERSION = "5.1.0"
#: how q1, q3 and iqr of an exported benchmark were computed
QUARTILE_METHOD = ("rnnbench's: linear interpolation between order statistics (Hyndman & Fan type 7, numpy's"
                   " default), as in every rnnbench table; pytest-benchmark's own quartiles differ for few samples")


def replace_non_finite(value: Any, path: str = "") -> tuple[Any, list[str]]:
    """``value`` with every NaN or infinite float replaced by None, and where each was (``results[3].metrics[0].value
    = inf``): strict JSON has no NaN or Infinity, and most parsers other than Python's reject them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None, [f"{path or '.'} = {value}"]
    if isinstance(value, dict):
        out, where = {}, []
        for key, item in value.items():
            out[key], found = replace_non_finite(item, f"{path}.{key}" if path else str(key))
            where += found
        return out, where
    if isinstance(value, (list, tuple)):
        items, where = [], []
        for i, item in enumerate(value):
            new, found = replace_non_finite(item, f"{path}[{i}]")
            items.append(new)
            where += found
        return items, where
    return value, []


def export_document(run: RunInfo, results: list[CaseResult]) -> dict[str, Any]:
    """The versioned JSON form of a run, raw samples included (``rnnbench export --format json``)."""
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_VERSION,
        "rnnbench": rnnbench.__version__,
        "run": {"run_id": run.run_id, "created_at": run.created_at, "command": run.command,
                "env": run.env, "settings": run.settings},
        "results": [r.to_dict() for r in results],
    }


def benchmark_stats(data: Sequence[float], iterations: int = 1) -> dict[str, Any]:
    """pytest-benchmark's ``stats`` block for per-iteration times ``data`` (seconds).

    Median and quartiles from :class:`Summary`; everything else as pytest-benchmark defines it.
    """
    if not data:
        raise ValueError("no samples")
    s = sorted(data)
    summary = Summary.of(data)
    mean = statistics.fmean(data)
    stddev = statistics.stdev(data) if len(data) > 1 else 0.0
    q1, q3 = summary.q1, summary.q3
    iqr = summary.iqr
    low_fence, high_fence = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    iqr_outliers = sum(1 for x in data if x < low_fence or x > high_fence)
    stddev_outliers = sum(1 for x in data if x < mean - stddev or x > mean + stddev)
    total = float(sum(data))
    return {
        "min": s[0], "max": s[-1], "mean": mean, "stddev": stddev, "rounds": len(data),
        "median": summary.median, "iqr": iqr, "q1": q1, "q3": q3,
        "iqr_outliers": iqr_outliers, "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        # Tukey's lowest/highest datum within 1.5 IQR of the quartiles
        "ld15iqr": s[0] if len(s) == 1 else s[bisect_left(s, low_fence)],
        "hd15iqr": s[-1] if len(s) == 1 else s[bisect_right(s, high_fence) - 1],
        "ops": len(data) / total if total else 0.0,
        "total": total, "data": list(data), "iterations": iterations,
    }


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
        "rnnbench_threads": run_threads(env).text(),
    }


def _commit_info(env: dict[str, Any]) -> dict[str, Any]:
    commit = env.get("git_commit") or "unversioned"
    return {"id": commit.removesuffix("+dirty"), "time": None, "author_time": None,
            "dirty": commit.endswith("+dirty"), "project": "rnnbench", "branch": "(unknown)"}


def pytest_benchmark_document(run: RunInfo, results: list[CaseResult]) -> dict[str, Any]:
    """One pytest-benchmark entry per ok case and timed metric (those with raw samples, in seconds)."""
    settings = run.run_settings
    timer = settings.timer if settings is not None else TimerSettings(min_repeats=1, min_run_time=0.0,
                                                                      min_block_time=0.0, warmup_calls=0)
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
                               "threads": result.ran_on.threads, "run_id": run.run_id,
                               "quartiles": QUARTILE_METHOD},
                "options": {"disable_gc": False, "timer": "perf_counter", "min_rounds": timer.min_repeats,
                            "max_time": timer.min_run_time, "min_time": timer.min_block_time,
                            "warmup": bool(timer.warmup_calls)},
                "stats": benchmark_stats(m.samples, m.calls_per_sample),
            })
    when = datetime.fromtimestamp(run.created_at or 0.0, tz=timezone.utc).isoformat()
    return {"machine_info": _machine_info(run.env), "commit_info": _commit_info(run.env), "benchmarks": benchmarks,
            "datetime": when, "version": PYTEST_BENCHMARK_FORMAT_VERSION}
