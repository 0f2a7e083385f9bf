"""Claim 6, the counterpoints the overview leaves out.

6a: a recurrent model's per-token decode cost and carried state stay constant while a
Transformer's grow with the context (the decode scenario: ``step()`` from a prompt of
T - 1 tokens). 6b: attention wins associative recall (multi-query associative recall
accuracy against the bytes of state each model carries).
"""

from __future__ import annotations

from rnnbench.analysis.verdicts import MIN_SEEDS, RULE, all_of, compare, equal_terms, fmt, unless_unequal
from rnnbench.stats import estimate_ratio
from rnnbench.study_api import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, ClaimOutcome, StudyData, Verdict

from rnnbench.studies._support import (
    state_accuracy_points, scoped, unless_lr_interior,
    legend, archs, by_seed, finish, line_by_seed, machine_line, median, metric, new_figure, params_line, samples,
    select, setup_line, values_of,
)

RECURRENT = ("lstm", "gru")
#: a recurrent model's latency "stays constant" when longest/shortest context stays below this (CI high end)
CONSTANT_LATENCY = 1.5

CRITERION_DECODE = (
    "Supported when, from the shortest to the longest context measured, (a) the LSTM's and the GRU's carried"
    " state has the same number of bytes at every context and their per-token decode latency grows by less than"
    f" {CONSTANT_LATENCY:g}× (95% bootstrap interval of the ratio of medians entirely below {CONSTANT_LATENCY:g}),"
    " and (b) the Transformer's state (its KV cache) grows at least half as fast as the context and its latency"
    " grows (interval entirely above 1); not supported when a recurrent state or latency grows beyond that, or"
    " the Transformer's does not grow (intervals on the other side); inconclusive when an interval straddles"
    " its bound or a case failed."
)

#: a model "learned" recall when its accuracy clears chance by this much in every seed
LEARNED_MARGIN = 0.1

CRITERION_RECALL = (
    "Supported when the Transformer's mean held-out accuracy on multi-query associative recall is higher than"
    " both the LSTM's and the GRU's at equal parameter counts (parts: transformer − lstm > 0, transformer − gru"
    f" > 0); inconclusive when no model clears chance by {LEARNED_MARGIN:g} in every seed (nothing was learned in"
    " the budget). " + RULE
)


def _latency_ratio(results, arch: str, short: int, long: int):
    base = [s for r in select(results, arch, seq_len=short) for s in samples(r, "decode", "token_latency_s")]
    new = [s for r in select(results, arch, seq_len=long) for s in samples(r, "decode", "token_latency_s")]
    if not base or not new:
        return None
    return estimate_ratio(base, new)


def _state(results, arch: str, seq_len: int) -> float | None:
    cases = select(results, arch, seq_len=seq_len)
    return metric(cases[0], "decode", "state_bytes") if cases else None


def _ci(est) -> str:
    if est.ci_low is None:
        return f"{fmt(est.ratio)}× (no interval)"
    return f"{fmt(est.ratio)}× [{fmt(est.ci_low)}, {fmt(est.ci_high)}]"


