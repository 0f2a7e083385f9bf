"""A :class:`~rnnbench.analysis.compare.comparison.Comparison` as text: the terminal table, Markdown
(for a pull-request comment) and JSON (for machines).

Every cell is written here, from the numbers the rules produced: timings as
median ±IQR/2 (n) from :class:`rnnbench.stats.Summary`, as every other table prints them.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from rnnbench.analysis.aa_history import HISTORY_LEVEL
from rnnbench.analysis.conditions import busy_cases
from rnnbench.analysis.compare.comparison import Comparison, Row, Side
from rnnbench.analysis.compare.timing import MIN_ROUNDS
from rnnbench.analysis.sources import LoadedRun
from rnnbench.render.fit import Column, fit, print_fitted, table_width, target_width
from rnnbench.records import run_threads
from rnnbench.render.markdown import markdown_table
from rnnbench.render.terminal import plain_console
from rnnbench.stats import fmt_bytes, fmt_count, fmt_time

COMPARE_FORMAT = "rnnbench-compare"
COMPARE_VERSION = 1

HEADER = ["case", "metric", "BASE", "NEW", "NEW/BASE [CI] or Δ", "p", "verdict"]
_STYLE = {"slower": "bold red", "bigger": "bold red", "worse": "bold red", "failed": "bold red",
          "faster": "green", "smaller": "green", "better": "green", "fixed": "green", "noisy": "yellow"}


def side_text(kind: str, side: Side) -> str:
    """One side's figure: median ±IQR/2 (n) for a timing, mean ±sd over seeds for an accuracy."""
    if kind == "status":
        return side.status or "-"
    if kind == "time":
        if side.summary is None:
            return f"{fmt_time(side.value)} (n=0)"
        return side.summary.format(fmt_time)
    if kind == "memory":
        return fmt_bytes(side.value)
    if kind in ("params", "budget"):
        return fmt_count(side.value)
    if side.seeds == 1 or side.seed_sd is None:
        return f"{side.value:.4g}"
    return f"{side.value:.4g} ±{side.seed_sd:.2g} ({side.seeds} seeds)"


def change_text(row: Row) -> str:
    if row.kind in ("accuracy", "gradient"):
        return f"Δ {row.delta:+.4g} (tol {row.tolerance:.2g})"
    if row.ratio is None:
        return "-"
    return f"{row.ratio:.3f}" + (f" [{row.ci[0]:.3f}, {row.ci[1]:.3f}]" if row.ci else "")


def cells(row: Row) -> list[str]:
    p = "-" if row.p_value is None else f"{row.p_value:.2g}"
    verdict = row.verdict + (f" ({row.note})" if row.note else "")
    return [row.case, f"{row.scenario} {row.metric}", side_text(row.kind, row.base_side),
            side_text(row.kind, row.new_side), change_text(row), p, verdict]


def summary_line(c: Comparison) -> str:
    n = len(c.regressions)
    counts = ", ".join(f"{c.count(v)} {v}" for v in ("slower", "faster", "noisy", "same", "bigger", "smaller",
                                                     "worse", "better", "failed") if c.count(v))
    head = f"{n} regression(s)" if n else "no regression"
    busy = f"; {c.busy} undecided because the machine was busy" if c.busy else ""
    return f"{head} in {len(c.rows)} comparison(s): {counts}{busy}"


