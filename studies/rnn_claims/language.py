"""Claim 5: Transformers are better at language modeling.

Character-level LM at equal parameter counts and equal training budgets, at several model
sizes. This is *not* the protocol of Languini Kitchen (Stanić et al. 2023), which compares
models at equal accelerator-hours with the model size left free; what it borrows is the
idea of comparing at an equal budget at several scales. Languini's GPT baseline is better
than its LSTM at every compute level it tested; their scaling trends cross only when
extrapolated beyond them. Every model trains at three
sizes (the LSTM's width per profile, ``sweeps.Sizes.lm_widths``; ``--match-params`` sizes
the GRU and the Transformer to its count), each size twice:

- an equal **wall-clock** budget (``--time-budget``): what a user of this machine gets;
- an equal **FLOPs** budget (``--flops-budget``): the same counted arithmetic, so a model
  that is slow per FLOP on this machine is not penalised for it (a model doing more FLOPs
  per step gets fewer steps).

Each (budget, size) pair is a group with two parts (transformer − lstm < 0, transformer −
gru < 0 in held-out bits per character); the claim's verdict is the groups' four-valued
"and" (``by_group``), so "the Transformer leads at the largest size only" comes out mixed,
with each group named. A group whose cases were not given equal terms (parameters within
5%; wall clock, or training FLOPs, within 5%) is inconclusive with the figures; so is a
group trained on fewer than :data:`TOKENS_PER_PARAMETER` tokens per parameter (below that
floor every model is barely past the unigram model and the ranking says little about
language modeling), and a part whose model chose its learning rate at an edge of the grid.
"""

from __future__ import annotations

from rnnbench.analysis.verdicts import MIN_SEEDS, RULE, by_group, compare, equal_terms, fmt
from rnnbench.study_api import INCONCLUSIVE, ClaimOutcome, StudyData, Verdict

from rnnbench.studies._support import (
    archs, by_seed, finish, legend, machine_line, median, metric, new_figure, params_line, scoped, select, setup_line,
    tokens_trained, unless_lr_interior,
)

RECURRENT = ("lstm", "gru")
#: the three model sizes, smallest first (their widths differ per profile: sweeps.Sizes.lm_widths)
SIZES = ("small", "medium", "large")
#: budget kind -> (what the report calls it, the term that must be equal besides the parameter count)
BUDGETS = {"time": ("equal wall clock", "train_time_s"), "flops": ("equal FLOPs", "train_flops")}


def lm_sweep(budget: str, size: str) -> str:
    """The sweep name of one (budget, size) group: ``lm-time-small``, ``lm-flops-large``."""
    if budget not in BUDGETS or size not in SIZES:
        raise ValueError(f"unknown lm group {budget!r}, {size!r}")
    return f"lm-{budget}-{size}"


#: the token floor of a language-model verdict: tokens trained per parameter of the group's largest model
#: (Hoffmann et al. 2022's compute-optimal ratio, about 20); a group below it is "inconclusive: below N tokens"
TOKENS_PER_PARAMETER = 20

#: every sweep claim 5 reads, in report order
SWEEPS = tuple(lm_sweep(budget, size) for budget in BUDGETS for size in SIZES)

CRITERION = (
    "A verdict per group, then combined; the groups are three model sizes, each at an equal wall-clock training"
    " budget and at an equal training-FLOPs budget (six groups), every model of a group at the LSTM's parameter"
    " count. In each group the Transformer's mean held-out bits per character is lower than the LSTM's and the"
    " GRU's (parts: transformer − lstm < 0, transformer − gru < 0). A group is inconclusive when its parameter"
    " counts, or its budget (training wall clock, or training FLOPs), differ by more than 5%; when any of its"
    f" trainings saw fewer than {TOKENS_PER_PARAMETER} tokens per parameter of the group's largest model"
    " (\"inconclusive: below N tokens\"); a part is inconclusive when a model it compares chose its learning"
    " rate at an edge of the grid (below the cap). The report gives the gap at each size (does it shrink with"
    " scale?). " + RULE
)


