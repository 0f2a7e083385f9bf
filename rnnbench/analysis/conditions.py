"""Under what conditions a run's cases were measured: the machine's load, and settings that varied.

Both change what a time means without changing the case: a case measured while other
processes held the CPUs includes waiting for them, and a run resumed with other settings
(``--allow-changed-settings``) mixes rows measured differently. The terminal summary and
the report say so beside the numbers.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from rnnbench.execution.load import LoadDuring
from rnnbench.records import CaseResult, RunInfo


def _label(result: CaseResult) -> str:
    c = result.config
    return f"{c.model} {c.task} T={c.seq_len} seed {c.seed}"


def busy_cases(results: list[CaseResult]) -> list[tuple[CaseResult, LoadDuring]]:
    """Cases during which other processes left fewer free CPUs than the case's threads needed."""
    flagged = []
    for result in results:
        load = LoadDuring.from_facts(result.worker.get("load") or {})
        threads = result.worker.get("threads")
        if load is not None and isinstance(threads, int) and load.distorted(threads):
            flagged.append((result, load))
    return flagged


def load_notes(results: list[CaseResult], run: RunInfo) -> list[str]:
    """Warnings about the machine's load: at the run's start, and during each case."""
    notes = []
    threading = run.env.get("threading") or {}
    if threading.get("busy"):
        notes.append(f"The machine was busy when the run started: {threading.get('reason')}.")
    flagged = busy_cases(results)
    if flagged:
        others = [load.others_cpus for _, load in flagged if load.others_cpus is not None]
        cores = flagged[0][1].cores
        shown = ", ".join(_label(r) for r, _ in flagged[:6]) + (f" and {len(flagged) - 6} more" if len(flagged) > 6
                                                               else "")
        spread = f"{min(others):.1f}" if f"{min(others):.1f}" == f"{max(others):.1f}" else \
            f"{min(others):.1f}-{max(others):.1f}"
        notes.append(
            f"Warning: the machine was busy during {len(flagged)} of {len(results)} case(s): other processes kept"
            f" {spread} of {cores} CPUs busy while they ran (CPU time of other processes"
            " from /proc/stat over each case's wall time), more than the case's threads left room for, so their"
            f" times include waiting for a CPU ({shown}). For timings to compare, use a quiet machine or"
            " --threads 1, and pool repeated runs in rnnbench compare (docs/robustness.md).")
    return notes


def varied_settings(results: list[CaseResult]) -> dict[str, Counter]:
    """Measurement settings that differ between the rows of one run: ``{setting: Counter(value)}``."""
    per_row = [_flat(r.worker.get("settings") or {}) for r in results]
    per_row = [row for row in per_row if row]
    keys = sorted({k for row in per_row for k in row})
    varied = {}
    for key in keys:
        counts = Counter(json.dumps(row.get(key), sort_keys=True) for row in per_row)
        if len(counts) > 1:
            varied[key] = counts
    return varied


def settings_notes(results: list[CaseResult]) -> list[str]:
    notes = []
    for key, counts in varied_settings(results).items():
        mix = ", ".join(f"{json.loads(value)} ({n} case(s))" for value, n in counts.most_common())
        notes.append(f"Warning: {key} varied across this run's rows: {mix}. The run was resumed with other"
                     " settings (--allow-changed-settings); each row's threads and settings are in results.csv"
                     " and the database, and times of rows measured differently are not one comparison.")
    return notes


def _flat(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def condition_notes(results: list[CaseResult], run: RunInfo) -> list[str]:
    """Every note about the conditions of measurement, for the terminal and the report."""
    return load_notes(results, run) + settings_notes(results)