def analyze_decode(data: StudyData) -> ClaimOutcome:
    results = data.sweep("decode").results
    lengths = values_of(results, "seq_len")
    if len(lengths) < 2:
        return ClaimOutcome(Verdict(INCONCLUSIVE, "decode ran at fewer than two context lengths"))
    short, long = lengths[0], lengths[-1]
    growth = long / short
    parts, rows = [], []
    for arch in archs(results):
        est = _latency_ratio(results, arch, short, long)
        states = [_state(results, arch, t) for t in lengths]
        rows.append([arch, _ci(est) if est else "n/a",
                     ", ".join(f"{int(s):,}" if s is not None else "n/a" for s in states)])
        if est is None or any(s is None for s in states):
            parts.append(Verdict(INCONCLUSIVE, f"{arch}: a decode timing or state size is missing (a case failed)"))
            continue
        low, high = (est.ci_low, est.ci_high) if est.ci_low is not None else (est.ratio, est.ratio)
        latency = f"{arch} latency T={long}/T={short}: {_ci(est)}"
        if arch in RECURRENT:
            same = len(set(states)) == 1
            parts.append(Verdict(SUPPORTED if same else NOT_SUPPORTED,
                                 f"{arch} state {'constant' if same else 'changes'}: "
                                 + ", ".join(f"{int(s):,} B" for s in states)))
            parts.append(Verdict(SUPPORTED, f"{latency} < {CONSTANT_LATENCY:g}") if high < CONSTANT_LATENCY else
                         Verdict(NOT_SUPPORTED, f"{latency} > {CONSTANT_LATENCY:g}") if low > CONSTANT_LATENCY else
                         Verdict(INCONCLUSIVE, f"{latency} straddles {CONSTANT_LATENCY:g}"))
        elif arch == "transformer":
            grew = states[-1] / states[0] if states[0] else float("nan")
            parts.append(Verdict(SUPPORTED if grew >= growth / 2 else NOT_SUPPORTED,
                                 f"transformer state grows {fmt(grew)}× for a {fmt(growth)}× longer context"))
            parts.append(Verdict(SUPPORTED, f"{latency} > 1") if low > 1 else
                         Verdict(NOT_SUPPORTED, f"{latency} < 1") if high < 1 else
                         Verdict(INCONCLUSIVE, f"{latency} straddles 1"))
    for arch in (*RECURRENT, "transformer"):
        if arch not in archs(results):
            parts.append(Verdict(INCONCLUSIVE, f"{arch} is not in the decode sweep"))
    crossing = _crossover(results, lengths)
    return ClaimOutcome(
        verdict=scoped(unless_unequal(all_of(parts), equal_terms(results)), results, timed=True),
        figure=_decode_figure(data, results),
        setup=[setup_line(results, trained=False), params_line(results),
               f"latency: median of repeated step() calls at a fixed context; {crossing}"],
        table=(["model", f"latency per token, T={long} / T={short} [95% CI]", "state bytes per context "
                + ", ".join(str(t) for t in lengths)], rows),
        caveats=["A Transformer decoding with a KV cache pays per token for the context it attends to; models with"
                 " a fixed window or linear attention (not measured here) do not.",
                 f"Per-token latency at batch size {', '.join(str(b) for b in values_of(results, 'batch_size'))}"
                 " on this machine; on a GPU, small steps are dominated by launch overhead."],
    )


def _crossover(results, lengths) -> str:
    """The first context where the Transformer's median decode latency exceeds each recurrent model's."""
    found = []
    for rec in RECURRENT:
        for t in lengths:
            att, r = select(results, "transformer", seq_len=t), select(results, rec, seq_len=t)
            if not att or not r:
                continue
            a, b = metric(att[0], "decode", "token_latency_s"), metric(r[0], "decode", "token_latency_s")
            if a is not None and b is not None and a > b:
                found.append(f"the Transformer's median decode latency first exceeds the {rec}'s at context {t}")
                break
        else:
            found.append(f"the Transformer's median decode latency stays at or below the {rec}'s in range")
    return "; ".join(found)


