"""Claim 7: weight sharing over time "helps generalize well over varying sequence lengths".

Trained at length T, evaluated at 2T and 4T (``--eval-seq-len``) on copy and
selective copy; who degrades. The criterion concerns the recurrent models the sentence is
about; the Transformer is shown for contrast. The control is ``unshared_rnn`` (plugins/torch/
unshared.py), a recurrence with its own weights at each position: the sentence credits the
sharing, so a model without it must generalise worse.
"""

from __future__ import annotations

from rnnbench.analysis.verdicts import MIN_SEEDS, RULE, by_group, compare, equal_terms, fmt, threshold, unless_unequal
from rnnbench.study_api import INCONCLUSIVE, SUPPORTED, ClaimOutcome, StudyData, Verdict

from rnnbench.studies._support import (
    archs, finish, learned_in_every_seed, legend, machine_line, metric, new_figure, params_line, scoped, select,
    setup_line, unless_lr_interior,
)

RECURRENT = ("lstm", "gru")
#: the control without weight sharing across positions (issue 36)
CONTROL = "unshared_rnn"
#: an accuracy drop from T to a longer length below this counts as "kept"
MAX_DROP = 0.1
#: the model must first have learned the task at T: this share of the chance-to-perfect gap
LEARNED_FRACTION = 0.5
SWEEPS = (("lengthgen-copy", "copy"), ("lengthgen-selective", "selective_copy"))

CRITERION = (
    "A verdict per model, then their combination (the GRU generalising and the LSTM not is mixed, naming"
    f" each). A model's verdict is supported when, trained at length T, its mean loss of held-out accuracy is"
    f" below {MAX_DROP:g} at every longer evaluated length (2T and 4T) on copy and on selective copy (parts: drop −"
    f" {MAX_DROP:g} < 0 per task and length); inconclusive for a task the model did not learn at T (share of"
    f" the gap from chance to perfect not above {LEARNED_FRACTION:.0%} in every seed: nothing to generalise)."
    f" Control ({CONTROL}: the same tanh recurrence with its own weights at each position, so positions beyond T run"
    " on untrained weights): on each task, at the longest evaluated length, its mean accuracy drop is larger than"
    " the LSTM's and than the GRU's (parts: control drop − model drop > 0); a control or model that did not learn"
    " the task at T leaves its part inconclusive. A control that generalises as well as the shared models leaves the"
    " claim inconclusive (the generalisation is then not shown to come from the sharing); one that generalises"
    " better makes it mixed. " + RULE
)


def accuracy_at(result, length: int) -> float | None:
    """Held-out accuracy at an evaluated length (the training length falls back to the plain metric)."""
    value = metric(result, "train", f"eval_accuracy_len{length}")
    if value is None and length == result.config.seq_len:
        value = metric(result, "train", "eval_accuracy")
    return value


def eval_lengths(results) -> list[int]:
    lengths = set()
    for r in results:
        for m in r.metrics:
            if m.scenario == "train" and m.name.startswith("eval_accuracy_len"):
                lengths.add(int(m.name.rsplit("len", 1)[1]))
    return sorted(lengths)


def analyze(data: StudyData) -> ClaimOutcome:
    per_model: dict[str, list] = {arch: [] for arch in RECURRENT}
    rows, setup, guards, control = [], [], [], []
    for sweep, task in SWEEPS:
        results = [r for r in data.sweep(sweep).results if r.config.task == task]
        setup.append(f"{task}: {setup_line(results)}; evaluated at {', '.join(map(str, eval_lengths(results)))}")
        setup.append(f"{task} {params_line(results)}")
        for arch in archs(results):
            cases = sorted(select(results, arch), key=lambda r: r.config.seed)
            for r in cases:
                rows.append([task, arch, str(r.config.seed),
                             *[f"{fmt(accuracy_at(r, L))} at {L}" for L in eval_lengths(results)]])
        # the control's own weights per position make its count coarse in the width: it is not held to 5%
        guards.append(equal_terms([r for r in results if r.config.arch != CONTROL]))
        for arch in RECURRENT:
            per_model[arch] += _decide(results, arch, task)
        if any(r.config.arch == CONTROL for r in results):
            control.extend(_control(results, task))
    if control:
        per_model[f"control ({CONTROL}, no weight sharing)"] = control
    width = max((len(row) - 3 for row in rows), default=0)
    rows = [row + [""] * (3 + width - len(row)) for row in rows]  # one column per evaluated length
    return ClaimOutcome(
        verdict=scoped(unless_unequal(by_group(per_model), next((g for g in guards if g), None)),
                       [r for sweep, _ in SWEEPS for r in data.sweep(sweep).results]),
        figure=_figure(data),
        setup=setup,
        table=(["task", "model", "seed", *[f"held-out accuracy, length {i + 1}" for i in range(width)]], rows),
        caveats=["What a Transformer does beyond its trained length depends on its positional scheme (results.csv"
                 " records the choice per case, column length_extension); a different scheme generalises differently.",
                 "Copy at 2T also means a longer delay; failing it mixes length generalisation with memory span."],
    )


def drops(results, arch: str) -> dict[int, dict[int, float | None]]:
    """Per evaluated length beyond T, per seed: accuracy at T minus accuracy at that length."""
    cases = [r for r in results if r.config.arch == arch and r.status == "ok"]
    if not cases:
        return {}
    trained = {r.config.seed: accuracy_at(r, r.config.seq_len) for r in cases}
    return {length: {r.config.seed: (trained[r.config.seed] - a
                                     if (a := accuracy_at(r, length)) is not None and trained[r.config.seed] is not None
                                     else None) for r in cases}
            for length in eval_lengths(results) if length > cases[0].config.seq_len}


