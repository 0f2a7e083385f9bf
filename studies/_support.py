"""Helpers the built-in studies share: reading values per model and seed, and drawing a figure.

Kept small on purpose: a study's analysis should read like its criterion, so the
lookups it repeats live here and the decisions stay in the claim's own function.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Sequence

from rnnbench.study_api import INCONCLUSIVE, SUPPORTED, StudyFigure, Verdict, machine_line  # noqa: F401 (machine_line: re-exported to the claims)

Results = Sequence[Any]  # CaseResult objects; typed loosely so fabricated ones work in tests


def metric(result: Any, scenario: str, name: str) -> float | None:
    """The value of a metric of a case, or None when it was not measured or is not finite."""
    for m in result.metrics:
        if m.scenario == scenario and m.name == name:
            if m.value is None or not math.isfinite(float(m.value)):
                return None
            return float(m.value)
    return None


def samples(result: Any, scenario: str, name: str) -> list[float]:
    """The raw repeated samples of a timed metric ([] when there are none)."""
    for m in result.metrics:
        if m.scenario == scenario and m.name == name:
            return [float(s) for s in (m.samples or [])]
    return []


def series(result: Any, scenario: str, name: str) -> Any | None:
    """A stored curve (``Series``) of a case, or None."""
    for s in getattr(result, "series", None) or []:
        if s.scenario == scenario and s.name == name:
            return s
    return None


def select(results: Results, arch: str | None = None, **config: Any) -> list[Any]:
    """The successful cases of one architecture whose config matches every ``config`` key."""
    out = []
    for r in results:
        if r.status != "ok":
            continue
        if arch is not None and r.config.arch != arch:
            continue
        if all(getattr(r.config, key) == value for key, value in config.items()):
            out.append(r)
    return out


def state_accuracy_points(results: Results, arch: str) -> tuple[list[float], list[float]]:
    """One model's (decode-state bytes, held-out accuracy) per case, for a recall-against-state plot."""
    xs, ys = [], []
    for r in select(results, arch):
        x, y = metric(r, "decode", "state_bytes"), metric(r, "train", "eval_accuracy")
        if x is not None and y is not None:
            xs.append(x)
            ys.append(y)
    return xs, ys


def archs(results: Results, order: Sequence[str] = ("rnn", "lstm", "gru", "transformer", "mlp")) -> list[str]:
    """The architectures present, in a fixed reading order (others after, alphabetically)."""
    present = {r.config.arch for r in results}
    return [a for a in order if a in present] + sorted(present - set(order))


def by_seed(results: Results, arch: str, scenario: str, name: str, **config: Any) -> dict[int, float | None]:
    """Per seed, the metric of the cases of ``arch`` matching ``config`` (None where unmeasured).

    Every seed the sweep ran appears, including those whose case failed, so that a
    verdict sees the gap instead of silently using fewer seeds.
    """
    seeds = {r.config.seed for r in results if r.config.arch == arch
             and all(getattr(r.config, k) == v for k, v in config.items())}
    values: dict[int, float | None] = {s: None for s in seeds}
    for r in select(results, arch, **config):
        values[r.config.seed] = metric(r, scenario, name)
    return values


def values_of(results: Results, field: str) -> list[Any]:
    """The distinct values of a config field, sorted."""
    return sorted({getattr(r.config, field) for r in results})


def seeds_of(results: Results) -> list[int]:
    return values_of(results, "seed")


def setup_line(results: Results, trained: bool = True) -> str:
    """Sizes, budget and seeds of a sweep's cases, in one line (no steps or lr for untrained sweeps)."""
    if not results:
        return "no cases"
    parts = []
    fields = (("task", "task"), ("seq_len", "--seq-len"), ("hidden", "width"), ("layers", "layers"),
              ("batch_size", "batch"))
    tuned = trained and any(r.config.lr_grid for r in results)
    # a budgeted case's steps field is a placeholder: the budget decides its steps
    budgeted = trained and any(r.config.time_budget_s is not None or r.config.flops_budget is not None
                               for r in results)
    if trained:
        fields += (() if budgeted else (("steps", "steps"),)) + ((("lr", "lr"),) if not tuned else ())
    for field, label in fields:
        vals = values_of(results, field)
        parts.append(f"{label} {', '.join(f'{v:g}' if isinstance(v, float) else str(v) for v in vals)}")
    if budgeted:
        parts.append(budget_line(results))
    if tuned:
        parts.append(lr_choice_line(results))
    parts.append(f"seeds {', '.join(str(s) for s in seeds_of(results))}")
    return "; ".join(parts)


