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
import os
import stat
import sys
from pathlib import Path
from typing import Any, Iterable

from rnnbench.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

#: a sweep file is a page of flags: anything larger is not one (and /dev/zero would never end)
MAX_SWEEP_FILE_BYTES = 1 << 20


def _read_regular_file(path: Path) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most :data:`MAX_SWEEP_FILE_BYTES`.

    Opened without blocking, so that a FIFO nobody writes to is refused instead of waited on."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise UsageError(f"--sweep: no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"--sweep: {path} is a folder, not a sweep file") from None
    except OSError as exc:
        raise UsageError(f"--sweep: cannot read {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UsageError(f"--sweep: {path} is a folder, not a sweep file")
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"--sweep: {path} is not a regular file (a device, pipe or socket); give a TOML file")
        if info.st_size > MAX_SWEEP_FILE_BYTES:
            raise UsageError(f"--sweep: {path} is {info.st_size} bytes; a sweep file is at most"
                             f" {MAX_SWEEP_FILE_BYTES} bytes")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_SWEEP_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"--sweep: cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_SWEEP_FILE_BYTES:  # it grew while being read
        raise UsageError(f"--sweep: {path} is over {MAX_SWEEP_FILE_BYTES} bytes; a sweep file is at most that")
    return data


def read_sweep_file(path: str | Path, keys: Iterable[str]) -> dict[str, Any]:
    """Read a sweep file into ``{key: TOML value}``, refusing keys that are not in ``keys``."""
    path = Path(path)
    raw = _read_regular_file(path)
    try:
        # utf-8-sig: a byte-order mark, as some Windows editors write, is not TOML's business
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not valid TOML: the file is not UTF-8 text") from None
    except RecursionError:
        raise UsageError(f"{path}: not valid TOML: arrays or tables nested too deep") from None

    known = sorted(set(keys))
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key.replace("-", "_"), known, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UsageError(f"{path}: unknown key '{key}'{hint} (keys: {', '.join(known)})")
    return data
