"""Registers the ``modern-recurrence`` study (entry point ``modern_recurrence`` in the ``rnnbench`` group)."""

from __future__ import annotations

import rnnbench
from rnnbench.study_api import StudySpec

from rnnbench.studies.modern_recurrence.claims import CLAIMS, PROFILES, SOURCE

CAVEATS = (
    "A CPU result is not a GPU result: the parallel forms these models were designed for pay off on parallel"
    " hardware (claim 1 most of all); run the full profile with --device cuda for that.",
    "Small widths and 300-step budgets: verdicts are about these sizes.",
    "The quotes were transcribed from the papers' abstracts without access to the papers while writing;"
    " check them against the PDFs before citing the report.",
)


@rnnbench.hookimpl
def rnnbench_register_studies(register):
    register(StudySpec(
        name="modern-recurrence",
        description="what the papers of minGRU/minLSTM, Mamba and Zoology/Based claim (parallel training,"
                    " selective recall, recall bounded by state) checked on this machine, a verdict per claim",
        claims=CLAIMS, profiles=PROFILES, source=SOURCE, caveats=CAVEATS,
    ))
