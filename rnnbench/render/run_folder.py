"""A run's folder: results.csv, env.json, plots, report.md and report.html, from stored results."""

from __future__ import annotations

import json

from rnnbench.analysis.frame import results_frame
from rnnbench.errors import RnnbenchError
from rnnbench.records import CaseResult, RunInfo
from rnnbench.render.report import ReportPaths, write_reports


def write_run_folder(run: RunInfo, results: list[CaseResult]) -> ReportPaths:
    """results.csv (one row per case), env.json, plots, report.md and report.html in ``run.folder``."""
    folder = run.folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        results_frame(results, run.run_id).to_csv(folder / "results.csv", index=False)
        (folder / "env.json").write_text(json.dumps(run.env, indent=2, default=str), encoding="utf-8")
        return write_reports(results, run, folder)
    except OSError as exc:
        raise RnnbenchError(f"cannot write the run folder {folder}: {exc.strerror or exc}") from None
