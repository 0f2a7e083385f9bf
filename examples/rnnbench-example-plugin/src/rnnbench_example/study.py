"""A third-party study: can a minGRU track the parity of a bit string?

minGRU's state update ``h_t = (1 - z_t) h_{t-1} + z_t h~_t`` multiplies the state by
``1 - z_t``, which lies in (0, 1) and depends on the input only. Tracking parity needs
the state to flip with every 1; a recurrence whose state transitions are positive and
input-only cannot flip, however wide (Grazzi et al. 2024, "Unlocking State-Tracking in
Linear RNNs Through Negative Eigenvalues"), while an LSTM's gates read its own state.
So on ``parity`` the example's minGRU should stay near chance where the LSTM learns the
task. The claim, its criterion and its figure are what ``rnnbench study run
state-tracking`` reports.

A study is registered like a model or a task: a hook in a module named by the
package's ``rnnbench`` entry point (see this package's pyproject.toml).
"""

from __future__ import annotations

import rnnbench
from rnnbench.analysis.verdicts import RULE, compare
from rnnbench.study_api import Claim, ClaimOutcome, StudyData, StudyFigure, StudySpec, StudySweep

BITS = 16  # --seq-len of parity: the task's default

CRITERION = ("Supported when, on the running parity of 16 bits, minGRU's mean held-out accuracy is lower than the"
             " LSTM's (part: mingru − lstm < 0). " + RULE)


def by_seed(results, arch: str) -> dict[int, float | None]:
    out: dict[int, float | None] = {}
    for r in results:
        if r.config.arch == arch:
            m = r.metric("train", "eval_accuracy") if r.status == "ok" else None
            out[r.config.seed] = m.value if m is not None else None
    return out


def analyze(data: StudyData) -> ClaimOutcome:
    results = data.sweep("parity").results
    mingru, lstm = by_seed(results, "mingru"), by_seed(results, "lstm")
    verdict = compare("minGRU accuracy", mingru, "LSTM accuracy", lstm, above=False, what=f"parity of {BITS} bits")
    return ClaimOutcome(
        verdict=verdict, figure=_figure(data, mingru, lstm),
        setup=[f"running parity of {BITS} bits; models mingru@example and lstm@torch at equal parameters"],
        caveats=["Training budget is the task's default; a result near chance is about this budget as well as"
                 " about the architecture (the theory says no budget helps minGRU)."])


def _figure(data: StudyData, mingru, lstm) -> StudyFigure | None:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    figure = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    for i, values in enumerate((mingru, lstm)):
        ys = [v for v in values.values() if v is not None]
        ax.scatter([i] * len(ys), ys, s=40)
    ax.axhline(0.5, linestyle=":", color="grey", label="chance")
    ax.set_xticks([0, 1])
    ax.set_xticklabels(["mingru@example", "lstm@torch"])
    ax.set_ylabel("held-out accuracy, one dot per seed")
    ax.legend()
    figure.tight_layout()
    path = data.folder / "state_tracking.png"
    figure.savefig(path)
    return StudyFigure(path, "Parity accuracy", f"Held-out accuracy on the running parity of {BITS} bits.")


def _sweeps(seeds: str, steps: int) -> tuple[StudySweep, ...]:
    return (StudySweep("parity", {"models": "lstm,mingru", "tasks": "parity", "seq_len": BITS,
                                  "steps": steps, "seeds": seeds, "scenarios": "train", "match_params": True},
                       purpose="minGRU and LSTM on the running parity of 16 bits"),)


@rnnbench.hookimpl
def rnnbench_register_studies(register):
    register(StudySpec(
        name="state-tracking",
        description="minGRU's positive, input-only state transition cannot track parity; an LSTM's can (example)",
        claims=(Claim(key="state-tracking", title="minGRU cannot track parity",
                      quote="a recurrence whose state transitions are positive and input-only cannot flip",
                      criterion=CRITERION, sweeps=("parity",), analyze=analyze,
                      experiment=f"mingru and lstm trained on the running parity of {BITS} bits."),),
        profiles={"quick": _sweeps("0,1,2", 300), "full": _sweeps("0,1,2,3,4", 1000)},
        source="this example's docstring",
    ))
