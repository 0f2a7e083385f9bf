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

from rnnbench.errors import OptionError, UsageError
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
    resumed = request
    if sweep is not None:
        request = apply_layer(request, parse_layer(read_sweep_file(sweep, [o.key for o in OPTIONS]), str(sweep)))
    request = apply_layer(request, parse_layer(flags))
    if stored:
        _refuse_other_training_length(resumed, request)
    request.check()
    return request


def _refuse_other_training_length(resumed: RunRequest, request: RunRequest) -> None:
    """A resume that would swap the run's --steps, --time-budget or --flops-budget for another: one line saying so."""
    kinds = ("steps", "time_budget", "flops_budget")
    for had, added in ((a, b) for a in kinds for b in kinds if a != b):
        if getattr(resumed, had) is not None and getattr(resumed, added) is None and \
                getattr(request, added) is not None:
            flag, old = BY_KEY[had].cli_flag, ",".join(f"{v:g}" for v in getattr(resumed, had))
            raise UsageError(f"{BY_KEY[added].cli_flag}: the run being resumed trains with {flag} {old}, and a"
                             f" resume repeats its sweep; drop {BY_KEY[added].cli_flag}, or start a new run"
                             f" (without --resume) to train by {BY_KEY[added].cli_flag}")


def locate_option_error(exc: OptionError, flags: Mapping[str, Any], sweep: str | Path | None) -> OptionError:
    """``exc`` naming the sweep file when the bad option came from it rather than from a flag."""
    if sweep is None:
        return exc

    def holds(layer: Mapping[str, Any]) -> bool:
        options = layer.get(exc.kind, {}).get(exc.owner)
        return options is not None and (exc.key is None or exc.key in options)

    if holds(parse_layer({k: v for k, v in flags.items() if k == exc.kind})):
        return exc
    if holds(parse_layer(read_sweep_file(sweep, [o.key for o in OPTIONS]), str(sweep))):
        return exc.located(str(sweep))
    return exc


def resume_command(out_dir: str | Path, run_id: str) -> str:
    """The command that continues a run; its stored request supplies everything else."""
    return " ".join(shlex.quote(part) for part in ["rnnbench", "run", "--out", str(out_dir), "--resume", run_id])