def legend(c: Comparison) -> list[str]:
    s = c.settings
    rules = {r.rule for r in c.rows if r.kind == "time"}
    lines = []
    if "strict" in rules:
        lines.append(
            f"Timings (--strict): NEW/BASE is the ratio of medians of the raw samples; [..] its {s.confidence:.0%}"
            f" percentile bootstrap interval ({s.resamples} resamples, seed {s.seed}); p: two-sided Mann-Whitney U"
            f" on the samples. slower/faster: ratio beyond ±{s.threshold:.0%} and p < {s.alpha:g}; same: the"
            f" interval lies within ±{s.threshold:.0%}; noisy: neither (docs/ci.md).")
    if any(r.startswith("rounds") for r in rules):
        lines.append(
            f"Timings, several runs a side (rounds): NEW/BASE is the ratio of medians of the pooled samples; [..]"
            f" its {s.confidence:.0%} two-level bootstrap interval (runs resampled, then samples within them;"
            f" {s.resamples} resamples, seed {s.seed}; Kalibera & Jones 2012). slower/faster: ratio beyond"
            f" ±{s.threshold:.0%} and the interval excludes 1; same: the interval lies within ±{s.threshold:.0%};"
            " noisy: neither (docs/ci.md).")
    if any(r == "one run a side" or r.startswith("fewer than") for r in rules):
        lines.append(
            f"Timings, one run a side (or fewer than {MIN_ROUNDS} on a side): ratio of medians, [..] its {s.confidence:.0%}"
            " percentile bootstrap interval,"
            f" p: two-sided Mann-Whitney U on the samples. slower/faster: ratio beyond ±{s.threshold:.0%},"
            f" p < {s.alpha:g}, and the change beyond the runs' own drift (medians of consecutive blocks of each"
            " run's samples, and the disagreement between a side's runs) and beyond this machine's A/A band"
            f" ({HISTORY_LEVEL:.0%} prediction band from the stored runs of unchanged code of the case; none: noisy);"
            " same: the interval lies within the band; noisy: neither (docs/ci.md).")
    if c.busy:
        lines.append("noisy (the machine was busy): rnnbench's load meter found that other processes left the case"
                     " fewer free CPUs than its threads on a side (/proc/stat); such a time decides nothing"
                     " (--strict to judge it anyway).")
    lines += [
        f"Memory and parameter counts are deterministic: bigger/smaller beyond ±{s.threshold:.0%}.",
        "Quality: the task's primary metric on held-out data, mean over the seeds both runs have, compared in"
        " its direction (each row says which and by what tolerance): worse/better when the difference exceeds"
        f" the spread over seeds (sd), or with one seed --acc-tolerance={s.acc_tolerance:g} (absolute) for a"
        f" bounded metric such as accuracy, --metric-tolerance={s.metric_tolerance:.0%} of BASE for an unbounded"
        " one such as MSE, loss or bits per char.",
        "BASE/NEW timings: median ±IQR/2 (n = samples).",
    ]
    return lines + ([f"Steps reached in a --time-budget (never a regression: one count per case, it follows the"
                     f" machine's load): more/fewer steps beyond ±{s.threshold:.0%}."]
                    if any(r.kind == "budget" for r in c.rows) else []) \
        + (["Gradient decay per step (the gradients scenario; never a regression): steeper/flatter when the change"
            " exceeds 2 x the two fits' combined standard error."] if any(r.kind == "gradient" for r in c.rows)
           else [])


def _env_lines(c: Comparison) -> list[str]:
    return [f"{key}: {b} -> {n}" for key, (b, n) in c.env_differences.items()]


def _calibration_cause(c: Comparison) -> str:
    """What moves a calibration: the load where either run was flagged busy, else the machine itself."""
    busy = [side for side, run in (("BASE", c.base), ("NEW", c.new))
            if busy_cases(run.results) or (run.run.env.get("threading") or {}).get("busy")]
    if busy:
        return (f"the machine was busy during {' and '.join(busy)} (other processes' load, flagged by rnnbench),"
                " which slows a calibration as it slows the cases")
    return "different or throttled machines"


def calibration_lines(c: Comparison) -> list[str]:
    """The calibration ratio, a warning when the machines differ, and whether timings were normalised."""
    if c.calibration is None:
        return []
    lines = [c.calibration.describe()]
    if c.calibration.differs:
        lines.append(f"warning: the calibration differs by {abs(c.calibration.ratio() - 1):.0%} (more than 10%):"
                     f" {_calibration_cause(c)}; "
                     + ("timings below are normalised by it" if c.normalised else
                        "timings are not comparable as they stand (--normalise divides them by it)"))
    elif c.normalised:
        lines.append("timings below are normalised by each run's calibration (seconds at BASE's speed)")
    return lines


def _columns(whole_figures: bool) -> list[Column]:
    """The terminal table's columns. ``whole_figures``: BASE and NEW never wrap (the CI, then the p value,
    are left out first); else they wrap after their spread ("70.8 ms ±13.9 ms" / "(n=397)") and the CI
    and the p value make room for them."""
    if whole_figures:
        figure = {"justify": "right"}
        extra = [Column("NEW/BASE [CI] or Δ", "NEW/BASE", priority=2, wrap=True, wrap_at=22, justify="right"),
                 Column("p", priority=3, justify="right")]
    else:
        figure = {"wrap": True, "room_first": True, "wrap_at": 17, "justify": "right"}
        extra = []
    return [Column("case", priority=0, wrap=True, wrap_at=30), Column("metric", priority=0, wrap=True, wrap_at=16),
            Column("BASE", priority=0, **figure), Column("NEW", priority=0, **figure), *extra,
            Column("verdict", priority=0, wrap=True, wrap_at=40, styles=_STYLE)]