def learned_at_t(results, arch: str, task: str) -> Verdict:
    """The "learned anything" guard at the training length, per seed."""
    cases = [r for r in results if r.config.arch == arch and r.status == "ok"]
    closed = {}
    for r in cases:
        value, chance = accuracy_at(r, r.config.seq_len), metric(r, "train", "baseline_accuracy")
        closed[r.config.seed] = (value - chance) / (1 - chance) if value is not None and chance is not None else None
    return learned_in_every_seed(f"{arch} share of the gap closed at T", closed, LEARNED_FRACTION, what=task)


def _control(results, task: str) -> list[Verdict]:
    """The control's parts on one task: its drop at the longest length against each shared model's."""
    control_learned = learned_at_t(results, CONTROL, task)
    if control_learned.status != SUPPORTED:
        return [Verdict(INCONCLUSIVE, control_learned.reason + " (the control did not learn the task at T: it cannot"
                        " show what sharing adds)")]
    control_drops = drops(results, CONTROL)
    if not control_drops:
        return [Verdict(INCONCLUSIVE, f"{task}: no evaluated length beyond the training length")]
    longest = max(control_drops)
    out = []
    for arch in RECURRENT:
        learned = learned_at_t(results, arch, task)
        if learned.status != SUPPORTED:
            out.append(Verdict(INCONCLUSIVE, learned.reason + f" ({arch} not learned at T: no drop to compare)"))
            continue
        out.append(unless_lr_interior(compare(
            f"{CONTROL} accuracy drop T→{longest}", control_drops[longest], f"{arch} drop",
            drops(results, arch).get(longest, {}), above=True, min_seeds=MIN_SEEDS, what=task),
            results, (CONTROL, arch)))
    return out


def _decide(results, arch: str, task: str) -> list[Verdict]:
    cases = [r for r in results if r.config.arch == arch]
    if not cases:
        return [Verdict(INCONCLUSIVE, f"{task}: {arch} is not in the sweep")]
    failed = [r for r in cases if r.status != "ok"]
    if failed:
        return [Verdict(INCONCLUSIVE, f"{task}: {arch} seed {failed[0].config.seed} {failed[0].status}")]
    trained = {r.config.seed: accuracy_at(r, r.config.seq_len) for r in cases}
    chance = {r.config.seed: metric(r, "train", "baseline_accuracy") for r in cases}
    closed = {s: ((v - chance[s]) / (1 - chance[s]) if v is not None and chance[s] is not None else None)
              for s, v in trained.items()}
    learned = learned_in_every_seed(f"{arch} share of the gap closed at T", closed, LEARNED_FRACTION, what=task)
    if learned.status != SUPPORTED:
        return [Verdict(INCONCLUSIVE, learned.reason + " (not learned at T: nothing to generalise)", learned.evidence)]
    out = []
    longer = [L for L in eval_lengths(results) if L > cases[0].config.seq_len]
    if not longer:
        return [Verdict(INCONCLUSIVE, f"{task}: no evaluated length beyond the training length")]
    for length in longer:
        drop = {r.config.seed: (trained[r.config.seed] - a if (a := accuracy_at(r, length)) is not None else None)
                for r in cases}
        out.append(unless_lr_interior(threshold(f"{arch} accuracy drop T→{length}", drop, MAX_DROP, above=False,
                                                min_seeds=MIN_SEEDS, what=task), results, (arch,)))
    return out


def _figure(data: StudyData):
    try:
        figure, axes = new_figure(panels=2)
    except ImportError:
        return None
    for ax, (sweep, task) in zip(axes, SWEEPS):
        results = [r for r in data.sweep(sweep).results if r.config.task == task]
        lengths = eval_lengths(results)
        for arch in archs(results):
            xs, ys, lo, hi = [], [], [], []
            for L in lengths:
                vals = [accuracy_at(r, L) for r in select(results, arch)]
                vals = sorted(v for v in vals if v is not None)
                if vals:
                    m = vals[len(vals) // 2] if len(vals) % 2 else (vals[len(vals) // 2 - 1] + vals[len(vals) // 2]) / 2
                    xs.append(L)
                    ys.append(m)
                    lo.append(m - vals[0])
                    hi.append(vals[-1] - m)
            if xs:
                ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=arch)
        chance = [metric(r, "train", "baseline_accuracy") for r in select(results)]
        chance = [c for c in chance if c is not None]
        if chance:
            ax.axhline(chance[0], linestyle="--", color="gray", linewidth=1, label="chance")
        trained_at = sorted({r.config.seq_len for r in results})
        for t in trained_at:
            ax.axvline(t, color="black", linewidth=0.8, alpha=0.5)
        ax.set_xscale("log", base=2)
        ax.set_xticks(lengths)
        ax.set_xticklabels([str(L) for L in lengths])
        ax.set_xlabel("evaluated length (vertical line: trained length)")
        ax.set_ylabel("held-out accuracy")
        ax.set_title(task, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        legend(ax, 8)
    caption = ("Trained at one length, evaluated on held-out data at longer ones (--eval-seq-len); median over seeds"
               " with min–max bars; dashed: chance. Equal parameter counts. " + machine_line(data.env) + ".")
    return finish(figure, "Length generalisation", caption, data.folder / "claim7_length.png")
