"""Where a study's sweeps live in the results database, and loading them for its analysis.

Each sweep of a study run is an ordinary run whose settings carry a ``study`` tag: the
study, the profile, the sweep's name, the fingerprint of its flags and how many cases it
plans. The latest run with a sweep's fingerprint holds that sweep's results; a study run
that was stopped continues it, and ``rnnbench study report`` reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnbench.errors import UsageError
from rnnbench.records import RunInfo
from rnnbench.store import ResultsStore
from rnnbench.study_api import StudyData, StudySpec, StudySweep, SweepData

#: the key of a run's settings that ties it to a study
STUDY_KEY = "study"


def study_tag(spec: StudySpec, profile: str, sweep: StudySweep, planned_cases: int,
              device: str | None = None) -> dict[str, Any]:
    """What a sweep's run stores in its settings under :data:`STUDY_KEY`."""
    return {"name": spec.name, "profile": profile, "sweep": sweep.name, "device": device,
            "fingerprint": sweep.fingerprint(spec.name, profile, device), "cases": planned_cases,
            "version": spec.version(profile)}


def sweep_runs(store: ResultsStore, study: str) -> dict[str, RunInfo]:
    """The latest run of each sweep fingerprint of ``study`` (runs are listed oldest first)."""
    latest: dict[str, RunInfo] = {}
    for run_id in store.run_ids():
        info = store.run_info(run_id)
        tag = (info.settings or {}).get(STUDY_KEY)
        if isinstance(tag, dict) and tag.get("name") == study and tag.get("fingerprint"):
            latest[str(tag["fingerprint"])] = info
    return latest


def study_of_run(store: ResultsStore, run_id: str) -> tuple[str, str, str | None]:
    """(study, profile, device asked for) of a run made by ``rnnbench study run``; a usage error otherwise."""
    tag = (store.run_info(run_id).settings or {}).get(STUDY_KEY)
    if not isinstance(tag, dict) or "name" not in tag:
        raise UsageError(f"run {run_id} is not part of a study (it was not started by 'rnnbench study run')")
    return str(tag["name"]), str(tag.get("profile", "quick")), tag.get("device")


def load_study_data(store: ResultsStore, spec: StudySpec, profile: str, folder: Path,
                    device: str | None = None) -> StudyData:
    """Every sweep's latest stored run and results; a sweep never run has no run and no results."""
    runs = sweep_runs(store, spec.name)
    sweeps: dict[str, SweepData] = {}
    env: dict[str, Any] = {}
    for sweep in spec.sweeps(profile):
        run = runs.get(sweep.fingerprint(spec.name, profile, device))
        if run is None:
            sweeps[sweep.name] = SweepData(sweep, None, [])
            continue
        planned = (run.settings.get(STUDY_KEY) or {}).get("cases")
        sweeps[sweep.name] = SweepData(sweep, run, store.results(run.run_id),
                                       expected=int(planned) if planned is not None else None)
        env = env or dict(run.env or {})
    return StudyData(spec.name, profile, sweeps, folder=folder, env=env)


def report_folder(out_dir: Path, study: str, profile: str, device: str | None = None) -> Path:
    return Path(out_dir) / f"study-{study}-{profile}{'-' + device if device else ''}"
