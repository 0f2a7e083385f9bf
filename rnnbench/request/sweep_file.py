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

:func:`read_sweep_file` checks each key and value and turns them into the text
the command-line parsers take (``"16,32,64"``), so a value from a file and the
same value typed on the command line go through one validation path. Every
error names the file and the key.
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

#: integer axes and the smallest value each allows
INT_AXES = {"seq_len": 1, "batch_size": 1, "hidden": 1, "layers": 1, "steps": 1, "seeds": 0}
FLOAT_AXES = {"lr"}
NAME_AXES = {"models", "tasks", "device", "dtype", "scenarios"}
POSITIVE_INTS = {"threads", "workers"}
POSITIVE_FLOATS = {"min_time", "timeout"}
STRINGS = {"executor", "scheduler"}
#: keys whose value is a list of separate command-line occurrences (``-p A -p B``)
REPEATED = {"plugins"}
TASK_OPTIONS = "task_opt"


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


class _Checker:
    """Validates one file's values, naming the file and the key in every error."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, message: str) -> UsageError:
        return UsageError(f"{self.path}: '{key}' {message}")

    def as_list(self, key: str, value: Any) -> list[Any]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.fail(key, "is an empty list")
        return items

    def int_axis(self, key: str, value: Any) -> str:
        minimum = INT_AXES[key]
        items = self.as_list(key, value)
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int):
                raise self.fail(key, f"must be an integer or a list of integers, got {_show(item)} ({_type_name(item)})")
            if item < minimum:
                raise self.fail(key, f"must be at least {minimum}, got {item}")
        return ",".join(str(item) for item in items)

    def float_axis(self, key: str, value: Any) -> str:
        items = self.as_list(key, value)
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise self.fail(key, f"must be a number or a list of numbers, got {_show(item)} ({_type_name(item)})")
            if not 0 < item < float("inf"):
                raise self.fail(key, f"must be a positive number, got {item}")
        return ",".join(repr(float(item)) for item in items)

    def name_axis(self, key: str, value: Any) -> str:
        items = self.as_list(key, value)
        for item in items:
            if not isinstance(item, str) or not item.strip():
                raise self.fail(key, f"must be a name or a list of names, got {_show(item)} ({_type_name(item)})")
        return ",".join(item.strip() for item in items)

    def positive(self, key: str, value: Any, kind: type) -> str:
        allowed = (int,) if kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed):
            want = "an integer" if kind is int else "a number"
            raise self.fail(key, f"must be {want}, got {_show(value)} ({_type_name(value)})")
        if not 0 < value < float("inf"):
            raise self.fail(key, f"must be positive, got {value}")
        return str(value)

    def string(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a string, got {_show(value)} ({_type_name(value)})")
        return value.strip()

    def boolean(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {_show(value)} ({_type_name(value)})")
        return value

    def strings(self, key: str, value: Any) -> list[str]:
        return [self.string(key, item) for item in self.as_list(key, value)]

    def task_options(self, value: Any) -> list[str]:
        """``{copy = {num_symbols = 5}}`` -> ``["copy.num_symbols=5"]``, as ``--task-opt`` gives."""
        if not isinstance(value, dict):
            raise self.fail(TASK_OPTIONS, f"must be a table of tables, like [task_opt.copy], got {_type_name(value)}")
        pairs = []
        for task, options in value.items():
            if not isinstance(options, dict):
                raise self.fail(f"{TASK_OPTIONS}.{task}", f"must be a table of options, like [task_opt.{task}],"
                                f" got {_type_name(options)}")
            for option, setting in options.items():
                if isinstance(setting, (dict, list)):
                    raise self.fail(f"{TASK_OPTIONS}.{task}.{option}",
                                    f"must be a single value, got {_type_name(setting)}")
                text = str(setting).lower() if isinstance(setting, bool) else str(setting)
                pairs.append(f"{task}.{option}={text}")
        return pairs

    def generic(self, key: str, value: Any) -> str:
        """A flag added by another plugin or issue that this module has no rule for."""
        items = self.as_list(key, value)
        for item in items:
            if isinstance(item, (dict, list)):
                raise self.fail(key, f"must be a value or a list of values, got {_type_name(item)}")
        return ",".join(str(item).lower() if isinstance(item, bool) else str(item) for item in items)


def read_sweep_file(path: str | Path, keys: Iterable[str], flags: set[str]) -> dict[str, Any]:
    """Read a sweep file into ``{dest: value}`` in the form argparse would have produced.

    :param keys: the keys a file may set (the ``rnnbench run`` flag destinations).
    :param flags: those among ``keys`` that are on/off switches (``store_true``).
    """
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
    check = _Checker(path)
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            close = difflib.get_close_matches(key.replace("-", "_"), known, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UsageError(f"{path}: unknown key '{key}'{hint} (keys: {', '.join(known)})")
        if key in INT_AXES:
            values[key] = check.int_axis(key, value)
        elif key in FLOAT_AXES:
            values[key] = check.float_axis(key, value)
        elif key in NAME_AXES:
            values[key] = check.name_axis(key, value)
        elif key in POSITIVE_INTS:
            values[key] = check.positive(key, value, int)
        elif key in POSITIVE_FLOATS:
            values[key] = check.positive(key, value, float)
        elif key in STRINGS:
            values[key] = check.string(key, value)
        elif key in REPEATED:
            values[key] = check.strings(key, value)
        elif key == TASK_OPTIONS:
            values[key] = check.task_options(value)
        elif key in flags:
            values[key] = check.boolean(key, value)
        else:
            values[key] = check.generic(key, value)
    return values
