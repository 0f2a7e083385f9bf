"""Under what conditions a run's cases were measured: the machine's load, and settings that varied.

Both change what a time means without changing the case: a case measured while other
processes held the CPUs includes waiting for them, and a run resumed with other settings
(``--allow-changed-settings``) mixes rows measured differently. The terminal summary and
the report say so beside the numbers.
"""

from __future__ import annotations

import json
from collections import Counter

from rnnbench.execution.load import LoadDuring
from rnnbench.execution.timing_check import TimingCheck
from rnnbench.records import CaseResult, RunInfo, flat_settings, upgrade_thread_cap


def _label(result: CaseResult) -> str:
    c = result.config
    return f"{c.model} {c.task} T={c.seq_len} seed {c.seed}"


def busy_cases(results: list[CaseResult]) -> list[tuple[CaseResult, LoadDuring]]:
    """Cases during which other processes left fewer free CPUs than the case's threads needed."""
    flagged = []
    for result in results:
        load = LoadDuring.from_facts(result.ran_on.load or {})
        threads = result.ran_on.threads
        if load is not None and isinstance(threads, int) and load.distorted(threads):
            flagged.append((result, load))
    return flagged


def distorted_timings(result: CaseResult) -> list[str]:
    """Why the case's timed regions measured more than the case (rnnbench.execution.timing_check); [] when clean."""
    checks = result.ran_on.timing_check or {}
    found = [TimingCheck.from_facts(facts) for facts in checks.values() if isinstance(facts, dict)]
    return [check.reason for check in found if check is not None and check.reason is not None]


def case_distortion(result: CaseResult) -> str | None:
    """Why the case's times decide no ranking, in a few words with the figures; ``None`` for a clean case.

    The load meter's busy flag (other processes left fewer free CPUs than the case's threads)
    and the timing check's flag (something in the case's own process ran during a timed region).
    """
    load = LoadDuring.from_facts(result.ran_on.load or {})
    threads = result.ran_on.threads
    if load is not None and isinstance(threads, int) and load.distorted(threads) and load.others_cpus is not None:
        return f"the machine was busy during {_label(result)}: other processes kept {load.others_cpus:.1f} of" \
               f" {load.cores} CPUs busy with {threads} thread(s) of its own"
    distorted = distorted_timings(result)
    if distorted:
        return f"the timing of {_label(result)} was distorted: {distorted[0]}"
    return None


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
    checked = [(r, distorted_timings(r)) for r in results]
    checked = [(r, reasons) for r, reasons in checked if reasons]
    if checked:
        notes.append(
            f"Warning: the timing of {len(checked)} of {len(results)} case(s) was distorted by something in the"
            f" process that ran it ({'; '.join(f'{_label(r)}: {reasons[0]}' for r, reasons in checked[:3])}"
            f"{f' and {len(checked) - 3} more' if len(checked) > 3 else ''}). Their times decide no ranking"
            " (docs/robustness.md).")
    return notes


def varied_settings(results: list[CaseResult]) -> dict[str, Counter]:
    """Measurement settings that differ between the rows of one run: ``{setting: Counter(value)}``."""
    per_row = [flat_settings(upgrade_thread_cap(r.ran_on.settings or {})) for r in results]  # rows of a schema-2 store read as stored
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
    ran = Counter(threads for r in results if isinstance(threads := r.ran_on.threads, int))
    if len(ran) > 1:  # automatic threads chose per case, or a resume ran on another count
        mix = ", ".join(f"{threads} ({n} case(s))" for threads, n in sorted(ran.items()))
        notes.append(f"The cases ran on different thread counts: {mix}. Times on other counts are not one"
                     " comparison, and a seed reproduces its training at a fixed thread count only.")
    for key, counts in varied_settings(results).items():
        mix = ", ".join(f"{json.loads(value)} ({n} case(s))" for value, n in counts.most_common())
        notes.append(f"Warning: {key} varied across this run's rows: {mix}. The run was resumed with other"
                     " settings (--allow-changed-settings); each row's threads and settings are in results.csv"
                     " and the database, and times of rows measured differently are not one comparison.")
    return notes


def condition_notes(results: list[CaseResult], run: RunInfo) -> list[str]:
    """Every note about the conditions of measurement, for the terminal and the report."""
    return load_notes(results, run) + settings_notes(results)
