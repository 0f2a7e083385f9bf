"""Claim 1: vanilla RNNs suffer vanishing gradients; LSTM and GRU were built to fix this.

Read from the ``gradients`` scenario (issue 16): the norm of dL/dh_t against the distance
between step t and the positions where the loss is taken, at initialisation and after
training, and the fitted decay per step (the negative log-linear slope; positive means
the gradient shrinks with distance) with its standard error.
"""

from __future__ import annotations

import math

from rnnbench.analysis.verdicts import MIN_SEEDS, RULE, Estimate, all_of, compare, threshold
from rnnbench.study_api import ClaimOutcome, StudyData

from rnnbench.studies._support import legend, archs, finish, machine_line, metric, new_figure, params_line, series, setup_line

#: how much steeper the RNN's decay must be than the gated models' (pre-stated)
FACTOR = 2.0
#: each seed's fitted decay is shown with an interval of this many standard errors either side
SE_WIDTH = 2.0
PHASES = (("init", "at initialisation"), ("trained", "after training"))

CRITERION = (
    f"Supported when, both at initialisation and after training, the vanilla RNN's mean fitted gradient decay"
    f" per step is positive and above {FACTOR:g}× the LSTM's and the GRU's (parts: decay > 0, decay − {FACTOR:g}×"
    f" gated decay > 0, per phase). " + RULE
)


def decay_by_seed(results, arch: str, phase: str) -> dict[int, Estimate | None]:
    """Per seed: the fitted decay per step with an interval of ± SE_WIDTH standard errors."""
    out: dict[int, Estimate | None] = {}
    for r in results:
        if r.config.arch != arch:
            continue
        value = metric(r, "gradients", f"decay_per_step_{phase}") if r.status == "ok" else None
        se = metric(r, "gradients", f"decay_per_step_{phase}_se") if r.status == "ok" else None
        if value is None:
            out[r.config.seed] = None
        else:
            width = SE_WIDTH * (se or 0.0)
            out[r.config.seed] = Estimate(value, value - width, value + width)
    return out


def analyze(data: StudyData) -> ClaimOutcome:
    results = data.sweep("gradients").results
    parts = []
    for phase, words in PHASES:
        rnn = decay_by_seed(results, "rnn", phase)
        parts.append(threshold("rnn decay/step", rnn, 0.0, above=True, min_seeds=MIN_SEEDS, what=words))
        for gated in ("lstm", "gru"):
            parts.append(compare("rnn decay/step", rnn, f"{gated} decay/step", decay_by_seed(results, gated, phase),
                                 factor=FACTOR, above=True, min_seeds=MIN_SEEDS, what=words))
    verdict = all_of(parts)

    header = ["model", *(f"decay/step {words}" for _, words in PHASES)]
    rows = []
    for arch in archs(results):
        row = [arch]
        for phase, _ in PHASES:
            per_seed = decay_by_seed(results, arch, phase)
            row.append(", ".join(f"{per_seed[s]}" if per_seed[s] is not None else "n/a" for s in sorted(per_seed)))
        rows.append(row)

    figure = _figure(data, results)
    return ClaimOutcome(
        verdict=verdict, figure=figure,
        setup=[setup_line(results), params_line(results),
               "decay per step: minus the slope of log ‖∂L/∂h_t‖ against distance, fitted by least squares"
               " (issue 16's gradients scenario); per seed, value [± 2 standard errors]."],
        table=(header, rows),
        caveats=["The Transformer's residual stream is shown for contrast; the criterion concerns the"
                 " recurrent models only.",
                 "The probe measures one batch of the copy task; other tasks and initialisations decay differently."],
    )


def _figure(data: StudyData, results):
    try:
        figure, axes = new_figure(panels=2)
    except ImportError:
        return None
    drawn = False
    for ax, (phase, words) in zip(axes, PHASES):
        for arch in archs(results):
            curves = [series(r, "gradients", f"grad_norm_{phase}") for r in results
                      if r.config.arch == arch and r.status == "ok"]
            curves = [c for c in curves if c is not None and len(c.x)]
            if not curves:
                continue
            # geometric mean over seeds at each distance: the norms span decades
            by_x: dict[float, list[float]] = {}
            for c in curves:
                for x, y in zip(c.x, c.y):
                    if y and y > 0 and math.isfinite(y):
                        by_x.setdefault(float(x), []).append(math.log(y))
            xs = sorted(by_x)
            ax.plot(xs, [math.exp(sum(by_x[x]) / len(by_x[x])) for x in xs], marker=".", label=arch)
            drawn = True
        ax.set_yscale("log")
        ax.set_xlabel("distance from the loss positions (steps)")
        ax.set_ylabel("‖∂L/∂h_t‖")
        ax.set_title(words, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        legend(ax, 8)
    if not drawn:
        return None
    caption = ("Norm of the gradient of the loss with respect to the hidden state (recurrent models) or residual"
               " stream (Transformer) at each position, against its distance from the positions where the copy"
               " loss is taken; geometric mean over seeds. " + machine_line(data.env) + ".")
    return finish(figure, "Gradient norm against distance", caption, data.folder / "claim1_gradients.png")

