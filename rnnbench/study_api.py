"""What a study plugin registers: a set of claims, the sweeps that test them, and their verdicts.

A study turns a question people bring to rnnbench ("does the textbook picture of RNNs
hold here?") into ordinary runs and a readable answer. It is a plugin type like models
and tasks: a plugin implements ``rnnbench_register_studies(register)`` and calls
``register(StudySpec(...))``.

* The **sweeps** are ``rnnbench run`` flags, exactly as a sweep file writes them
  (``{"models": "rnn,lstm", "seq_len": "10,30", "match_params": True}``), one list per
  profile (``quick``, ``full``). Each sweep becomes an ordinary run in the results
  database, so ``--resume``, the executors, ``compare`` and ``report`` work on it.
* Each **claim** states its criterion *before* anything runs (``criterion``, shown in
  the report) and has an ``analyze`` callable that turns the stored results of its
  sweeps into a :class:`ClaimOutcome`: a :class:`Verdict` with the numbers behind it,
  one figure, the setup and caveats. The helpers in :mod:`rnnbench.analysis.verdicts`
  decide verdicts from per-seed values so that a study does not over-claim.

rnnbench itself guarantees the rules that hold for every claim: a claim whose sweep
has a failed or missing case, or whose ``analyze`` raises, is ``inconclusive`` with
the reason, whatever the analysis would have said.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from rnnbench.records import machine_line  # re-exported: a study's figure caption names the machine

if TYPE_CHECKING:
    from rnnbench.records import CaseResult, RunInfo

#: what a study plugin imports from here (docs/api.md); the verdict rules live in rnnbench.analysis.verdicts
__all__ = ["INCONCLUSIVE", "MIXED", "NOT_SUPPORTED", "PROFILES", "SUPPORTED", "VERDICTS", "Claim", "ClaimOutcome",
           "StudyData", "StudyFigure", "StudySpec", "StudySweep", "SweepData", "Verdict", "machine_line"]

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive"
#: parts of one claim decided in opposite directions (some supported, some not supported)
MIXED = "mixed"
#: every verdict a claim can get, in the order a summary lists them
VERDICTS = (SUPPORTED, NOT_SUPPORTED, MIXED, INCONCLUSIVE)
PROFILES = ("quick", "full")

_NAME = re.compile(r"^[a-z][a-z0-9_\-]*$")


@dataclass(frozen=True)
class Verdict:
    """The answer to one claim, and the numbers it rests on.

    :param status: one of :data:`VERDICTS`.
    :param reason: one line that says why, with the deciding numbers.
    :param evidence: further lines of numbers (per seed, per model) for the report.
    :param test: the interval a part was decided by (a
        :class:`rnnbench.analysis.verdicts.PartTest`), so that a claim of several parts can
        re-decide it under a correction; ``None`` for a part that is exact or failed.
    :param parts: the decided parts a combined verdict was made of (``mixed`` lists them).
    :param scope: where the verdict holds when that is narrower than the sentence ("on this CPU");
        the summary shows it after the status.
    """

    status: str
    reason: str
    evidence: tuple[str, ...] = ()
    test: Any = field(default=None, compare=False, repr=False)
    parts: tuple["Verdict", ...] = field(default=(), compare=False, repr=False)
    scope: str = ""

    @property
    def label(self) -> str:
        """The status with its scope: ``not supported on this CPU``."""
        return f"{self.status} {self.scope}".strip()

    def __post_init__(self) -> None:
        if self.status not in VERDICTS:
            raise ValueError(f"verdict status must be one of {', '.join(VERDICTS)}, got {self.status!r}")


@dataclass(frozen=True)
class StudySweep:
    """One ``rnnbench run`` of a study: a name and the run's flags as a sweep file writes them.

    :param name: unique within a profile; the study's analysis looks its results up by it.
    :param flags: ``rnnbench run`` options by their sweep-file key (``seq_len``, ``task_opt``,
        ``match_params``); values are strings, numbers, lists (comma lists) or ``True`` for
        a switch; ``task_opt`` and ``model_opt`` take a list of ``NAME.KEY=VALUE``, one flag each. Where and how to execute (``executor``, ``workers``, ``out``) is not a flag
        of a sweep: ``rnnbench study run`` passes its own to every sweep.
    :param purpose: one line for the report and ``rnnbench study list``.
    :param side_by_side: its results do not depend on how fast the machine runs (it trains for a
        fixed number of steps or FLOPs, or probes gradients; it times nothing a claim reads), so
        ``rnnbench study run`` may run its cases side by side, one per core on one thread each,
        unless the command chose the executor, workers or threads. Leave it False for a sweep whose
        timings, or wall-clock budgets, matter: those run alone, with every core.
    """

    name: str
    flags: Mapping[str, Any]
    purpose: str = ""
    side_by_side: bool = False

    def argv(self) -> list[str]:
        """The flags as ``rnnbench run`` command-line arguments."""
        args: list[str] = []
        for key, value in self.flags.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                args.append(flag)
            elif value is False or value is None:
                continue
            elif key in ("task_opt", "model_opt"):
                for item in ([value] if isinstance(value, str) else value):
                    args += [flag, str(item)]
            elif isinstance(value, (list, tuple)):
                args += [flag, ",".join(str(v) for v in value)]
            else:
                args += [flag, str(value)]
        return args

    def fingerprint(self, study: str, profile: str, device: str | None = None) -> str:
        """A stable id of this sweep's work: the study, profile, name, flags and the device if one was asked.

        A stored run with the same fingerprint holds this sweep's cases, so a study
        run that was stopped continues it instead of starting again.
        """
        identity = {"study": study, "profile": profile, "sweep": self.name,
                    "flags": {k: self.flags[k] for k in sorted(self.flags)}}
        if device:  # only when given, so that the fingerprints of runs on the default device stay what they were
            identity["device"] = device
        canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def validate(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"sweep name {self.name!r} is not a valid name")
        for bad in ("executor", "workers", "scheduler", "out", "resume", "sweep"):
            if bad in self.flags:
                raise ValueError(f"sweep '{self.name}': '{bad}' is chosen by 'rnnbench study run', not by the study")


@dataclass
class StudyFigure:
    """A PNG drawn for a claim, with its title and a caption that says how it was measured."""

    path: Path
    title: str
    caption: str


@dataclass
class ClaimOutcome:
    """What a claim's ``analyze`` returns.

    :param verdict: the decision against the pre-stated criterion.
    :param figure: the one figure of the claim (``None`` only when nothing could be drawn;
        ``notes`` then says why).
    :param setup: lines describing the experiment (sizes, steps, seeds), shown before the figure.
    :param table: an optional (header, rows) table of the numbers behind the verdict.
    :param caveats: what the result does not show.
    """

    verdict: Verdict
    figure: StudyFigure | None = None
    setup: list[str] = field(default_factory=list)
    table: tuple[list[str], list[list[str]]] | None = None
    caveats: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class SweepData:
    """The stored results of one sweep of a study run."""

    sweep: StudySweep
    run: "RunInfo | None"
    results: list["CaseResult"]
    #: how many cases the sweep plans (None when unknown); fewer stored means it was stopped
    expected: int | None = None

    def ok(self) -> list["CaseResult"]:
        return [r for r in self.results if r.status == "ok"]


@dataclass
class StudyData:
    """Everything a claim's ``analyze`` receives: the sweeps' results and where to draw."""

    study: str
    profile: str
    sweeps: dict[str, SweepData]
    #: the folder the claim's figure goes into (the study report's folder)
    folder: Path
    #: the environment of the first sweep's run (machine, threads, load), for captions
    env: dict[str, Any] = field(default_factory=dict)

    def sweep(self, name: str) -> SweepData:
        if name not in self.sweeps:
            raise KeyError(f"sweep '{name}' is not part of profile '{self.profile}'")
        return self.sweeps[name]


@dataclass(frozen=True)
class Claim:
    """One claim a study checks.

    :param key: a short id (``vanishing-gradients``), used for figure names.
    :param title: the claim in a few words, for the summary table.
    :param quote: the sentence(s) of the source text it checks, verbatim.
    :param criterion: when the verdict is ``supported``, ``not supported`` and ``inconclusive``,
        stated before anything runs; the report prints it above the result.
    :param sweeps: names of the sweeps it reads; a failed case in any of them makes it inconclusive.
    :param analyze: ``analyze(data: StudyData) -> ClaimOutcome``.
    :param experiment: what is run, in a sentence.
    """

    key: str
    title: str
    quote: str
    criterion: str
    sweeps: tuple[str, ...]
    analyze: Callable[[StudyData], ClaimOutcome]
    experiment: str = ""
    #: how the report numbers it ("6a"); the position in the study when empty
    number: str = ""


@dataclass(frozen=True)
class StudySpec:
    """A study: claims, the sweeps per profile that test them, and where the claims come from.

    :param name: what users type after ``rnnbench study run``.
    :param description: one line for ``rnnbench study list``.
    :param claims: the claims, in report order.
    :param profiles: sweeps per profile; ``quick`` is required (a CPU in minutes), ``full``
        is meant for a GPU or a cluster (more seeds, larger sizes).
    :param source: where the quoted sentences come from, for the report.
    :param caveats: caveats that hold for every claim (a CPU result is not a GPU result).
    """

    name: str
    description: str
    claims: tuple[Claim, ...]
    profiles: Mapping[str, tuple[StudySweep, ...]]
    source: str = ""
    caveats: tuple[str, ...] = ()

    def sweeps(self, profile: str) -> tuple[StudySweep, ...]:
        if profile not in self.profiles:
            raise KeyError(profile)
        return self.profiles[profile]

    def version(self, profile: str) -> str:
        """A hash of what decides the verdicts, fixed before the data: every claim's quote, criterion
        (its thresholds are written into it) and sweeps, and the profile's sweeps with their flags.

        Changing any of them changes the version; each sweep's run stores the version it ran
        under, and a report built from runs of another version says so.
        """
        identity = {
            "study": self.name, "profile": profile,
            "claims": [{"key": c.key, "number": c.number, "quote": c.quote, "criterion": c.criterion,
                        "sweeps": list(c.sweeps)} for c in self.claims],
            "sweeps": [{"name": s.name, "flags": {k: s.flags[k] for k in sorted(s.flags)}}
                       for s in self.sweeps(profile)],
        }
        canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def validate(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"study {self.name!r} is not a valid name (lowercase letters, digits, '_' or '-')")
        if not self.claims:
            raise ValueError("a study needs at least one claim")
        if "quick" not in self.profiles:
            raise ValueError("a study needs a 'quick' profile")
        keys = [c.key for c in self.claims]
        if len(set(keys)) != len(keys):
            raise ValueError(f"claim keys must be unique, got {keys}")
        for profile, sweeps in self.profiles.items():
            if not isinstance(profile, str) or not _NAME.match(profile):
                raise ValueError(f"profile {profile!r} is not a valid name")
            names = [s.name for s in sweeps]
            if len(set(names)) != len(names):
                raise ValueError(f"profile '{profile}': sweep names must be unique, got {names}")
            for sweep in sweeps:
                if not isinstance(sweep, StudySweep):
                    raise ValueError(f"profile '{profile}': expected StudySweep, got {type(sweep).__name__}")
                sweep.validate()
            for claim in self.claims:
                missing = [s for s in claim.sweeps if s not in names]
                if missing:
                    raise ValueError(f"claim '{claim.key}' reads sweep(s) {missing} that profile '{profile}' lacks")
        for claim in self.claims:
            if not callable(claim.analyze):
                raise ValueError(f"claim '{claim.key}': analyze must be callable")
            if not claim.criterion.strip() or not claim.quote.strip():
                raise ValueError(f"claim '{claim.key}' needs its quote and its criterion, stated up front")