def budget_line(results: Results) -> str:
    """The training budget of budgeted cases: wall clock (--time-budget) or FLOPs (--flops-budget)."""
    times = sorted({r.config.time_budget_s for r in results if r.config.time_budget_s is not None})
    flops = sorted({r.config.flops_budget for r in results if r.config.flops_budget is not None})
    said = ([f"{', '.join(f'{t:g}' for t in times)} s of wall clock"] if times else []) + \
           ([f"{', '.join(f'{f:.3g}' for f in flops)} training FLOPs"] if flops else [])
    return "budget " + " and ".join(said) + " per training"


def lr_choice_line(results: Results) -> str:
    """The --lr-grid of a sweep and the rate each model chose, per seed (on the validation split)."""
    grids = sorted({",".join(f"{v:g}" for v in r.config.lr_grid) for r in results if r.config.lr_grid})
    chosen: dict[str, list[str]] = {}
    for r in sorted(results, key=lambda r: r.config.seed):
        rate = metric(r, "train", "lr_selected")
        chosen.setdefault(r.config.arch, []).append(f"{rate:g}" if rate is not None else "-")
    per_model = "; ".join(f"{arch} {', '.join(rates)}" for arch, rates in chosen.items())
    return f"lr chosen on the validation split from {' / '.join(grids)}, per seed: {per_model}"


def params_line(results: Results) -> str:
    """Parameter counts per model (the width --match-params chose), for 'equal parameters'."""
    seen: dict[str, str] = {}
    for r in results:
        p = metric(r, "model", "params")
        if p is not None and r.config.model not in seen:
            seen[r.config.model] = f"{r.config.arch} {int(p):,} (width {r.config.hidden})"
    return "parameters: " + "; ".join(seen.values()) if seen else ""


#: the highest learning rate any grid of the built-in studies reaches: a choice at a grid's top that is at this
#: cap counts as interior (the grid stops there on purpose: beyond it Adam is not tried at all)
LR_CAP = 3e-2


def lr_edges(results: Results, arch: str) -> str | None:
    """Where ``arch`` chose a learning rate at an edge of its grid (other than the cap), in words; None if never.

    A rate at the grid's edge says a rate beyond it might do better: a comparison that model
    loses may be the recipe's doing, not the model's (issue 36).
    """
    edges: dict[tuple[str, float, tuple], list[int]] = {}
    for r in results:
        if r.status != "ok" or r.config.arch != arch or len(r.config.lr_grid) < 2:
            continue
        rate = metric(r, "train", "lr_selected")
        grid = tuple(sorted(r.config.lr_grid))
        if rate is None:
            continue
        if math.isclose(rate, grid[0], rel_tol=1e-9):
            side = "bottom"
        elif math.isclose(rate, grid[-1], rel_tol=1e-9) and grid[-1] < LR_CAP * (1 - 1e-9):
            side = "top"
        else:
            continue
        edges.setdefault((side, rate, grid), []).append(r.config.seed)
    if not edges:
        return None
    said = [f"{rate:g}, the {side} of its grid {', '.join(f'{g:g}' for g in grid)}, in seed(s)"
            f" {', '.join(str(s) for s in sorted(set(seeds)))}" for (side, rate, grid), seeds in sorted(edges.items())]
    return f"{arch} chose lr " + "; ".join(said)


def unless_lr_interior(part: Verdict, results: Results, models: Sequence[str]) -> Verdict:
    """The part, or ``inconclusive`` when a model it compares chose its learning rate at an edge of the grid."""
    edges = [e for e in (lr_edges(results, arch) for arch in models) if e]
    if not edges:
        return part
    return Verdict(INCONCLUSIVE, "; ".join(edges) + f": a rate beyond the grid might do better (grids extend at most"
                   f" to {LR_CAP:g}), so this part is not decided",
                   (f"with the grid taken as final it would say {part.status}: {part.reason}", *part.evidence))


def tokens_trained(result: Any) -> float | None:
    """Tokens one training of a case saw: steps reached (or asked) × batch × sequence length; None untrained."""
    steps = metric(result, "train", "steps_reached")
    if steps is None:
        if not any(m.scenario == "train" for m in result.metrics):
            return None
        # a budgeted case (steps None) that recorded no steps reached counts as none, as before steps could be None
        steps = float(result.config.steps or 0)
    facts = getattr(result, "model_facts", None)  # a CaseResult's; a stand-in result may have none
    length = (facts.total_seq_len if facts is not None else None) or result.config.seq_len
    return steps * result.config.batch_size * length


