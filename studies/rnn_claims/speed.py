"""Claim 4: recurrent training is slow because it is sequential.

Train-step and forward time per token against the sequence length, for the LSTM, the GRU
and the Transformer at equal parameter counts, on the machine at hand. Each timing keeps
its raw repeats, so every ratio of medians (Transformer / recurrent) comes with a
percentile-bootstrap 95% interval (rnnbench.stats.estimate_ratio).
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnbench.analysis.verdicts import all_of, equal_terms, fmt, unless_unequal
from rnnbench.stats import estimate_ratio
from rnnbench.study_api import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, ClaimOutcome, StudyData, Verdict

from rnnbench.studies._support import (
    legend, finish, machine_line, median, new_figure, params_line, samples, select, setup_line, values_of,
)

RECURRENT = ("lstm", "gru")
ATTENTION = "transformer"
#: (metric, words) of the timings compared; the verdict reads the first
TIMINGS = (("train", "step_time_s", "train-step time per token"), ("forward", "latency_s", "forward time per token"))

CRITERION = (
    "Supported when the Transformer's train-step time per token is below both the LSTM's and the GRU's — the"
    " 95% bootstrap interval of the ratio of medians (Transformer / recurrent) entirely below 1 — at more than"
    " half of the sequence lengths measured; not supported when the interval lies entirely above 1 at more than"
    " half of the lengths for the LSTM or the GRU; inconclusive otherwise (the intervals straddle 1, the two"
    " sides split evenly) or when a case failed. The crossover length, if any, is reported either way."
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
    tokens = result.config.batch_size * (result.details.get("total_seq_len") or result.config.seq_len)
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


def decide(recurrent: str, points: list[RatioAt] | None) -> Verdict:
    if points is None:
        return Verdict(INCONCLUSIVE, f"{recurrent}: a timing is missing at some length (a case failed)")
    below = sum(p.side == "below" for p in points)
    above = sum(p.side == "above" for p in points)
    detail = "; ".join(str(p) for p in points)
    head = f"transformer/{recurrent} train-step time per token"
    if below * 2 > len(points):
        return Verdict(SUPPORTED, f"{head} below 1 at {below} of {len(points)} lengths ({detail})")
    if above * 2 > len(points):
        return Verdict(NOT_SUPPORTED, f"{head} above 1 at {above} of {len(points)} lengths ({detail})")
    return Verdict(INCONCLUSIVE, f"{head}: below 1 at {below}, above at {above} of {len(points)} lengths ({detail})")


def analyze(data: StudyData) -> ClaimOutcome:
    results = data.sweep("speed").results
    parts, rows = [], []
    for recurrent in RECURRENT:
        for scenario, name, words in TIMINGS:
            points = ratios(results, recurrent, scenario, name)
            if scenario == "train":
                parts.append(decide(recurrent, points))
            rows.append([f"transformer / {recurrent}", words,
                         "; ".join(str(p) for p in points) if points else "n/a",
                         crossover(points) if points else "n/a"])
    return ClaimOutcome(
        verdict=unless_unequal(all_of(parts), equal_terms(results)), figure=_figure(data, results),
        setup=[setup_line(results), params_line(results),
               "timings: median of the timed repeats (train: every training step after 3 warm-up steps; forward:"
               " blocked repeats after warm-up); ratio intervals: percentile bootstrap of the ratio of medians,"
               " 2000 resamples."],
        table=(["ratio", "timing", "per length: ratio of medians [95% CI]", "crossover"], rows),
        caveats=["On a CPU with few cores a Transformer cannot use the parallelism across positions that makes it"
                 " fast on a GPU: this verdict is about this machine, not about GPUs.",
                 "Timings on a shared machine carry its load (see the load average above); the intervals cover"
                 " the spread of the repeats, not a change of load between cases.",
                 "One seed: the spread here is that of timing repeats, not of seeds."],
    )


def _figure(data: StudyData, results):
    try:
        figure, axes = new_figure(panels=2)
    except ImportError:
        return None
    for ax, (scenario, name, words) in zip(axes, TIMINGS):
        for arch in (*RECURRENT, ATTENTION):
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
