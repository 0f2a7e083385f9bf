"""The report's table of --lr-grid: each rate's validation score per case, and the rate chosen."""

from __future__ import annotations

from rnnbench.records import CaseResult, LrGridRecord

Table = tuple[list[str], list[list[str]]]


def lr_grid_table(results: list[CaseResult]) -> Table | None:
    """One row per case trained on a grid: model, point, seed, each rate's validation score, the choice."""
    tuned = [r for r in results if r.config.lr_grid]
    if not tuned:
        return None
    rows = []
    records = {id(r): LrGridRecord.read(r.details) for r in tuned}
    for r in tuned:
        c = r.config
        record = records[id(r)]
        chosen = r.metric("train", "lr_selected")
        scores = []
        for rate in c.lr_grid:
            outcome = record.outcome(rate) if record is not None else None
            if outcome is None:  # the case failed before this rate ran, or every rate failed
                scores.append(f"{rate:g}: -")
            elif outcome.status != "ok" or outcome.score is None:
                scores.append(f"{rate:g}: {outcome.status} ({_short(outcome.error)})")
            else:
                mark = " (chosen)" if chosen is not None and chosen.value == rate else ""
                scores.append(f"{rate:g}: {outcome.score:.4g}{mark}")
        rows.append([c.model_label, f"T={c.seq_len} H={c.requested_hidden or c.hidden}", str(c.seed),
                     "; ".join(scores), f"{chosen.value:g}" if chosen is not None else r.status])
    metric = next((rec.metric for rec in records.values() if rec is not None), "score")
    return ["model", "point", "seed", f"validation {metric} per rate", "rate chosen"], rows


def edge_notes(results: list[CaseResult]) -> list[str]:
    """A note per model whose chosen rate is the grid's smallest or largest: the best may lie beyond it."""
    edges: dict[tuple[str, str], list[str]] = {}
    for r in results:
        chosen = r.metric("train", "lr_selected")
        grid = r.config.lr_grid
        if chosen is None or len(grid) < 2 or chosen.value not in (min(grid), max(grid)):
            continue
        side = "largest" if chosen.value == max(grid) else "smallest"
        edges.setdefault((r.config.model_label, side), []).append(str(r.config.seed))
    return [f"{model} chose the {side} rate of the grid (seed {', '.join(seeds)}): a rate beyond it may do"
            " better; widen --lr-grid to tell" for (model, side), seeds in edges.items()]


def _short(error: str, limit: int = 40) -> str:
    text = error.splitlines()[0] if error else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: said under the table
EXPLANATION = (
    "Each case trained a fresh model at every rate of --lr-grid (same initialisation, same batches), scored each"
    " on the task's validation split and kept the best; the test metrics, step times and curves elsewhere in this"
    " report are the chosen rate's. The choice is made per case, so per seed: every seed repeats the tuning."
    " A failed rate shows its reason; the others still count.")
