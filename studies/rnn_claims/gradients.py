"""Claim 1: vanilla RNNs suffer vanishing gradients; LSTM and GRU were built to fix this.

Read from the ``gradients`` scenario: the norm of dL/dh_t against the distance
between step t and the positions where the loss is taken, at initialisation and after
training, and the fitted decay per step (the negative log-linear slope; positive means
the gradient shrinks with distance) with its standard error.

The control: the sentence is about "vanishing *and exploding*" gradients, and PyTorch's
default initialisation alone decides whether a vanilla RNN's gradient vanishes. So the
claim is also tested at initialisation under ``init=orthogonal`` at spectral radii below,
at and above 1 (rnn, lstm and gru alike), a verdict per regime: below and at 1 the RNN's
gradient should vanish (decay > 0), above 1 explode (decay < 0), and in each regime the
gated models should change less with distance (|decay| at least FACTOR× smaller).
"""

from __future__ import annotations

import math

from rnnbench.analysis.verdicts import MIN_SEEDS, RULE, Estimate, by_group, compare, threshold
from rnnbench.study_api import ClaimOutcome, StudyData

from rnnbench.studies._support import (
    archs, finish, legend, machine_line, metric, new_figure, params_line, scoped, series, setup_line,
    unless_lr_interior,
)

#: how much steeper the RNN's decay must be than the gated models' (pre-stated)
FACTOR = 2.0
#: each seed's fitted decay is shown with an interval of this many standard errors either side
SE_WIDTH = 2.0
PHASES = (("init", "at initialisation"), ("trained", "after training"))
#: spectral radii of the orthogonal-initialisation regimes (below, at and above 1)
RADII = (0.5, 1.0, 3.0)


def regime_sweep(radius: float) -> str:
    """The sweep name of one orthogonal-initialisation regime."""
    return f"gradients-radius-{radius:g}".replace(".", "p")


REGIME_SWEEPS = tuple(regime_sweep(r) for r in RADII)

CRITERION = (
    f"A verdict per regime, then combined. Default initialisation, at initialisation and after training: the"
    f" vanilla RNN's mean fitted gradient decay per step is positive and above {FACTOR:g}× the LSTM's and the"
    f" GRU's (parts: decay > 0, decay − {FACTOR:g}× gated decay > 0). Orthogonal recurrent initialisation at"
    f" spectral radius {', '.join(f'{r:g}' for r in RADII)} (all three models), at initialisation: the RNN's"
    f" gradient vanishes (decay > 0) at radius ≤ 1 and explodes (decay < 0) above 1, and its |decay| exceeds"
    f" {FACTOR:g}× each gated model's |decay|. " + RULE
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


def magnitude(per_seed: dict[int, Estimate | None]) -> dict[int, float | None]:
    return {s: (abs(e.value) if e is not None else None) for s, e in per_seed.items()}


def regime_parts(results, radius: float) -> list:
    """At initialisation under orthogonal W_hh of one spectral radius."""
    words = f"orthogonal init, radius {radius:g}"
    rnn = decay_by_seed(results, "rnn", "init")
    vanishing = radius <= 1
    parts = [threshold("rnn decay/step", rnn, 0.0, above=vanishing, min_seeds=MIN_SEEDS,
                       what=f"{words} ({'vanishing' if vanishing else 'exploding'})")]
    for gated in ("lstm", "gru"):
        parts.append(compare("|rnn decay/step|", magnitude(rnn), f"|{gated} decay/step|",
                             magnitude(decay_by_seed(results, gated, "init")), factor=FACTOR, above=True,
                             min_seeds=MIN_SEEDS, what=words))
    return parts


def analyze(data: StudyData) -> ClaimOutcome:
    results = data.sweep("gradients").results
    groups: dict[str, list] = {}
    for phase, words in PHASES:
        parts = groups.setdefault(f"default init, {words}", [])
        rnn = decay_by_seed(results, "rnn", phase)
        parts.append(threshold("rnn decay/step", rnn, 0.0, above=True, min_seeds=MIN_SEEDS, what=words))
        for gated in ("lstm", "gru"):
            part = compare("rnn decay/step", rnn, f"{gated} decay/step", decay_by_seed(results, gated, phase),
                           factor=FACTOR, above=True, min_seeds=MIN_SEEDS, what=words)
            # after training, the decay follows the learning rate each model chose: an edge choice leaves it open
            parts.append(unless_lr_interior(part, results, ("rnn", gated)) if phase == "trained" else part)
    regimes = {r: data.sweeps[regime_sweep(r)].results for r in RADII if regime_sweep(r) in data.sweeps}
    for radius, regime in regimes.items():
        groups[f"orthogonal init, radius {radius:g}"] = regime_parts(regime, radius)
    verdict = scoped(by_group(groups), results)

    header = ["model", *(f"decay/step {words}" for _, words in PHASES)]
    rows = []
    for arch in archs(results):
        row = [arch]
        for phase, _ in PHASES:
            per_seed = decay_by_seed(results, arch, phase)
            row.append(", ".join(f"{per_seed[s]}" if per_seed[s] is not None else "n/a" for s in sorted(per_seed)))
        rows.append(row)
    for radius, regime in regimes.items():
        for arch in archs(regime):
            per_seed = decay_by_seed(regime, arch, "init")
            rows.append([f"{arch}, orthogonal radius {radius:g}",
                         ", ".join(f"{per_seed[s]}" if per_seed[s] is not None else "n/a" for s in sorted(per_seed)),
                         "not trained"])

    figure = _figure(data, results)
    return ClaimOutcome(
        verdict=verdict, figure=figure,
        setup=[setup_line(results), params_line(results),
               "decay per step: minus the slope of log ‖∂L/∂h_t‖ against distance, fitted by least squares"
               " (the gradients scenario); per seed, value [± 2 standard errors]."],
        table=(header, rows),
        caveats=["The Transformer's residual stream is shown for contrast; the criterion concerns the"
                 " recurrent models only.",
                 "The probe measures one batch of the copy task; other tasks decay differently.",
                 "The orthogonal regimes are probed at initialisation only: they show what the initialisation"
                 " decides, not what training does with it."],
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

