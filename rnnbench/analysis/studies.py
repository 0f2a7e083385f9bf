"""Evaluate a study's claims on its stored sweeps, under the rules every claim shares.

A claim's own ``analyze`` decides its verdict from the numbers; this module enforces
what must hold whatever it says: a sweep that has not run, has fewer cases than it
planned, or has a failed case makes the claim ``inconclusive`` (naming the case), and an
``analyze`` that raises makes it ``inconclusive`` with the error instead of ending the
report. The analysis still runs on what is there, so the figure shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rnnbench.analysis.verdicts import failed_cases
from rnnbench.study_api import INCONCLUSIVE, Claim, ClaimOutcome, StudyData, StudySpec, Verdict
from rnnbench.records import run_threads


@dataclass
class ClaimResult:
    """A claim with its outcome, in report order."""

    claim: Claim
    number: str
    outcome: ClaimOutcome
    #: one line per sweep the claim read: its run, machine, threads and load
    runs: list[str]
    #: per sweep the claim read, the study version its run was made under (None: not recorded or not run)
    versions: dict[str, str | None] = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        return self.outcome.verdict


def sweep_problems(claim: Claim, data: StudyData) -> list[Verdict]:
    """Why the claim's sweeps cannot back a verdict (empty when they can)."""
    problems = []
    for name in claim.sweeps:
        sweep = data.sweeps.get(name)
        if sweep is None or sweep.run is None:
            problems.append(Verdict(INCONCLUSIVE, f"sweep '{name}' has not run"))
            continue
        failed = failed_cases(sweep.results, name)
        if failed is not None:
            problems.append(failed)
        if sweep.expected is not None and len(sweep.results) < sweep.expected:
            problems.append(Verdict(INCONCLUSIVE, f"sweep '{name}': {len(sweep.results)} of {sweep.expected}"
                                    " cases are stored (the run was stopped); run the study again to finish it"))
    return problems


def run_version(name: str, data: StudyData) -> str | None:
    """The study version a sweep's run recorded (``None`` when not run, or run before versions were stored)."""
    sweep = data.sweeps.get(name)
    if sweep is None or sweep.run is None:
        return None
    tag = (sweep.run.settings or {}).get("study") or {}
    return tag.get("version") if isinstance(tag, dict) else None


def run_line(name: str, data: StudyData) -> str:
    sweep = data.sweeps.get(name)
    if sweep is None or sweep.run is None:
        return f"sweep {name}: not run"
    env = sweep.run.env or {}
    settings = sweep.run.settings or {}
    load = env.get("load_average")
    load_text = f", load average {load[0]:.1f} at its start" if load else ""
    workers = (settings.get("request") or {}).get("workers") or 1
    # cases run side by side share the cores: their timings (not read by a claim) disturb each other
    together = f" with {workers} cases at a time" if workers > 1 else ""
    return (f"sweep {name}: run {sweep.run.run_id} on {env.get('cpu') or 'unknown CPU'}"
            f" ({env.get('cpu_count')} logical CPUs{', GPU ' + str(env['gpu']) if env.get('gpu') else ''}),"
            f" {run_threads(env).text()} thread(s),"
            f" executor {settings.get('executor', '?')}{together}"
            f"{load_text}")


def _drop_missing_figure(outcome: ClaimOutcome) -> None:
    """A figure whose file was not written is left out of the report, with a note saying so."""
    figure = outcome.figure
    if figure is not None and not Path(figure.path).is_file():
        outcome.figure = None
        outcome.notes.append(f"no figure: the claim's analysis named {figure.path}, which it did not write")


def evaluate(spec: StudySpec, data: StudyData) -> list[ClaimResult]:
    """Every claim of ``spec`` against ``data``; never raises for a claim's failure."""
    out = []
    for index, claim in enumerate(spec.claims, start=1):
        try:
            outcome = claim.analyze(data)
            if not isinstance(outcome, ClaimOutcome):
                raise TypeError(f"analyze returned {type(outcome).__name__}, expected ClaimOutcome")
            if not isinstance(outcome.verdict, Verdict):  # e.g. the string "supported"
                raise TypeError(f"analyze returned a verdict of type {type(outcome.verdict).__name__}"
                                f" ({outcome.verdict!r:.40}), expected a Verdict")
            _drop_missing_figure(outcome)
        except Exception as exc:  # one claim's bug must not cost the others their report
            outcome = ClaimOutcome(Verdict(INCONCLUSIVE, f"the analysis failed: {type(exc).__name__}: {exc}"))
        problems = sweep_problems(claim, data)
        if problems:
            said = outcome.verdict
            outcome.verdict = Verdict(
                INCONCLUSIVE, "; ".join(p.reason for p in problems),
                (f"the analysis alone would say {said.status}: {said.reason}", *said.evidence))
        out.append(ClaimResult(claim, claim.number or str(index), outcome,
                               [run_line(name, data) for name in claim.sweeps],
                               {name: run_version(name, data) for name in claim.sweeps
                                if name in data.sweeps and data.sweeps[name].run is not None}))
    return out
