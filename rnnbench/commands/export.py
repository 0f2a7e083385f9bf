"""``rnnbench export RUN``: its arguments and its handler.

The documents (rnnbench JSON, pytest-benchmark JSON) are built by rnnbench.render.export.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from rnnbench.commands.common import add_out
from rnnbench.analysis.sources import load_run_source
from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.commands.common import load_named_plugins


def add_parser(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "export", help="write a run as rnnbench JSON or pytest-benchmark JSON",
        description="Export a run: --format json is rnnbench's own versioned JSON (every case, metric and raw"
                    " sample; 'rnnbench compare' reads it); --format pytest-benchmark is the JSON that"
                    " 'pytest-benchmark compare' and github-action-benchmark (tool: pytest) read, with"
                    " rnnbench's median and quartiles.")
    add_common(p)
    p.add_argument("run", metavar="RUN", help="run id, run folder, 'latest' or 'commit:SHA'")
    p.add_argument("--format", choices=("json", "pytest-benchmark"), default="json", help="(default: %(default)s)")
    p.add_argument("-o", "--output", metavar="FILE", help="file to write (default: standard output)")
    add_out(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.output is not None and not args.output.strip():
        raise UsageError("-o/--output: must not be empty; leave it out to write to standard output")
    from rnnbench.render.export import export_document, pytest_benchmark_document, replace_non_finite  # deferred: fast start
    load_named_plugins(args.plugins)
    loaded = load_run_source(args.run, Path(args.out), "RUN")
    if not loaded.results:
        print(f"rnnbench: note: {loaded.describe()} has no cases (it stopped before its first case was stored,"
              " or none was planned): the export holds none", file=sys.stderr)
    if args.format == "json":
        doc = export_document(loaded.run, loaded.results)
    else:
        doc = pytest_benchmark_document(loaded.run, loaded.results)
        if not doc["benchmarks"]:
            raise UsageError(f"{loaded.describe()} has no timed metric with raw samples to export")
    doc, non_finite = replace_non_finite(doc)
    if non_finite:
        doc["non_finite"] = {"note": "NaN or infinite values, written as null (strict JSON has neither)",
                             "where": non_finite}
        print(f"rnnbench: note: {len(non_finite)} NaN or infinite value(s) written as null, listed under"
              f" 'non_finite' (first: {non_finite[0]})", file=sys.stderr)
    text = json.dumps(doc, indent=2, default=str, allow_nan=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RnnbenchError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"wrote {args.output} ({len(doc.get('benchmarks', doc.get('results', [])))} entries)", file=sys.stderr)
    return 0
