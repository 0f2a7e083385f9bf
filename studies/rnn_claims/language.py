"""Claim 5: Transformers are better at language modeling.

Character-level LM at equal parameter counts and equal training time: every model trains
for the same wall-clock budget (``--time-budget``, the protocol of Languini Kitchen,
Stanić et al. 2023), then is scored in bits per character on held-out text.
"""

from __future__ import annotations

from rnnbench.analysis.verdicts import MIN_SEEDS, RULE, all_of, compare, equal_terms, fmt, unless_unequal
from rnnbench.study_api import ClaimOutcome, StudyData

from rnnbench.studies._support import (
    legend, archs, by_seed, finish, machine_line, metric, new_figure, params_line, select, series, setup_line,
)

RECURRENT = ("lstm", "gru")

CRITERION = (
    "Supported when, at equal parameter counts and an equal wall-clock training budget, the Transformer's mean"
    " held-out bits per character is lower than both the LSTM's and the GRU's (parts: transformer − lstm < 0,"
    " transformer − gru < 0). " + RULE
)


def analyze(data: StudyData) -> ClaimOutcome:
    results = data.sweep("lm-equal-time").results
    bpc = {arch: by_seed(results, arch, "train", "eval_bits_per_char") for arch in archs(results)}
    parts = [compare("transformer bpc", bpc.get("transformer", {}), f"{r} bpc", bpc.get(r, {}), above=False,
                     min_seeds=MIN_SEEDS, what="held-out bits per character")
             for r in RECURRENT]
    rows = []
    for arch in archs(results):
        cases = sorted(select(results, arch), key=lambda r: r.config.seed)
        rows.append([
            arch,
            ", ".join(fmt(metric(r, "train", "eval_bits_per_char")) for r in cases),
            ", ".join(fmt(metric(r, "train", "steps_reached")) for r in cases),
            ", ".join(fmt(metric(r, "train", "time_s")) for r in cases),
            ", ".join(fmt(metric(r, "train", "cpu_time_s")) for r in cases),
        ])
    budgets = sorted({r.config.time_budget_s for r in results if getattr(r.config, "time_budget_s", None)})
    budget = ", ".join(f"{b:g} s" for b in budgets) or "none recorded"
    return ClaimOutcome(
        verdict=unless_unequal(all_of(parts), equal_terms(results, ("params", "train_time_s"), within=())),
        figure=_figure(data, results),
        setup=[setup_line(results), params_line(results), f"training budget: {budget} of wall clock per case"
               " (evaluation outside it)"],
        table=(["model", "bits/char (per seed)", "steps reached", "train wall s", "train CPU s"], rows),
        caveats=["Equal wall-clock time on a shared CPU: a case that got less CPU time than another trained less;"
                 " the CPU seconds column shows what each got.",
                 "Small models and a short budget: the ranking of the fully trained models may differ (Languini"
                 " Kitchen finds the LSTM competitive at small compute and the Transformer ahead as it grows)."],
    )


def _curve(result):
    """(seconds, loss) of a case's learning curve, or None.

    Prefers a curve stored against time; otherwise places the evenly spaced loss-curve points
    at equal fractions of the training wall time, which assumes steps of equal cost.
    """
    timed = series(result, "train", "loss_curve_time")
    if timed is not None and len(timed.x):
        return list(timed.x), list(timed.y), True
    for m in result.metrics:
        if m.scenario == "train" and m.name == "loss_curve" and m.samples:
            total = metric(result, "train", "time_s")
            if not total:
                return None
            n = len(m.samples)
            return [total * i / max(n - 1, 1) for i in range(n)], list(m.samples), False
    curve = series(result, "train", "loss_curve")
    total = metric(result, "train", "time_s")
    if curve is not None and len(curve.x) and total:
        last = max(curve.x) or 1
        return [total * x / last for x in curve.x], list(curve.y), False
    return None


def _figure(data: StudyData, results):
    try:
        figure, (left, right) = new_figure(panels=2)
    except ImportError:
        return None
    assumed = False
    colours = {}
    for r in sorted(select(results), key=lambda r: (r.config.arch, r.config.seed)):
        curve = _curve(r)
        if curve is None:
            continue
        xs, ys, timed = curve
        assumed = assumed or not timed
        colour = colours.setdefault(r.config.arch, f"C{len(colours)}")
        left.plot(xs, ys, color=colour, alpha=0.8, label=r.config.arch if r.config.seed == min(
            x.config.seed for x in select(results, r.config.arch)) else None)
    left.set_xlabel("training wall-clock time (s)")
    left.set_ylabel("training loss (nats/char)")
    left.set_title("learning curves, one line per seed", fontsize=10)
    left.grid(True, alpha=0.3)
    legend(left, 8)
    names = archs(results)
    for i, arch in enumerate(names):
        vals = [metric(r, "train", "eval_bits_per_char") for r in select(results, arch)]
        vals = [v for v in vals if v is not None]
        right.scatter([i] * len(vals), vals, s=30, color=colours.get(arch))
        if vals:
            right.hlines(sorted(vals)[len(vals) // 2], i - 0.3, i + 0.3, color="black")
    base = [metric(r, "train", "baseline_bits_per_char") for r in select(results)]
    base = [b for b in base if b is not None]
    if base:
        right.axhline(base[0], linestyle="--", color="gray", linewidth=1, label="unigram baseline")
        legend(right, 8)
    right.set_xticks(range(len(names)))
    right.set_xticklabels(names)
    right.set_ylabel("held-out bits per character")
    right.set_title("after the budget: each dot a seed, bar the median", fontsize=10)
    right.grid(True, axis="y", alpha=0.3)
    how = (" Curve points are spread evenly over each case's training wall time (steps assumed equally long)."
           if assumed else "")
    caption = ("Character-level language modeling at equal parameter counts and an equal wall-clock training"
               " budget. Left: training loss against training time." + how + " Right: bits per character on held-out"
               " text after the budget. " + machine_line(data.env) + ".")
    return finish(figure, "Language modeling at equal time", caption, data.folder / "claim5_lm.png")
