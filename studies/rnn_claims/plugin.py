"""Registers the ``rnn-claims`` study (entry point ``rnn_claims`` in the ``rnnbench`` group)."""

from __future__ import annotations

import rnnbench
from rnnbench.study_api import StudySpec

from rnnbench.studies.rnn_claims.claims import CLAIMS, SOURCE
from rnnbench.studies.rnn_claims.sweeps import PROFILES

CAVEATS = (
    "A CPU result is not a GPU result: parallel hardware changes what is slow (claims 4 and 6a most of all).",
    "Small models and short budgets: verdicts are about these sizes; the full profile uses larger ones.",
)


@rnnbench.hookimpl
def rnnbench_register_studies(register):
    register(StudySpec(
        name="rnn-claims",
        description="what an overview of RNNs claims (vanishing gradients, long-term memory, slow sequential"
                    " training, Transformers better at LM, ...) checked on this machine, a verdict per claim",
        claims=CLAIMS, profiles=PROFILES, source=SOURCE, caveats=CAVEATS,
    ))
