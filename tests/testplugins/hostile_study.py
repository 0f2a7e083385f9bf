"""Studies built to misbehave, for tests/test_study_hostile.py (issue 27, item 3).

* ``typo-study``: a sweep flag key that no option has (``seq_lens``),
* ``second-bad``: its second sweep names a model that does not exist,
* ``plugin-sweep``: its sweep loads its model's plugin through its own ``plugins`` flag,
* ``odd-claims``: one claim names a figure it never wrote, another returns a string as its verdict.
"""

import rnnbench
from rnnbench.study_api import Claim, ClaimOutcome, StudyFigure, StudySpec, StudySweep, Verdict

TINY = {"models": "tiny@test", "tasks": "copy", "seq_len": 4, "hidden": 8, "steps": 3, "batch_size": 8,
        "seeds": "0", "scenarios": "train", "min_time": 0.01}


def _claim(key, analyze, sweep="one"):
    return Claim(key=key, title=f"claim {key}", quote="“a quote”", criterion="a criterion", sweeps=(sweep,),
                 analyze=analyze)


def _fine(data):
    return ClaimOutcome(Verdict("inconclusive", "nothing is decided here"))


def _missing_figure(data):
    return ClaimOutcome(Verdict("inconclusive", "drawn nowhere"),
                        figure=StudyFigure(data.folder / "never-written.png", "a figure", "a caption"))


def _string_verdict(data):
    return ClaimOutcome("supported")


def _study(name, sweeps, claims=None):
    return StudySpec(name=name, description=f"test study {name}", claims=claims or (_claim("a", _fine),),
                     profiles={"quick": sweeps})


@rnnbench.hookimpl
def rnnbench_register_studies(register):
    register(_study("typo-study", (StudySweep("one", {**TINY, "seq_lens": 8}, purpose="a typo"),)))
    register(_study("second-bad", (StudySweep("one", {**TINY, "plugins": ["testplugins.tiny"]}, purpose="fine"),
                                   StudySweep("two", {**TINY, "models": "nosuch"}, purpose="a bad model"))))
    register(_study("plugin-sweep", (StudySweep("one", {**TINY, "plugins": ["testplugins.tiny"]},
                                                purpose="its own plugin"),)))
    register(_study("odd-claims", (StudySweep("one", {**TINY, "plugins": ["testplugins.tiny"]}, purpose="fine"),),
                    claims=(_claim("figure", _missing_figure), _claim("string", _string_verdict))))