def _group(results, budget: str, size: str) -> tuple[str, list[Verdict]]:
    """One group's name (with its width and budget as run) and its parts."""
    label, term = BUDGETS[budget]
    widths = sorted({r.config.requested_hidden or r.config.hidden for r in results if r.config.arch == "lstm"})
    width = f"width {', '.join(map(str, widths))}" if widths else "no LSTM case"
    name = f"{size} ({width}), {label} ({_budget_text(results, budget)})"
    guard = equal_terms(results, ("params", term), within=())
    if guard is not None:
        return name, [Verdict(INCONCLUSIVE, guard.reason)]
    floor = token_floor(results)
    if floor is not None:
        return name, [floor]
    bpc = {arch: by_seed(results, arch, "train", "eval_bits_per_char") for arch in archs(results)}
    return name, [unless_lr_interior(
        compare("transformer bpc", bpc.get("transformer", {}), f"{r} bpc", bpc.get(r, {}), above=False,
                min_seeds=MIN_SEEDS, what="held-out bits per character"), results, ("transformer", r))
                  for r in RECURRENT]


def token_floor(results) -> Verdict | None:
    """``inconclusive: below N tokens`` when a training of the group saw fewer than the floor, else None."""
    ok = [r for r in results if r.status == "ok"]
    params = [p for p in (metric(r, "model", "params") for r in ok) if p is not None]
    tokens = [t for t in (tokens_trained(r) for r in ok) if t is not None]
    if not params or not tokens:
        return None
    floor = TOKENS_PER_PARAMETER * max(params)
    if min(tokens) >= floor:
        return None
    return Verdict(INCONCLUSIVE, f"inconclusive: below {floor / 1e6:.3g}M tokens ({TOKENS_PER_PARAMETER} per"
                   f" parameter of {int(max(params)):,}); the trainings saw {min(tokens) / 1e6:.3g}M to"
                   f" {max(tokens) / 1e6:.3g}M tokens")


def gap_trend(data: StudyData, budget: str) -> str:
    """The mean held-out bpc gap transformer − each recurrent model at each size: does it shrink with scale?"""
    said = []
    for r in RECURRENT:
        gaps = []
        for size in SIZES:
            results = data.sweep(lm_sweep(budget, size)).results
            t = [v for v in by_seed(results, "transformer", "train", "eval_bits_per_char").values() if v is not None]
            o = [v for v in by_seed(results, r, "train", "eval_bits_per_char").values() if v is not None]
            gaps.append(f"{sum(t) / len(t) - sum(o) / len(o):+.3g} ({size})" if t and o else f"n/a ({size})")
        said.append(f"transformer − {r}: " + ", ".join(gaps))
    return f"{BUDGETS[budget][0]}, mean held-out bpc gap by size: " + "; ".join(said)


def _budget_text(results, budget: str) -> str:
    if budget == "time":
        values = sorted({r.config.time_budget_s for r in results if r.config.time_budget_s is not None})
        return ", ".join(f"{v:g} s" for v in values) or "no budget recorded"
    values = sorted({r.config.flops_budget for r in results if r.config.flops_budget is not None})
    return ", ".join(f"{v:.3g} FLOPs" for v in values) or "no budget recorded"