def _decode_figure(data: StudyData, results):
    try:
        figure, (left, right) = new_figure(panels=2)
    except ImportError:
        return None
    for arch in archs(results):
        xs, ys = [], []
        for t in values_of(results, "seq_len"):
            vals = [metric(r, "decode", "token_latency_s") for r in select(results, arch, seq_len=t)]
            vals = [v for v in vals if v is not None]
            if vals:
                xs.append(t)
                ys.append(vals[0] * 1e6)
        left.plot(xs, ys, marker="o", label=arch)
        line_by_seed(right, results, arch, "seq_len", "decode", "state_bytes")
    for ax, ylabel, title in ((left, "µs per step() (whole batch)", "decode latency per token"),
                              (right, "bytes", "state carried between tokens")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("context length T")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        legend(ax, 8)
    caption = ("Left: median wall-clock time of one step() call generating the next token for the whole batch from a"
               " state holding T-1 tokens. Right: bytes of the state step() returns (hidden/cell state or KV cache)."
               " Equal parameter counts. " + machine_line(data.env) + ".")
    return finish(figure, "Decoding: cost and state against context", caption, data.folder / "claim6a_decode.png")


def analyze_recall(data: StudyData) -> ClaimOutcome:
    results = data.sweep("recall").results
    acc = {arch: by_seed(results, arch, "train", "eval_accuracy") for arch in archs(results)}
    parts = [unless_lr_interior(compare("transformer accuracy", acc.get("transformer", {}), f"{r} accuracy",
                                        acc.get(r, {}), above=True, min_seeds=MIN_SEEDS, what="associative recall"),
                                results, ("transformer", r))
             for r in RECURRENT]
    chance = [metric(r, "train", "baseline_accuracy") for r in select(results)]
    chance = [c for c in chance if c is not None]
    learned = [arch for arch, per_seed in acc.items() if chance and per_seed
               and all(v is not None and v > chance[0] + LEARNED_MARGIN for v in per_seed.values())]
    if chance and not learned:
        parts = [Verdict(INCONCLUSIVE, f"no model clears chance ({fmt(chance[0])}) by {LEARNED_MARGIN:g} in every"
                         " seed: nothing was learned in this budget, so the comparison says nothing",
                         tuple(p.reason for p in parts))]
    rows = []
    for arch in archs(results):
        cases = sorted(select(results, arch), key=lambda r: r.config.seed)
        state = [metric(r, "decode", "state_bytes") for r in cases]
        rows.append([f"{arch} (equal parameters, width {cases[0].config.hidden if cases else '?'})",
                     ", ".join(fmt(metric(r, "train", "eval_accuracy")) for r in cases),
                     f"{int(state[0]):,}" if state and state[0] is not None else "n/a"])
    widths = data.sweeps["recall-widths"].results if "recall-widths" in data.sweeps else []
    rows += state_rows(widths)
    return ClaimOutcome(
        verdict=scoped(unless_unequal(all_of(parts), equal_terms(results)), results),
        figure=_recall_figure(data, results, widths),
        setup=[setup_line(results), params_line(results),
               *([f"state-size sweep: {setup_line(widths)} (widths, not matched: the state is the variable)"]
                 if widths else [])],
        table=(["model", "held-out accuracy (per seed)", "state bytes carried between tokens"], rows),
        caveats=["Zoology (Arora et al. 2023) shows recurrent models close the gap on recall as their state grows;"
                 " this is one width.",
                 "The state of a Transformer is its KV cache at the task's length; it grows with the context."],
    )


def state_rows(widths) -> list[list[str]]:
    """One row per recurrent model and width of the state-size sweep: accuracy per seed and state bytes."""
    rows = []
    for arch in archs(widths):
        for hidden in values_of(widths, "hidden"):
            cases = sorted(select(widths, arch, hidden=hidden), key=lambda r: r.config.seed)
            state = [metric(r, "decode", "state_bytes") for r in cases]
            rows.append([f"{arch} width {hidden}", ", ".join(fmt(metric(r, "train", "eval_accuracy")) for r in cases),
                         f"{int(state[0]):,}" if state and state[0] is not None else "n/a"])
    return rows


def _recall_figure(data: StudyData, results, widths=()):
    try:
        figure, (ax,) = new_figure()
    except ImportError:
        return None
    for arch in archs(results):
        xs, ys = state_accuracy_points(results, arch)
        ax.scatter(xs, ys, s=40, label=f"{arch} (equal parameters)")
    for arch in archs(widths):
        xs, ys = [], []
        for hidden in values_of(widths, "hidden"):
            points = [(metric(r, "decode", "state_bytes"), metric(r, "train", "eval_accuracy"))
                      for r in select(widths, arch, hidden=hidden)]
            points = [(x, y) for x, y in points if x is not None and y is not None]
            if points:
                xs.append(points[0][0])
                ys.append(median([y for _, y in points]))
        if xs:
            sizes = ", ".join(map(str, values_of(widths, "hidden")))
            ax.plot(xs, ys, marker="o", linestyle="--", label=f"{arch}, widths {sizes} (median of seeds)")
    chance = [metric(r, "train", "baseline_accuracy") for r in select(results)]
    chance = [c for c in chance if c is not None]
    if chance:
        ax.axhline(chance[0], linestyle="--", color="gray", linewidth=1, label="chance")
    ax.set_xscale("log")
    ax.set_xlabel("state bytes carried between tokens (decode scenario, at the task's length)")
    ax.set_ylabel("held-out recall accuracy")
    ax.grid(True, which="both", alpha=0.3)
    legend(ax, 8)
    caption = ("Multi-query associative recall (Zoology's MQAR): accuracy on held-out queries after training, each"
               " point one seed, against the bytes of state the model carries from token to token. Equal parameter"
               " counts. " + machine_line(data.env) + ".")
    return finish(figure, "Associative recall against state size", caption, data.folder / "claim6b_recall.png")
