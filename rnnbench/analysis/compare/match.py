"""Two runs compared: their cases matched by id, and every metric both sides have judged by its kind's rule."""

from __future__ import annotations

from rnnbench.analysis.aa_history import AAHistory, RepeatKey
from rnnbench.analysis.compare.comparison import CompareSettings, Comparison, Row, case_label
from rnnbench.analysis.compare.deterministic import is_memory, judge_deterministic
from rnnbench.analysis.compare.environment import env_differences
from rnnbench.analysis.compare.measurements import judge_measurements
from rnnbench.analysis.compare.quality import seed_group_key, seed_group_rows
from rnnbench.analysis.compare.status_rows import missing_rows, status_row
from rnnbench.analysis.compare.timing import BusyNotes, busy_notes, is_timing, judge_timing
from rnnbench.analysis.sources import LoadedRun
from rnnbench.errors import UsageError
from rnnbench.records import CaseResult


def compare_runs(base: LoadedRun, new: LoadedRun, settings: CompareSettings = CompareSettings(),
                 repeats: tuple[dict[RepeatKey, list[list[float]]], dict[RepeatKey, list[list[float]]]] = ({}, {}),
                 busy: tuple[BusyNotes, BusyNotes] | None = None,
                 history: dict[RepeatKey, AAHistory] | None = None) -> Comparison:
    """Match the two runs' cases by id and judge every metric both sides have.

    ``repeats`` are :func:`pool_runs`' samples per run of each side; ``busy`` the
    :func:`busy_notes` of each side's runs (default: read from ``base`` and ``new``);
    ``history`` the A/A band of each timed metric (rnnbench.analysis.aa_history.load_aa_history),
    which a change on fewer than :data:`MIN_ROUNDS` runs a side must exceed (default: none).
    """
    base_by_id = {r.case_id: r for r in base.results}
    new_by_id = {r.case_id: r for r in new.results}
    common = [cid for cid in new_by_id if cid in base_by_id]
    if not common:
        raise UsageError(
            f"BASE ({base.describe()}, {len(base_by_id)} case(s)) and NEW ({new.describe()}, {len(new_by_id)} case(s))"
            " have no case in common: nothing to compare (a case is model, task and options, sizes, device, dtype,"
            " seed, steps and lr: run the same sweep on both sides)"
        )
    out = Comparison(base=base, new=new, settings=settings)
    if busy is None:
        busy = (busy_notes([base]), busy_notes([new]))
    out.only_in_base = [case_label(r) for cid, r in base_by_id.items() if cid not in new_by_id]
    out.only_in_new = [case_label(r) for cid, r in new_by_id.items() if cid not in base_by_id]
    out.env_differences.update(env_differences(base.run.env, new.run.env))

    groups: dict[str, list[tuple[CaseResult, CaseResult]]] = {}
    for cid in common:
        b, n = base_by_id[cid], new_by_id[cid]
        label = case_label(n)
        if b.status != "ok" or n.status != "ok":
            out.rows.append(status_row(label, cid, b, n))
            continue
        out.rows += missing_rows(label, cid, b, n)
        out.rows += _metric_rows(label, cid, b, n, settings, repeats, busy, history)
        groups.setdefault(seed_group_key(n), []).append((b, n))
    out.rows += seed_group_rows(groups, settings)
    for cid in common:
        b, n = base_by_id[cid], new_by_id[cid]
        if b.status == "ok" and n.status == "ok":
            out.rows += judge_measurements(case_label(n), cid, b, n, settings)
    if not out.rows:
        # a CI gate that compared nothing must not pass
        raise UsageError(
            f"BASE ({base.describe()}) and NEW ({new.describe()}) share {len(common)} case(s) but no metric with a"
            " value on both sides: nothing was compared (are the runs' metrics missing or damaged?)"
        )
    return out


def _metric_rows(label: str, cid: str, b: CaseResult, n: CaseResult, settings: CompareSettings,
                 repeats: tuple[dict[RepeatKey, list[list[float]]], dict[RepeatKey, list[list[float]]]],
                 busy: tuple[BusyNotes, BusyNotes],
                 history: dict[RepeatKey, AAHistory] | None) -> list[Row]:
    """The rows of one case that ran on both sides: each timing, memory and parameter count both have, judged
    by its own rule (timings are noisy and judged against their spread; memory and params are exact)."""
    rows = []
    for nm in n.metrics:
        bm = b.metric(nm.scenario, nm.name)
        if bm is None:
            continue
        if is_timing(nm) and is_timing(bm):
            key = (cid, nm.scenario, nm.name)
            runs = (repeats[0].get(key, []), repeats[1].get(key, []))
            rows.append(judge_timing(label, [cid], bm, nm, settings, runs,
                                     (busy[0].get(cid, []), busy[1].get(cid, [])),
                                     (history or {}).get(key)))
        elif is_memory(nm) and is_memory(bm):
            rows.append(judge_deterministic("memory", label, [cid], bm, nm, settings))
        elif nm.scenario == "model" and nm.name == "params" and nm.value is not None and bm.value is not None:
            rows.append(judge_deterministic("params", label, [cid], bm, nm, settings))
    return rows
