"""Claim 4: recurrent training is slow because it is sequential.

Train-step and forward time per token against the sequence length, for the LSTM, the GRU,
the Transformer and minGRU (trained by a parallel scan: the control for "because
sequential") at equal parameter counts, on the machine at hand with all its cores. The
verdict reads per-seed log ratios of median times (a t interval across seeds); the
achieved GFLOP/s (analytic FLOPs / time) separates "slow" from "does more arithmetic".
The table keeps the pooled ratios of medians with percentile-bootstrap 95% intervals
(rnnbench.stats.estimate_ratio).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from rnnbench.analysis.verdicts import MIN_SEEDS, RULE, by_group, equal_terms, fmt, threshold, unless_unequal
from rnnbench.stats import estimate_ratio
from rnnbench.study_api import INCONCLUSIVE, ClaimOutcome, StudyData, Verdict

from rnnbench.studies._support import (
    scope_of,
    archs, legend, finish, machine_line, median, metric, new_figure, params_line, samples, select, setup_line,
    values_of,
)

RECURRENT = ("lstm", "gru")
ATTENTION = "transformer"
#: (metric, words) of the timings compared; the verdict reads the first
TIMINGS = (("train", "step_time_s", "train-step time per token"), ("forward", "latency_s", "forward time per token"))

PARALLEL_SCAN = "mingru"
SEQUENTIAL_TWIN = "gru"
#: the sweep of the same-model control: minGRU with --model-opt mingru.scan=sequential (issue 36)
SEQUENTIAL_SWEEP = "speed-sequential-scan"

CRITERION = (
    "Three groups of parts, each per sequence length measured, on the machine at hand (all its cores; a CUDA"
    " device when the study runs with --device cuda), every ratio taken per seed as the log of a ratio of median"
    " times: (1) slow: the Transformer's train-step time per token is below the LSTM's and the GRU's (log"
    " ratio transformer/recurrent < 0); (2) at matched FLOPs: the recurrent models do less arithmetic per second"
    " than the Transformer (log of the GFLOP/s ratio transformer/recurrent > 0), so their slowness is not the"
    " Transformer's extra arithmetic; (3) because sequential: the same model, minGRU, run both ways, is faster per"
    " token trained by its parallel scan than by its sequential loop (--model-opt mingru.scan=sequential, sweep"
    f" {SEQUENTIAL_SWEEP}; log ratio parallel/sequential < 0)."
    " A verdict per group, then combined; a verdict from a CPU-only machine is stated as 'on this CPU'. " + RULE
)


@dataclass
class RatioAt:
    seq_len: int
    ratio: float
    low: float | None
    high: float | None

    @property
    def side(self) -> str:
        """"below" or "above" 1 when the interval excludes 1, else "straddles"."""
        if self.high is not None and self.high < 1:
            return "below"
        if self.low is not None and self.low > 1:
            return "above"
        return "straddles"

    def __str__(self) -> str:
        ci = f" [{fmt(self.low)}, {fmt(self.high)}]" if self.low is not None else " (no interval: < 2 repeats)"
        return f"T={self.seq_len}: {fmt(self.ratio)}×{ci}"


def per_token_samples(result, scenario: str, name: str) -> list[float]:
    tokens = result.config.batch_size * (result.model_facts.total_seq_len or result.config.seq_len)
    return [s / tokens for s in samples(result, scenario, name)]


def ratios(results, recurrent: str, scenario: str, name: str) -> list[RatioAt] | None:
    """Transformer / recurrent ratio of median time per token at each length; None if a timing is missing."""
    out = []
    for seq_len in values_of(results, "seq_len"):
        att = select(results, ATTENTION, seq_len=seq_len)
        rec = select(results, recurrent, seq_len=seq_len)
        if not att or not rec:
            return None
        new = [s for r in att for s in per_token_samples(r, scenario, name)]
        base = [s for r in rec for s in per_token_samples(r, scenario, name)]
        if not new or not base:
            return None
        est = estimate_ratio(base, new)
        out.append(RatioAt(seq_len, est.ratio, est.ci_low, est.ci_high))
    return out


def crossover(points: list[RatioAt]) -> str:
    """Where the decided side changes, in words."""
    decided = [p for p in points if p.side != "straddles"]
    for a, b in zip(decided, decided[1:]):
        if a.side != b.side:
            who = "the Transformer becomes slower" if b.side == "above" else "the Transformer becomes faster"
            return f"{who} between T={a.seq_len} and T={b.seq_len}"
    if decided and all(p.side == decided[0].side for p in decided):
        faster = "faster" if decided[0].side == "below" else "slower"
        return f"no crossover in range: the Transformer is {faster} at every length where the interval excludes 1"
    return "no length where the interval excludes 1"


def median_of(result, scenario: str, name: str) -> float | None:
    times = per_token_samples(result, scenario, name)
    return median(times) if times else None


def log_ratio_by_seed(results, new: str, base: str, seq_len: int, scenario: str, name: str,
                      per_token: bool = True) -> dict[int, float | None]:
    """Per seed: log(median of ``new`` / median of ``base``) at one length (None where a timing is missing)."""
    out: dict[int, float | None] = {}
    seeds = sorted({r.config.seed for r in results if r.config.seq_len == seq_len and r.config.arch in (new, base)})
    for seed in seeds:
        a = select(results, new, seq_len=seq_len, seed=seed)
        b = select(results, base, seq_len=seq_len, seed=seed)
        va = (median_of(a[0], scenario, name) if per_token else metric(a[0], scenario, name)) if a else None
        vb = (median_of(b[0], scenario, name) if per_token else metric(b[0], scenario, name)) if b else None
        out[seed] = math.log(va / vb) if va and vb and va > 0 and vb > 0 else None
    return out


def scan_log_ratio_by_seed(parallel, sequential, seq_len: int) -> dict[int, float | None]:
    """Per seed: log(median train-step time per token of minGRU's parallel scan / of its sequential loop)."""
    out: dict[int, float | None] = {}
    seeds = sorted({r.config.seed for r in (*parallel, *sequential)
                    if r.config.seq_len == seq_len and r.config.arch == PARALLEL_SCAN})
    for seed in seeds:
        a = select(parallel, PARALLEL_SCAN, seq_len=seq_len, seed=seed)
        b = select(sequential, PARALLEL_SCAN, seq_len=seq_len, seed=seed)
        va = median_of(a[0], "train", "step_time_s") if a else None
        vb = median_of(b[0], "train", "step_time_s") if b else None
        out[seed] = math.log(va / vb) if va and vb and va > 0 and vb > 0 else None
    return out


def groups_of_parts(results, sequential=None) -> dict[str, list[Verdict]]:
    """The three groups; ``sequential``: the results of the same-model control sweep (None when it did not run)."""
    lengths = values_of(results, "seq_len")
    groups: dict[str, list[Verdict]] = {"slow": [], "at matched FLOPs": [], "because sequential": []}
    present = set(archs(results))
    for seq_len in lengths:
        for rec in RECURRENT:
            groups["slow"].append(threshold(
                f"log(transformer/{rec} train-step time per token)",
                log_ratio_by_seed(results, ATTENTION, rec, seq_len, "train", "step_time_s"), 0.0, above=False,
                min_seeds=MIN_SEEDS, what=f"T={seq_len}"))
            groups["at matched FLOPs"].append(threshold(
                f"log(transformer/{rec} train GFLOP/s)",
                log_ratio_by_seed(results, ATTENTION, rec, seq_len, "train", "gflops", per_token=False), 0.0,
                above=True, min_seeds=MIN_SEEDS, what=f"T={seq_len}"))
        if PARALLEL_SCAN in present and sequential:
            groups["because sequential"].append(threshold(
                f"log({PARALLEL_SCAN} parallel scan / sequential loop train-step time per token)",
                scan_log_ratio_by_seed(results, sequential, seq_len), 0.0, above=False, min_seeds=MIN_SEEDS,
                what=f"T={seq_len}"))
    if PARALLEL_SCAN not in present or not sequential:
        groups["because sequential"].append(Verdict(
            INCONCLUSIVE, f"{PARALLEL_SCAN} run both ways (the same-model control: its parallel scan in the speed"
            f" sweep, its sequential loop in {SEQUENTIAL_SWEEP}) is not in the study's runs"))
    return groups


def on_this_machine(verdict: Verdict, results, env: dict) -> Verdict:
    """A verdict from CPU cases says so: 'on this CPU', never a bare 'not supported'."""
    devices = {r.config.device for r in results}
    scope = scope_of(results, timed=True)
    if devices and devices <= {"cpu"}:
        where = f"on this CPU ({env.get('cpu') or 'unknown CPU'}, {env.get('cpu_count')} logical CPUs)"
        return replace(verdict, reason=f"{verdict.status} {where}: {verdict.reason}", scope=scope)
    return replace(verdict, scope=scope or f"on {', '.join(sorted(devices))}")


def analyze(data: StudyData) -> ClaimOutcome:
    results = data.sweep("speed").results
    rows = []
    for recurrent in (*RECURRENT, *([PARALLEL_SCAN] if PARALLEL_SCAN in archs(results) else [])):
        for scenario, name, words in TIMINGS:
            points = ratios(results, recurrent, scenario, name)
            rows.append([f"transformer / {recurrent}", words,
                         "; ".join(str(p) for p in points) if points else "n/a",
                         crossover(points) if points else "n/a"])
    sequential = data.sweeps[SEQUENTIAL_SWEEP].results if SEQUENTIAL_SWEEP in data.sweeps else None
    rows += _scan_rows(results, sequential or [])
    verdict = on_this_machine(unless_unequal(by_group(groups_of_parts(results, sequential)), equal_terms(results)),
                              results, data.env)
    return ClaimOutcome(
        verdict=verdict, figure=_figure(data, results),
        setup=[setup_line(results), params_line(results),
               "timings: median of the timed repeats (train: every training step after 3 warm-up steps; forward:"
               " blocked repeats after warm-up); the verdict's intervals are across seeds of per-seed log ratios;"
               " the table's ratio intervals: percentile bootstrap of the ratio of medians over the pooled"
               " repeats, 2000 resamples. GFLOP/s: rnnbench's analytic FLOPs of a training step / its median time."],
        table=(["ratio", "timing", "per length: ratio of medians [95% CI]", "crossover"], rows),
        caveats=["On a CPU with few cores a Transformer cannot use the parallelism across positions that makes it"
                 " fast on a GPU: a verdict 'on this CPU' is about this machine, not about GPUs; run the study with"
                 " --device cuda on a GPU for that.",
                 "Timings on a shared machine carry its load (see the load average above); the intervals cover"
                 " the spread of the repeats and seeds, not a change of load between cases.",
                 "Control (3) is one model, minGRU, run both ways at the same width and seeds; how much faster its"
                 " scan is says what the sequential loop costs a recurrence without hidden-to-hidden weights, which"
                 " the LSTM and GRU have and cannot scan in parallel."],
    )


def _scan_rows(parallel, sequential) -> list[list[str]]:
    """The same-model control's per-length ratios of median time per token: sequential loop / parallel scan."""
    if not sequential:
        return []
    points = []
    for seq_len in values_of(parallel, "seq_len"):
        a = [s for r in select(parallel, PARALLEL_SCAN, seq_len=seq_len) for s in per_token_samples(r, "train",
                                                                                                    "step_time_s")]
        b = [s for r in select(sequential, PARALLEL_SCAN, seq_len=seq_len) for s in per_token_samples(r, "train",
                                                                                                      "step_time_s")]
        if a and b:
            est = estimate_ratio(a, b)
            points.append(str(RatioAt(seq_len, est.ratio, est.ci_low, est.ci_high)))
    return [[f"{PARALLEL_SCAN} sequential loop / parallel scan", TIMINGS[0][2], "; ".join(points) or "n/a",
             "the same model both ways"]]


def _figure(data: StudyData, results):
    try:
        figure, axes = new_figure(panels=2)
    except ImportError:
        return None
    for ax, (scenario, name, words) in zip(axes, TIMINGS):
        for arch in archs(results):
            xs, ys, lo, hi = [], [], [], []
            for seq_len in values_of(results, "seq_len"):
                vals = sorted(s for r in select(results, arch, seq_len=seq_len)
                              for s in per_token_samples(r, scenario, name))
                if not vals:
                    continue
                m = median(vals)
                q1, q3 = vals[len(vals) // 4], vals[(3 * len(vals)) // 4]
                xs.append(seq_len)
                ys.append(m * 1e6)
                lo.append(max(m - q1, 0) * 1e6)
                hi.append(max(q3 - m, 0) * 1e6)
            if xs:
                ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=arch)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
        ax.set_ylabel("µs per token")
        ax.set_title(words, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        legend(ax, 8)
    caption = ("Median wall-clock time per token (batch × length) of a real training step (forward, backward, Adam)"
               " and of an inference forward, against the sequence length; bars: interquartile range of the"
               " repeats. Equal parameter counts (--match-params). " + machine_line(data.env) + ".")
    return finish(figure, "Time per token against sequence length", caption, data.folder / "claim4_speed.png")
