"""The claims of ``modern-recurrence``, their criteria (fixed here, before anything runs), sweeps and analyses.

1. Feng et al. 2024: minGRU/minLSTM train much faster than GRU/LSTM at long sequences.
2. Gu & Dao 2023: an input-dependent (selective) recurrence addresses the weakness of
   non-selective ones at content-based recall: Mamba beats the LSTM on associative recall
   (the gap to attention is reported, not decided: Arora et al. 2024 find fixed-state models
   "struggle at recall", and neither paper says the gap closes).
3. Arora et al. 2024 (Zoology's frontier): recall is bounded by the state a model carries.

Every comparison reads per-seed values and is decided by rnnbench.analysis.verdicts
(t intervals across seeds, Holm across parts), as the ``rnn-claims`` study does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rnnbench.analysis.verdicts import MIN_SEEDS, RULE, all_of, by_group, compare, equal_terms, fmt, threshold, unless_unequal
from rnnbench.study_api import INCONCLUSIVE, Claim, ClaimOutcome, StudyData, StudySweep, Verdict

from rnnbench.studies._support import (
    state_accuracy_points, scoped, unless_lr_interior,
    archs, by_seed, finish, legend, line_by_seed, machine_line, metric, new_figure, params_line, select, setup_line,
    values_of,
)
from rnnbench.studies.rnn_claims.speed import log_ratio_by_seed, on_this_machine

SOURCE = ("the abstracts of Feng et al. 2024, 'Were RNNs All We Needed?' (arXiv 2410.01201v1; later versions drop"
          " the 175x figure); Gu & Dao 2023, 'Mamba: Linear-Time Sequence Modeling with Selective State Spaces' (arXiv"
          " 2312.00752); Arora et al. 2024, 'Simple linear attention language models balance the recall-throughput"
          " tradeoff' (Based, arXiv 2402.18668v1; later versions reword it), after Arora et al. 2023 (Zoology)")

#: (parallel-scan model, its classic counterpart) of claim 1
PAIRS = (("mingru", "gru"), ("minlstm", "lstm"))
SELECTIVE, ATTENTION, NON_SELECTIVE = "mamba", "transformer", "lstm"
#: claim 2 is undecidable when attention itself does not clear chance by this much
LEARNED_MARGIN = 0.1

CRITERION_SPEED = (
    "At the longest sequence length of the sweep, per seed, the log of the ratio of median train-step times per"
    " token (forward, backward, Adam; equal parameter counts) of minGRU to GRU and of minLSTM to LSTM is below 0"
    " (the parallel-scan model is faster); one group per pair. On a CPU-only machine the verdict is stated"
    " 'on this CPU'. " + RULE)
CRITERION_RECALL = (
    "On multi-query associative recall at equal parameter counts: Mamba's mean held-out accuracy is above the"
    " LSTM's (a recurrence without input-dependent state transitions; part: mamba − lstm > 0). Inconclusive when"
    f" the Transformer does not clear chance by {LEARNED_MARGIN:g} in every seed (the task was not learnable in the"
    f" budget), and when Mamba does not (\"inconclusive: below the budget where Mamba learns\": its failure would be"
    " the budget's), or when a compared model chose its learning rate at an edge of the grid. The gap to attention"
    " (transformer − mamba accuracy) is reported, not decided. " + RULE)
CRITERION_STATE = (
    "On multi-query associative recall, for every linear-recurrent model of the width sweep, per seed: the held-out"
    " accuracy at the widest width minus that at the narrowest is above 0, while the decode state (bytes of the"
    " tensors step() returns) grows with the width; one group per model, inconclusive for a model that does not"
    f" clear chance by {LEARNED_MARGIN:g} in every seed at the widest width (its failure would be the budget's). "
    + RULE)


def _quote(*sentences: tuple[str, str]) -> str:
    return " ".join(f"“{text}” ({where})" for text, where in sentences)


# -- claim 1 -----------------------------------------------------------------------------------

def analyze_speed(data: StudyData) -> ClaimOutcome:
    results = data.sweep("speed").results
    longest = max(values_of(results, "seq_len")) if results else None
    groups: dict[str, list[Verdict]] = {}
    rows = []
    for fast, classic in PAIRS:
        groups[f"{fast} vs {classic}"] = [threshold(
            f"log({fast}/{classic} train-step time per token)",
            log_ratio_by_seed(results, fast, classic, longest, "train", "step_time_s", per_token=False), 0.0, above=False,
            min_seeds=MIN_SEEDS, what=f"T={longest}")]
        for seq_len in values_of(results, "seq_len"):
            logs = log_ratio_by_seed(results, fast, classic, seq_len, "train", "step_time_s", per_token=False)
            speedups = [fmt(math.exp(-v)) for v in logs.values() if v is not None]
            rows.append([f"{classic} / {fast}", str(seq_len), ", ".join(speedups) or "n/a"])
    verdict = on_this_machine(unless_unequal(by_group(groups), equal_terms(results)), results, data.env)
    return ClaimOutcome(
        verdict=verdict, figure=_speed_figure(data, results),
        setup=[setup_line(results), params_line(results),
               "timings: the median train-step time per case (the same batch and length on both sides, so the ratio"
               " is that of time per token); per seed the log ratio of medians, a t"
               " interval across seeds. Feng et al.'s 175x is a GPU figure at T=512 against a sequential"
               " CUDA loop; this is this machine's."],
        table=(["speed-up (classic time / parallel-scan time)", "T", "per seed"], rows),
        caveats=["minGRU and minLSTM are different recurrences from the GRU and LSTM (no hidden-to-hidden weights):"
                 " the speed-up is that of the whole model, not of one model run two ways (the sequential form of"
                 " the same model is --model-opt mingru.scan=sequential; benchmarks/train_step_scaling.py)."],
    )


def _speed_figure(data: StudyData, results):
    try:
        figure, (ax,) = new_figure()
    except ImportError:
        return None
    for arch in archs(results):
        line_by_seed(ax, results, arch, "seq_len", "train", "step_time_s")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("train-step time (s)")
    ax.grid(True, which="both", alpha=0.3)
    legend(ax, 8)
    caption = ("Median wall-clock time of one training step (forward, backward, Adam) against the sequence length,"
               " median over seeds with min-max bars; equal parameter counts. " + machine_line(data.env) + ".")
    return finish(figure, "Training time against length", caption, data.folder / "modern1_speed.png")


# -- claim 2 -----------------------------------------------------------------------------------

def analyze_recall(data: StudyData) -> ClaimOutcome:
    results = data.sweep("recall").results
    acc = {arch: by_seed(results, arch, "train", "eval_accuracy") for arch in archs(results)}
    attention, selective = acc.get(ATTENTION, {}), acc.get(SELECTIVE, {})
    gap = {seed: (attention[seed] - selective[seed]
                  if attention.get(seed) is not None and selective.get(seed) is not None else None)
           for seed in sorted(set(attention) | set(selective))}
    part = unless_lr_interior(compare(f"{SELECTIVE} accuracy", selective, f"{NON_SELECTIVE} accuracy",
                                      acc.get(NON_SELECTIVE, {}), above=True, min_seeds=MIN_SEEDS,
                                      what="selection helps"), results, (SELECTIVE, NON_SELECTIVE))
    chance = next((c for c in (metric(r, "train", "baseline_accuracy") for r in select(results)) if c is not None),
                  None)

    def learned(per_seed) -> bool:
        return chance is None or bool(per_seed) and all(v is not None and v > chance + LEARNED_MARGIN
                                                         for v in per_seed.values())
    budget = _budget(results)
    if not learned(attention):
        verdict = Verdict(INCONCLUSIVE, f"the Transformer does not clear chance ({fmt(chance)}) by"
                          f" {LEARNED_MARGIN:g} in every seed: the task was not learned in this budget ({budget})",
                          (part.reason,))
    elif not learned(selective) and part.status != "supported":
        verdict = Verdict(INCONCLUSIVE, f"inconclusive: below the budget where Mamba learns: it does not clear chance"
                          f" ({fmt(chance)}) by {LEARNED_MARGIN:g} in every seed after {budget}, so its failure is"
                          " the budget's, not the architecture's", (part.reason,))
    else:
        verdict = unless_unequal(all_of([part]), equal_terms(results))
    rows = [[arch, ", ".join(fmt(v) for v in acc[arch].values()),
             _state(select(results, arch))] for arch in archs(results)]
    gap_line = ("the gap to attention, reported and not decided (transformer − mamba accuracy per seed): "
                + ", ".join(fmt(v) for v in gap.values()))
    return ClaimOutcome(
        verdict=scoped(verdict, results), figure=_accuracy_figure(data, results, "recall", "modern2_recall.png"),
        setup=[setup_line(results), params_line(results), gap_line],
        table=(["model", "held-out accuracy (per seed)", "decode state bytes"], rows),
        caveats=["One width and one budget; Zoology finds the gap depends on both. The Transformer's state is its KV"
                 " cache at the task's length, which grows with the context."],
    )


def _budget(results) -> str:
    """Steps × batch = sequences of one training, as run."""
    steps = sorted({r.config.steps for r in results})
    batch = sorted({r.config.batch_size for r in results})
    if len(steps) == 1 and len(batch) == 1:
        return f"{steps[0]} steps × batch {batch[0]} = {steps[0] * batch[0]:,} sequences per training"
    return f"steps {', '.join(map(str, steps))} at batch {', '.join(map(str, batch))}"


def _state(cases) -> str:
    state = [metric(r, "decode", "state_bytes") for r in cases]
    return f"{int(state[0]):,}" if state and state[0] is not None else "n/a"


def _accuracy_figure(data: StudyData, results, title: str, name: str, x_field: str = "hidden"):
    try:
        figure, (ax,) = new_figure()
    except ImportError:
        return None
    for arch in archs(results):
        xs, ys = state_accuracy_points(results, arch)
        ax.scatter(xs, ys, s=36, label=arch)
    ax.set_xscale("log")
    ax.set_xlabel("decode state (bytes of the tensors step() returns)")
    ax.set_ylabel("held-out recall accuracy")
    ax.grid(True, which="both", alpha=0.3)
    legend(ax, 8)
    caption = ("Multi-query associative recall: held-out accuracy after training, one point per case (seed, width),"
               " against the bytes of state carried from token to token. " + machine_line(data.env) + ".")
    return finish(figure, f"Associative recall ({title})", caption, data.folder / name)


# -- claim 3 -----------------------------------------------------------------------------------

def analyze_state(data: StudyData) -> ClaimOutcome:
    results = data.sweep("recall-widths").results
    widths = values_of(results, "hidden")
    groups: dict[str, list[Verdict]] = {}
    rows = []
    for arch in archs(results):
        narrow = by_seed(results, arch, "train", "eval_accuracy", hidden=widths[0])
        wide = by_seed(results, arch, "train", "eval_accuracy", hidden=widths[-1])
        gain = {s: (wide[s] - narrow[s] if wide.get(s) is not None and narrow.get(s) is not None else None)
                for s in sorted(set(narrow) | set(wide))}
        small, large = _state(select(results, arch, hidden=widths[0])), _state(select(results, arch, hidden=widths[-1]))
        parts = [unless_lr_interior(threshold(f"{arch} accuracy at width {widths[-1]} − at width {widths[0]}", gain,
                                              0.0, above=True, min_seeds=MIN_SEEDS,
                                              what=f"state {small} -> {large} bytes"), results, (arch,))]
        if small == large:
            parts.append(Verdict(INCONCLUSIVE, f"{arch}'s decode state does not grow with the width ({small} bytes)"))
        chance = next((c for c in (metric(r, "train", "baseline_accuracy") for r in select(results, arch))
                       if c is not None), None)
        if chance is not None and not (wide and all(v is not None and v > chance + LEARNED_MARGIN
                                                    for v in wide.values())) and parts[0].status != "supported":
            # the "learned anything" guard: a model at chance even when widest says nothing about its state
            parts = [Verdict(INCONCLUSIVE, f"inconclusive: below the budget where {arch} learns: it does not clear"
                             f" chance ({fmt(chance)}) by {LEARNED_MARGIN:g} in every seed at width {widths[-1]}"
                             f" after {_budget(results)}", (parts[0].reason,))]
        groups[arch] = parts
        for hidden in widths:
            cases = sorted(select(results, arch, hidden=hidden), key=lambda r: r.config.seed)
            rows.append([f"{arch} width {hidden}", ", ".join(fmt(metric(r, "train", "eval_accuracy")) for r in cases),
                         _state(cases)])
    verdict = scoped(by_group(groups), results) if groups else Verdict(INCONCLUSIVE, "no model in the width sweep")
    return ClaimOutcome(
        verdict=verdict, figure=_accuracy_figure(data, results, "the recall–state frontier", "modern3_state.png"),
        setup=[setup_line(results), f"widths {', '.join(map(str, widths))} (not matched: the state is the variable)"],
        table=(["model and width", "held-out accuracy (per seed)", "decode state bytes"], rows),
        caveats=["More width is more parameters as well as more state: the sweep cannot separate the two; Zoology's"
                 " frontier is drawn across architectures at many widths (benchmarks/recall_state_frontier.py)."],
    )


# -- the claims and their sweeps ---------------------------------------------------------------

CLAIMS = (
    Claim(key="parallel-training", number="1", title="minGRU/minLSTM train much faster than GRU/LSTM at long T",
          quote=_quote(("are fully parallelizable during training (175x faster for a sequence of length 512)",
                        "Feng et al. 2024, arXiv 2410.01201v1, abstract; later versions drop the figure")),
          experiment="Train-step time against T for gru, lstm, mingru and minlstm at equal parameter counts.",
          criterion=CRITERION_SPEED, sweeps=("speed",), analyze=analyze_speed),
    Claim(key="selective-recall", number="2",
          title="A selective recurrence recalls better than a non-selective one (Mamba beats the LSTM)",
          quote=_quote(("a key weakness of such models is their inability to perform content-based reasoning",
                        "Gu & Dao 2023, arXiv 2312.00752, abstract"),
                       ("letting the SSM parameters be functions of the input addresses their weakness with discrete"
                        " modalities", "Gu & Dao 2023, arXiv 2312.00752, abstract"),
                       ("maintain a fixed-size recurrent state, but struggle at recall",
                        "Arora et al. 2024, arXiv 2402.18668v1, abstract")),
          experiment="Multi-query associative recall at equal parameter counts: transformer, mamba, lstm.",
          criterion=CRITERION_RECALL, sweeps=("recall",), analyze=analyze_recall),
    Claim(key="recall-state-bound", number="3", title="Recall is bounded by the state a recurrence carries",
          quote=_quote(("a key tradeoff between a model's state size and recall ability",
                        "Arora et al. 2024, arXiv 2402.18668v1, abstract")),
          experiment="Associative recall of mingru, mamba and deltanet at a narrow and a wide width: accuracy"
                     " against decode state bytes.",
          criterion=CRITERION_STATE, sweeps=("recall-widths",), analyze=analyze_state),
)


@dataclass(frozen=True)
class Sizes:
    seeds: str
    hidden: int
    lengths: str
    speed_batch: int
    speed_steps: int
    recall_hidden: int
    recall_steps: int
    widths: str
    threads: int | None = None
    #: --lr-grid of the training sweeps: to the cap (studies._support.LR_CAP), three rates so that a choice can be
    #: interior; Zoology sweeps {1e-3, 3.2e-3, 1e-2, 3.2e-2} for the same task
    lr_grid: str = "2e-3,8e-3,3e-2"


#: quick: sized for a 2-core CPU in under 20 minutes before issue 36 gave the recall sweeps a three-rate lr grid
#: (three times their training; not yet timed); full: a GPU or a cluster
QUICK = Sizes(seeds="0,1,2", hidden=32, lengths="64,512", speed_batch=8, speed_steps=12, recall_hidden=64,
              recall_steps=300, widths="16,64")
FULL = Sizes(seeds="0,1,2,3,4", hidden=128, lengths="64,256,1024", speed_batch=16, speed_steps=40,
             recall_hidden=128, recall_steps=1000, widths="32,256", lr_grid="1e-3,3e-3,1e-2,3e-2")


def sweeps(s: Sizes) -> tuple[StudySweep, ...]:
    threads = {"threads": s.threads} if s.threads else {}
    return (
        StudySweep("speed", {
            "models": "gru,lstm,mingru,minlstm", "tasks": "copy", "seq_len": s.lengths,
            "task_opt": ["copy.num_symbols=5"], "batch_size": s.speed_batch, "steps": s.speed_steps,
            "seeds": s.seeds, "scenarios": "train", "hidden": s.hidden, "match_params": True, **threads},
            purpose="train-step time against length, parallel-scan models beside their classic cells (claim 1)"),
        StudySweep("recall", {
            "models": "transformer,mamba,lstm", "tasks": "associative_recall", "steps": s.recall_steps,
            "hidden": s.recall_hidden, "seeds": s.seeds, "scenarios": "train,decode", "match_params": True,
            "lr_grid": s.lr_grid, **threads},
            side_by_side=True,
            purpose="associative recall at equal parameters, attention against a selective recurrence (claim 2)"),
        StudySweep("recall-widths", {
            "models": "mingru,mamba,deltanet", "tasks": "associative_recall", "hidden": s.widths,
            "steps": s.recall_steps, "seeds": s.seeds, "scenarios": "train,decode", "lr_grid": s.lr_grid, **threads},
            side_by_side=True,
            purpose="associative recall of the linear recurrences at two widths, against state bytes (claim 3)"),
    )


PROFILES = {"quick": sweeps(QUICK), "full": sweeps(FULL)}