def _si(x: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _span(values: Sequence[float]) -> str:
    lo, hi = min(values), max(values)
    return _si(lo) if _si(lo) == _si(hi) else f"{_si(lo)}–{_si(hi)}"


def scope_of(results: Results, *, timed: bool = False) -> str:
    """Where a verdict holds, for its label: device, parameter range, tokens trained per training.

    ``timed``: a speed claim, whose CPU verdict says "on this CPU" (the hardware is the scope).
    """
    ok = [r for r in results if r.status == "ok"]
    if not ok:
        return ""
    devices = sorted({r.config.device for r in ok})
    where = ("on this CPU" if timed else "on cpu") if devices == ["cpu"] else f"on {', '.join(devices)}"
    params = [p for p in (metric(r, "model", "params") for r in ok) if p is not None]
    tokens = [t for t in (tokens_trained(r) for r in ok) if t is not None]
    said = [where]
    if params:
        said.append(f"{_span(params)} parameters")
    if timed:
        said.append("timed, not trained to a quality")
    elif tokens:
        said.append(f"{_span(tokens)} tokens trained (steps × batch × length)")
    else:
        said.append("untrained")
    return ", ".join(said)


def scoped(verdict: Verdict, results: Results, *, timed: bool = False) -> Verdict:
    """The verdict with its scale in its label (``supported on cpu, 15k–160k parameters, …``)."""
    scope = scope_of(results, timed=timed)
    return replace(verdict, scope=scope) if scope else verdict


def learned_in_every_seed(label: str, closed: dict[int, float | None], fraction: float, what: str = "") -> Verdict:
    """The "learned anything" guard: ``supported`` when every seed closes more than ``fraction`` of the gap.

    A precondition before a model's failure can count against it, not a claim: read per seed, so that a
    model perfect in every seed (no spread, which no test across 3 seeds can decide) passes it.
    """
    said = ", ".join("n/a" if v is None else f"{v:.3g}" for v in closed.values()) or "none"
    ok = bool(closed) and all(v is not None and v > fraction for v in closed.values())
    lead = f"{what}: " if what else ""
    return Verdict(SUPPORTED if ok else INCONCLUSIVE,
                   f"{lead}{label} per seed: {said} ({'every' if ok else 'not every'} seed above {fraction:g})")


# -- figures -------------------------------------------------------------------------------

def new_figure(panels: int = 1):
    """A matplotlib Figure on the Agg canvas (no display, no global state) and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0 * panels if panels > 1 else 7.5, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = [figure.add_subplot(1, panels, i + 1) for i in range(panels)]
    return figure, axes


def finish(figure: Any, title: str, caption: str, path: Path) -> StudyFigure:
    """Title, caption under the plot, tight layout, saved as PNG."""
    figure.suptitle(title, fontsize=12)
    wrapped = "\n".join(textwrap.wrap(caption, 150 if figure.get_figwidth() > 9 else 110))
    figure.text(0.01, 0.01, wrapped, fontsize=7, va="bottom", ha="left", color="#333333")
    lines = wrapped.count("\n") + 1
    figure.tight_layout(rect=(0, 0.03 + 0.025 * lines, 1, 0.94))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return StudyFigure(path=path, title=title, caption=caption)


def legend(ax: Any, fontsize: int = 8) -> None:
    """A legend only when something is labelled (matplotlib warns otherwise)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=fontsize)


def median(values: Iterable[float]) -> float:
    vals = sorted(v for v in values if v is not None and math.isfinite(v))
    if not vals:
        return math.nan
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2


def line_by_seed(ax: Any, results: Results, arch: str, x_field: str, scenario: str, name: str,
                 label: str | None = None, **style: Any) -> None:
    """Median over seeds of a metric against a config field, with min–max bars over seeds."""
    xs, ys, lo, hi = [], [], [], []
    for x in values_of(select(results, arch), x_field):
        vals = [metric(r, scenario, name) for r in select(results, arch, **{x_field: x})]
        vals = [v for v in vals if v is not None]
        if not vals:
            continue
        m = median(vals)
        xs.append(x)
        ys.append(m)
        lo.append(m - min(vals))
        hi.append(max(vals) - m)
    if xs:
        ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=label or arch, **style)
