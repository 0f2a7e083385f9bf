"""Sweep files: the ``rnnbench run`` flags, written down in TOML.

Top-level keys are the flags without the dashes, with underscores (``seq_len``
for ``--seq-len``); each axis is a list or a single value; task options are a
table per task::

    models = ["lstm", "gru", "transformer"]
    seq_len = [16, 32, 64]
    hidden = 64
    executor = "process"
    timeout = 600

    [task_opt.copy]
    num_symbols = 5

:func:`read_sweep_file` reads the file and checks its keys; the values are then
checked and typed by the same options as the command line's
(:mod:`rnnbench.request.options`). Every error names the file and the key.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Any, Iterable

from rnnbench.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

def read_sweep_file(path: str | Path, keys: Iterable[str]) -> dict[str, Any]:
    """Read a sweep file into ``{key: TOML value}``, refusing keys that are not in ``keys``."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"--sweep: no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"--sweep: {path} is a folder, not a sweep file") from None
    except OSError as exc:
        raise UsageError(f"--sweep: cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not valid TOML: the file is not UTF-8 text") from None

    known = sorted(set(keys))
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key.replace("-", "_"), known, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UsageError(f"{path}: unknown key '{key}'{hint} (keys: {', '.join(known)})")
    return data