def print_rows(console: Any, rows: list[list[str]], title: str) -> None:
    """The comparison's rows (``cells`` of each) as a table fitted to the console."""
    width = target_width(console)
    hint = "rnnbench compare --format markdown prints every column"
    if width is None or table_width(fit(_columns(whole_figures=True), rows, width)) <= width:
        print_fitted(console, _columns(whole_figures=True), rows, title=title, hint=hint)
        return
    print_fitted(console, _columns(whole_figures=False), [row[:4] + row[6:] for row in rows], title=title, hint=hint)
    console.print(f"[dim]Not shown at {width} columns: {HEADER[4]}, {HEADER[5]} ({hint}).[/dim]", highlight=False)


def render_table(c: Comparison, console: Any) -> None:
    console = plain_console(console)
    console.print(f"BASE: {c.base.describe()} from {c.base.origin}\nNEW:  {c.new.describe()} from {c.new.origin}")
    for line in _env_lines(c):
        console.print(f"[dim]environment differs: {line}[/dim]")
    for line in calibration_lines(c):
        console.print(f"[yellow]{line}[/yellow]" if line.startswith("warning") else f"[dim]{line}[/dim]")
    # fitted as the run's table is: labels and verdicts wrap between words only, figures stay whole
    # while the CI and then the p value can be left out; only where even that does not fit does a
    # figure wrap between its words ("70.8 ms ±13.9 ms" / "(n=39)")
    print_rows(console, [cells(row) for row in c.rows], f"rnnbench compare: {summary_line(c)}")
    for title, labels in (("only in BASE", c.only_in_base), ("only in NEW", c.only_in_new)):
        if labels:
            console.print(f"{title} ({len(labels)}): " + "; ".join(labels))
    for line in legend(c):
        console.print(f"[dim]{line}[/dim]")


def render_markdown(c: Comparison) -> str:
    regressions = c.regressions
    parts = [f"### rnnbench compare: {'**' + str(len(regressions)) + ' regression(s)**' if regressions else 'no regression'}",
             "",
             f"BASE: {c.base.describe()}; NEW: {c.new.describe()}. {summary_line(c)}.",
             ""]
    if c.env_differences:
        parts += ["Environment differences: " + "; ".join(f"`{line}`" for line in _env_lines(c)), ""]
    parts += [line + "." for line in calibration_lines(c)] + ([""] if calibration_lines(c) else [])
    if regressions:
        parts += ["Regressions:", "", markdown_table(HEADER, [cells(r) for r in regressions]), ""]
    parts += ["<details><summary>All comparisons</summary>", "", markdown_table(HEADER, [cells(r) for r in c.rows]),
              "", "</details>", ""]
    for title, labels in (("Only in BASE", c.only_in_base), ("Only in NEW", c.only_in_new)):
        if labels:
            parts += [f"{title} ({len(labels)}): " + "; ".join(labels), ""]
    parts += [f"- {line}" for line in legend(c)]
    return "\n".join(parts) + "\n"


def _row_document(r: Row) -> dict[str, Any]:
    """A row as format version 1 has it: the figures, their text, the change, the verdict."""
    return {
        "kind": r.kind, "case": r.case, "case_ids": r.case_ids, "scenario": r.scenario, "metric": r.metric,
        "base": r.base, "new": r.new, "base_text": side_text(r.kind, r.base_side),
        "new_text": side_text(r.kind, r.new_side), "change_text": change_text(r), "verdict": r.verdict,
        "ratio": r.ratio, "ci": r.ci, "p_value": r.p_value, "delta": r.delta, "tolerance": r.tolerance,
        "note": r.note, "rule": r.rule, "busy": r.busy, "regression": r.regression,
    }


def render_json(c: Comparison) -> str:
    def side(run: LoadedRun) -> dict[str, Any]:
        return {"run_id": run.run.run_id, "git_commit": run.commit, "origin": run.origin,
                "threads": run_threads(run.run.env).text(), "cpu": run.run.env.get("cpu")}

    doc = {
        "format": COMPARE_FORMAT, "format_version": COMPARE_VERSION,
        "base": side(c.base), "new": side(c.new), "settings": asdict(c.settings),
        "regressions": len(c.regressions), "summary": summary_line(c), "rows": [_row_document(r) for r in c.rows],
        "only_in_base": c.only_in_base, "only_in_new": c.only_in_new,
        "environment_differences": {k: list(v) for k, v in c.env_differences.items()},
        "calibration": None if c.calibration is None else {
            "base": c.calibration.base, "new": c.calibration.new, "ratio": c.calibration.ratio(),
            "differs": c.calibration.differs, "normalised": c.normalised, "text": calibration_lines(c)},
    }
    return json.dumps(doc, indent=2, default=str) + "\n"
