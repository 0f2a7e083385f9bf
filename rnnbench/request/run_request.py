"""What ``rnnbench run`` was asked to do, from up to four layers, the later winning:

1. the defaults of :class:`~rnnbench.request.options.RunRequest`,
2. the request stored with the run named by ``--resume`` (so ``rnnbench run
   --resume RUN_ID`` alone repeats that sweep),
3. the sweep file given with ``--sweep``,
4. the flags given on the command line.

Every layer is parsed into typed values by the same :data:`OPTIONS`; the command
line is parsed once, with no defaults, so what argparse returns is exactly what
the user typed. Options that accumulate (``-p``, ``--task-opt``) add up across
layers; for task options the later layer wins per option.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from rnnbench.request.options import BY_KEY, OPTIONS, RunRequest
from rnnbench.request.sweep_file import read_sweep_file


def parse_layer(values: Mapping[str, Any], file: str | None = None) -> dict[str, Any]:
    """Typed values of one layer; ``file`` names the sweep file its errors point at."""
    return {key: BY_KEY[key].parse(value, BY_KEY[key].origin(file)) for key, value in values.items()
            if key in BY_KEY and value is not None}


def apply_layer(request: RunRequest, layer: Mapping[str, Any]) -> RunRequest:
    changes: dict[str, Any] = {}
    for key, value in layer.items():
        if key == "plugins":  # a module loaded once, in first-mention order
            changes[key] = list(dict.fromkeys([*request.plugins, *value]))
        elif key in ("task_opt", "model_opt"):  # the later layer wins per option
            merged = {owner: dict(options) for owner, options in getattr(request, key).items()}
            for owner, options in value.items():
                merged.setdefault(owner, {}).update(options)
            changes[key] = merged
        else:
            changes[key] = value
    return replace(request, **changes)


def resolve_request(flags: Mapping[str, Any], *, stored: Mapping[str, Any] | None = None,
                    sweep: str | Path | None = None) -> RunRequest:
    """The request after all layers: defaults < stored (resume) < sweep file < flags."""
    request = RunRequest()
    if stored:
        request = apply_layer(request, parse_layer(stored))
    if sweep is not None:
        request = apply_layer(request, parse_layer(read_sweep_file(sweep, [o.key for o in OPTIONS]), str(sweep)))
    request = apply_layer(request, parse_layer(flags))
    request.check()
    return request


def resume_command(out_dir: str | Path, run_id: str) -> str:
    """The command that continues a run; its stored request supplies everything else."""
    return " ".join(shlex.quote(part) for part in ["rnnbench", "run", "--out", str(out_dir), "--resume", run_id])
