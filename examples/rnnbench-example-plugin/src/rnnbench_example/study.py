"""A third-party study: does a convolution's receptive field limit what it can remember?

The example's ``conv`` model sees the last ``2 ** (3 * layers)`` positions (8 with one
layer). Reversing S symbols needs the first symbol 2·S positions later, so at S = 8 the
convolution cannot see what it must output, while an LSTM carries it in its state. The
claim, its criterion and its figure are what ``rnnbench study run receptive-field`` reports.

A study is registered like a model or a task: a hook in a module named by the
package's ``rnnbench`` entry point (see this package's pyproject.toml).
"""

from __future__ import annotations

import rnnbench
from rnnbench.analysis.verdicts import compare
from rnnbench.study_api import Claim, ClaimOutcome, StudyData, StudyFigure, StudySpec, StudySweep

SYMBOLS = 8  # 2·S = 16 positions back: twice the one-layer convolution's receptive field

CRITERION = (f"Supported when, reversing {SYMBOLS} symbols, the convolution's held-out accuracy is lower than the"
             " LSTM's in every seed, the spreads across seeds not overlapping; not supported when it is higher in"
             " every seed; inconclusive otherwise, with fewer than 2 seeds, or when a case failed.")


def by_seed(results, arch: str) -> dict[int, float | None]:
    out: dict[int, float | None] = {}
    for r in results:
        if r.config.arch == arch:
            m = r.metric("train", "eval_accuracy") if r.status == "ok" else None
            out[r.config.seed] = m.value if m is not None else None
    return out


def analyze(data: StudyData) -> ClaimOutcome:
    results = data.sweep("reverse").results
    conv, lstm = by_seed(results, "conv"), by_seed(results, "lstm")
    verdict = compare("conv accuracy", conv, "lstm accuracy", lstm, above=False, what=f"reverse {SYMBOLS}")
    return ClaimOutcome(verdict=verdict, figure=_figure(data, conv, lstm),
                        setup=[f"reverse {SYMBOLS} symbols; models conv@example and lstm@torch at equal parameters"],
                        caveats=["A deeper convolution (--layers 2: receptive field 64) would see far enough."])


def _figure(data: StudyData, conv, lstm) -> StudyFigure | None:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    figure = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    for i, (name, values) in enumerate((("conv", conv), ("lstm", lstm))):
        ys = [v for v in values.values() if v is not None]
        ax.scatter([i] * len(ys), ys, s=40)
    ax.set_xticks([0, 1])
    ax.set_xticklabels(["conv@example", "lstm@torch"])
    ax.set_ylabel("held-out accuracy, one dot per seed")
    figure.tight_layout()
    path = data.folder / "receptive_field.png"
    figure.savefig(path)
    return StudyFigure(path, "Reversal accuracy", f"Held-out accuracy reversing {SYMBOLS} symbols after training.")


def _sweeps(seeds: str, steps: int) -> tuple[StudySweep, ...]:
    return (StudySweep("reverse", {"models": "lstm,conv", "tasks": "reverse", "seq_len": SYMBOLS, "hidden": 32,
                                   "steps": steps, "seeds": seeds, "scenarios": "train", "match_params": True},
                       purpose="conv and LSTM reversing 8 symbols"),)


@rnnbench.hookimpl
def rnnbench_register_studies(register):
    register(StudySpec(
        name="receptive-field",
        description="a convolution's receptive field limits what it can reverse; an LSTM's state does not (example)",
        claims=(Claim(key="receptive-field", title="A convolution cannot reverse beyond its receptive field",
                      quote="A causal convolution sees only its receptive field.", criterion=CRITERION,
                      sweeps=("reverse",), analyze=analyze,
                      experiment=f"conv and lstm trained to reverse {SYMBOLS} symbols."),),
        profiles={"quick": _sweeps("0,1", 300), "full": _sweeps("0,1,2", 1500)},
        source="this example's docstring",
    ))
