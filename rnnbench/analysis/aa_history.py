"""A/A history: how far a case's timing moves between runs of unchanged code on this machine.

With one run a side, ``rnnbench compare`` cannot see from the two runs alone how much a
whole run moves with the machine's state (frequency, neighbours, caches): the samples of
a run all share that state, and on a 2-core machine one run's decode was 1.9x another's
of the same commit. So a change is "slower" on one run a side only beyond a band
measured on this machine: from the other runs in the store of the same case, on the same
host, CPU and thread setting, grouped by commit (runs of one commit are A/A runs of each
other). :func:`rnnbench.stats.aa_prediction_band` turns their medians into a prediction
band at :data:`HISTORY_LEVEL`; the compared runs themselves are left out, so that the
band is a prediction for them, not a description of them.

Without such history the comparison is "noisy" and says what would decide it (rounds,
or A/A runs recorded: docs/ci.md, "One run a side").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from rnnbench.analysis.sources import LoadedRun
from rnnbench.records import run_threads
from rnnbench.stats import AABand, Summary, aa_prediction_band
from rnnbench.store import DEFAULT_DB_NAME, ResultsStore

#: the level of the band: an A/A pair lands outside it, on the slower side, 1 time in 200
HISTORY_LEVEL = 0.99
#: the environment keys an earlier run must share with BASE and NEW to count as the same machine; and the
#: threads its cases ran with (rnnbench.records.run_threads: not the cap, which automatic threads never used)
MACHINE_KEYS = ("host", "cpu", "cpu_count")

RepeatKey = tuple[str, str, str]  # case id, scenario, metric name


@dataclass(frozen=True)
class AAHistory:
    """The band for one (case, metric), or why there is none."""

    band: AABand | None
    why_none: str = ""

    def describe(self) -> str:
        b = self.band
        if b is None:
            return self.why_none
        return (f"{b.level:.0%} A/A band ±{b.band:.0%} from {b.runs} earlier runs of {b.groups} commit(s) on this"
                f" machine (SD of log run medians {b.sd_log:.3f}, {b.df} df)")


def _machine(env: dict) -> tuple:
    return (*(env.get(k) for k in MACHINE_KEYS), run_threads(env).key())


def _clean_commit(env: dict) -> str | None:
    commit = env.get("git_commit")
    # a dirty tree is code no commit names: its runs are A/A runs of nothing
    return None if not commit or commit.endswith("+dirty") else commit


def load_aa_history(out_dir: Path, base: list[LoadedRun], new: list[LoadedRun],
                    keys: Iterable[RepeatKey]) -> dict[RepeatKey, AAHistory]:
    """The A/A band of every timed (case, scenario, metric) in ``keys``, from the store in ``out_dir``."""
    keys = list(keys)
    machines = {_machine(r.run.env) for r in base + new}
    if len(machines) > 1:
        hosts = " vs ".join(sorted({str(r.run.env.get("host")) for r in base + new}))
        why = (f"BASE and NEW ran on different machines or thread settings ({hosts}): no A/A history covers the"
               " pair")
        return {k: AAHistory(None, why) for k in keys}
    db = Path(out_dir) / DEFAULT_DB_NAME
    if not db.exists():
        return {k: AAHistory(None, f"no results database at {db} to read A/A history from") for k in keys}
    machine = machines.pop()
    compared = {r.run.run_id for r in base + new}
    # per (case, scenario, name): commit -> the median of each earlier run of it
    medians: dict[RepeatKey, dict[str, list[float]]] = {k: {} for k in keys}
    with ResultsStore.reader(db) as store:
        for scenario, name in sorted({(s, n) for _, s, n in keys}):
            for run, case_id, _config, metric in store.metric_across_runs(scenario, name):
                key = (case_id, scenario, name)
                commit = _clean_commit(run.env)
                if key not in medians or run.run_id in compared or commit is None:
                    continue
                if _machine(run.env) != machine:
                    continue
                value = Summary.of(metric.samples).median if metric.samples else metric.value
                medians[key].setdefault(commit, []).append(value)
    out = {}
    for key, by_commit in medians.items():
        band = aa_prediction_band(list(by_commit.values()), HISTORY_LEVEL)
        if band is None:
            runs = sum(len(v) for v in by_commit.values())
            out[key] = AAHistory(None, f"too little A/A history on this machine ({runs} other run(s) of this case;"
                                       " a band needs 3 runs of one commit, or 2 of each of two)")
        else:
            out[key] = AAHistory(band)
    return out