def analyze(data: StudyData) -> ClaimOutcome:
    groups, rows, setup = {}, [], []
    for budget in BUDGETS:
        for size in SIZES:
            results = data.sweep(lm_sweep(budget, size)).results
            name, parts = _group(results, budget, size)
            groups[name] = parts
            setup.append(f"{name}: {setup_line(results)}; {params_line(results)}")
            for arch in archs(results):
                cases = sorted(select(results, arch), key=lambda r: r.config.seed)
                rows.append([
                    BUDGETS[budget][0], size, arch,
                    ", ".join(fmt(metric(r, "train", "eval_bits_per_char")) for r in cases),
                    ", ".join(fmt(metric(r, "train", "steps_reached")) for r in cases),
                    ", ".join(fmt(metric(r, "train", "time_s")) for r in cases),
                    ", ".join(fmt(_gflops(r)) for r in cases),
                    ", ".join(fmt(metric(r, "train", "cpu_time_s")) for r in cases),
                ])
    setup.append("evaluation (validation and held-out test batches) runs outside every budget")
    setup += [gap_trend(data, budget) for budget in BUDGETS]
    everything = [r for budget in BUDGETS for size in SIZES for r in data.sweep(lm_sweep(budget, size)).results]
    return ClaimOutcome(
        verdict=scoped(by_group(groups), everything),
        figure=_figure(data),
        setup=setup,
        table=(["budget", "size", "model", "bits/char (per seed)", "steps reached", "train wall s",
                "train GFLOPs", "train CPU s"], rows),
        caveats=["Equal wall-clock time on a shared CPU: a case that got less CPU time than another trained less;"
                 " the CPU seconds column shows what each got. The equal-FLOPs groups do not depend on it.",
                 "FLOPs are rnnbench's analytic counts of the training steps (forward and backward), not measured"
                 " hardware counters; a model's steps under a FLOPs budget are the budget over its count per step.",
                 "Small models and short budgets: a verdict holds for the sizes, budgets and tokens in its label, no"
                 " further. Languini Kitchen (Stanić et al. 2023) compares at equal accelerator-hours with the size"
                 " free and finds its GPT baseline ahead of its LSTM at every compute level it tested (the trends"
                 " cross only by extrapolation); this study fixes the parameter count instead."],
    )


def _gflops(result) -> float | None:
    flops = metric(result, "train", "flops")
    return None if flops is None else flops / 1e9


def _figure(data: StudyData):
    try:
        figure, axes = new_figure(panels=2)
    except ImportError:
        return None
    colours: dict[str, str] = {}
    for ax, budget in zip(axes, BUDGETS):
        baseline, ticks = None, []
        medians: dict[str, list[tuple[float, float]]] = {}
        for i, size in enumerate(SIZES):
            results = data.sweep(lm_sweep(budget, size)).results
            names = archs(results)
            counts = [metric(r, "model", "params") for r in select(results, "lstm")]
            count = next((c for c in counts if c is not None), None)
            ticks.append(f"{size}\n{count / 1e3:.0f}k params" if count else size)
            for j, arch in enumerate(names):
                colour = colours.setdefault(arch, f"C{len(colours)}")
                values = [v for v in (metric(r, "train", "eval_bits_per_char") for r in select(results, arch))
                          if v is not None]
                if not values:
                    continue
                x = i + 0.2 * (j - (len(names) - 1) / 2)  # the models of a size side by side
                ax.scatter([x] * len(values), values, s=14, alpha=0.6, color=colour)
                medians.setdefault(arch, []).append((x, median(values)))
            base = [metric(r, "train", "baseline_bits_per_char") for r in select(results)]
            baseline = next((b for b in base if b is not None), baseline)
        for arch, points in medians.items():
            ax.plot([x for x, _ in points], [y for _, y in points], marker="_", markersize=14, color=colours[arch],
                    label=arch)
        if baseline is not None:
            ax.axhline(baseline, linestyle="--", color="gray", linewidth=1, label="unigram baseline")
        ax.set_xticks(range(len(SIZES)))
        ax.set_xticklabels(ticks)
        ax.set_xlabel("model size (the LSTM's parameter count; the others matched to it)")
        ax.set_ylabel("held-out bits per character")
        ax.set_title(f"{BUDGETS[budget][0]}: each dot a seed, line through the medians", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
        legend(ax, 8)
    caption = ("Character-level language modeling at equal parameter counts, three model sizes, each at an equal"
               " wall-clock training budget (left) and an equal training-FLOPs budget (right; analytic FLOP"
               " counts). Lower is better. The learning rate of every case was"
               " chosen on the validation split from the sweep's grid. " + machine_line(data.env) + ".")
    return finish(figure, "Language modeling at equal time and equal FLOPs", caption, data.folder / "claim5_lm.png")
