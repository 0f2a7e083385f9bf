"""The options of ``rnnbench run``, each declared once: its flag, its type, its check.

A value reaches rnnbench in one of three forms: text typed on the command line
(``--seq-len 16,32``), a typed TOML value in a sweep file (``seq_len = [16, 32]``),
or a JSON value stored with a run (what ``--resume`` repeats). Each :class:`Option`
turns every form into the same typed value through the same checks, so a value
means the same wherever it came from. Defaults live in :class:`RunRequest` alone.

To add an option, add a field to :class:`RunRequest` and an :class:`Option` to
:data:`OPTIONS`; the flag, the sweep-file key and the stored request follow.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from typing import Any, Callable

from rnnbench.errors import UsageError
from rnnbench.model_api import LR_SCHEDULES
from rnnbench.records import DEFAULT_SCENARIOS, DEVICES, SCENARIOS, TimerSettings
from rnnbench.specs import DTYPES


@dataclass
class RunRequest:
    """What ``rnnbench run`` was asked to do, typed. ``None`` means "the task's default"."""

    models: list[str] = field(default_factory=lambda: ["lstm", "gru", "transformer"])
    tasks: list[str] = field(default_factory=lambda: ["copy"])
    seq_len: list[int] | None = None
    batch_size: list[int] | None = None
    hidden: list[int] | None = None
    layers: list[int] | None = None
    device: list[str] = field(default_factory=lambda: ["cpu"])
    dtype: list[str] = field(default_factory=lambda: ["float32"])
    seeds: list[int] = field(default_factory=lambda: [0])
    steps: list[int] | None = None
    lr: list[float] | None = None
    #: train every case at each of these rates and keep the best on the validation split (replaces --lr)
    lr_grid: list[float] | None = None
    #: learning-rate schedules, an axis: constant (Adam at the rate throughout) or warmup-cosine
    lr_schedule: list[str] = field(default_factory=lambda: ["constant"])
    #: seconds of wall clock to train each case for, instead of ``steps`` (Languini Kitchen's equal-time protocol)
    time_budget: list[float] | None = None
    #: training FLOPs per case, instead of ``steps``: each model's steps from its counted FLOPs per step
    flops_budget: list[float] | None = None
    #: ``{task: {option: value}}``; values are converted to each option's type at expansion
    task_opt: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ``{arch or ARCH@BACKEND: {option: value}}``, converted by the model spec at expansion
    model_opt: dict[str, dict[str, Any]] = field(default_factory=dict)
    match_params: bool = False
    scenarios: list[str] = field(default_factory=lambda: list(DEFAULT_SCENARIOS))
    #: lengths (the task's --seq-len meaning) every trained model is also evaluated at
    eval_seq_len: list[int] | None = None
    threads: int | None = None
    min_time: float = TimerSettings.min_run_time
    executor: str = "local"
    timeout: float | None = None
    workers: int = 1
    scheduler: str | None = None
    plugins: list[str] = field(default_factory=list)
    #: cap on a task's corpus file in MB (``None``: the task's own cap); not part of any case
    max_corpus_mb: float | None = None
    #: the most cases a sweep may have; a bigger one is refused before it is planned
    max_cases: int = 10_000

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def check(self) -> None:
        """Options that are each valid but do not make sense together: one clear line."""
        if self.time_budget is not None and self.steps is not None:
            raise UsageError("--time-budget replaces --steps (a budgeted case trains until its time is up);"
                             " give one of them")
        if self.flops_budget is not None and (self.steps is not None or self.time_budget is not None):
            raise UsageError("--flops-budget replaces --steps and --time-budget (a case trains for as many steps"
                             " as its FLOPs per step allow); give one of them")
        for key in ("time_budget", "flops_budget"):
            if getattr(self, key) is not None and "train" not in self.scenarios:
                raise UsageError(f"{BY_KEY[key].cli_flag} budgets the training: add train to --scenarios")
        if self.lr_grid is not None and self.lr is not None:
            raise UsageError("--lr-grid chooses the rate from its grid on the validation split; --lr fixes it:"
                             " give one of them")
        if self.lr_grid is not None and "train" not in self.scenarios:
            raise UsageError("--lr-grid chooses the rate of the training: add train to --scenarios")
        if self.eval_seq_len is not None and "train" not in self.scenarios:
            raise UsageError("--eval-seq-len evaluates the trained model: add train to --scenarios")


# -- reading one value ------------------------------------------------------------------------

@dataclass(frozen=True)
class Origin:
    """Where a value came from, for the one line an error prints."""

    flag: str  # "--seq-len"
    key: str  # "seq_len"
    file: str | None = None  # the sweep file, when the value came from one

    def fail(self, message: str) -> UsageError:
        if self.file is None:
            return UsageError(f"{self.flag}: {message}")
        return UsageError(f"{self.file}: '{self.key}' {message}")


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _items(value: Any, origin: Origin) -> list[Any]:
    """A comma list typed on the command line, or a TOML list or single value."""
    if isinstance(value, str) and origin.file is None:
        items = [item.strip() for item in value.split(",")]
        if any(item == "" for item in items):
            raise origin.fail(f"expected a comma-separated list, got '{value}'")
        return items
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise origin.fail("is an empty list")
    return items


def _integer(item: Any, origin: Origin, what: str) -> int:
    if isinstance(item, str) and origin.file is None:
        try:
            return int(item)
        except ValueError:
            raise origin.fail(f"'{item}' is not an integer") from None
    if isinstance(item, bool) or not isinstance(item, int):
        raise origin.fail(f"must be {what}, got {_show(item)} ({_type_name(item)})")
    return item


def _number(item: Any, origin: Origin, what: str) -> float:
    if isinstance(item, str) and origin.file is None:
        try:
            return float(item)
        except ValueError:
            raise origin.fail(f"'{item}' is not a number") from None
    if isinstance(item, bool) or not isinstance(item, (int, float)):
        raise origin.fail(f"must be {what}, got {_show(item)} ({_type_name(item)})")
    return float(item)


def _name(item: Any, origin: Origin, what: str) -> str:
    if isinstance(item, str) and not item.strip():
        raise origin.fail("must not be empty")
    if not isinstance(item, str):
        raise origin.fail(f"must be {what}, got {_show(item)} ({_type_name(item)})")
    return item.strip()


#: the largest integer an axis takes: torch (seeds) and SQLite (every stored integer) hold signed 64 bits
MAX_INTEGER = 2**63 - 1


def int_list(minimum: int) -> Callable[[Any, Origin], list[int]]:
    def parse(value: Any, origin: Origin) -> list[int]:
        values = [_integer(item, origin, "an integer or a list of integers") for item in _items(value, origin)]
        for number in values:
            if number < minimum:
                raise origin.fail(f"must be at least {minimum}, got {number}")
            if number > MAX_INTEGER:
                raise origin.fail(f"must be at most 2^63 - 1 ({MAX_INTEGER}), got {number}")
        return values
    return parse


def float_list(value: Any, origin: Origin) -> list[float]:
    values = [_number(item, origin, "a number or a list of numbers") for item in _items(value, origin)]
    for number in values:
        if not 0 < number < math.inf:
            raise origin.fail(f"must be a positive number, got {number:g}")
    return values


def rate_grid(value: Any, origin: Origin) -> list[float]:
    """Positive rates, each once, in increasing order (the order a table of scores reads best in)."""
    values = float_list(value, origin)
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise origin.fail(f"repeats {', '.join(f'{v:g}' for v in repeated)}; give each rate once")
    return sorted(values)


def name_list(value: Any, origin: Origin) -> list[str]:
    return [_name(item, origin, "a name or a list of names").lower() for item in _items(value, origin)]


def choice_list(choices: tuple[str, ...]) -> Callable[[Any, Origin], list[str]]:
    def parse(value: Any, origin: Origin) -> list[str]:
        values = name_list(value, origin)
        for item in values:
            if item not in choices:
                raise origin.fail(f"'{item}' is not one of {', '.join(choices)}")
        return values
    return parse


def positive_int(value: Any, origin: Origin) -> int:
    number = _integer(value, origin, "an integer")
    if number <= 0:
        raise origin.fail(f"must be positive, got {number}")
    return number


#: --threads above this many per CPU the process may use is no measurement (threads only wait for
#: each other) and, at 100000, exhausts the process table before torch segfaults
THREADS_PER_CPU = 8
#: ... but never fewer than this, so that oversubscription stays an experiment one can run
MIN_THREAD_CAP = 64


def thread_cap() -> int:
    """The most threads ``--threads`` accepts on this machine."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(MIN_THREAD_CAP, THREADS_PER_CPU * cpus)


def thread_count(value: Any, origin: Origin) -> int:
    number = positive_int(value, origin)
    cap = thread_cap()
    if number > cap:
        raise origin.fail(f"at most {cap} on this machine ({THREADS_PER_CPU} per CPU this process may use, or"
                          f" {MIN_THREAD_CAP}), got {number}")
    return number


def positive_float(value: Any, origin: Origin) -> float:
    number = _number(value, origin, "a number")
    if not 0 < number < math.inf:
        raise origin.fail(f"must be positive, got {value}")
    return number


def string(value: Any, origin: Origin) -> str:
    return _name(value, origin, "a string")


def switch(value: Any, origin: Origin) -> bool:
    if not isinstance(value, bool):
        raise origin.fail(f"must be true or false, got {_show(value)} ({_type_name(value)})")
    return value


def strings(value: Any, origin: Origin) -> list[str]:
    return [string(item, origin) for item in (value if isinstance(value, (list, tuple)) else [value])]


def _owned_options(owner: str, example: str) -> Callable[[Any, Origin], dict[str, dict[str, Any]]]:
    """A parser of ``OWNER.KEY=VALUE`` flags or ``[KEY.OWNER]`` tables into ``{owner: {key: value}}``.

    ``owner`` names what owns the options in messages (``TASK``, ``ARCH``); ``example`` is
    an owner to show in them (``copy``). Values stay as given (text from flags, TOML
    values from files); the owner's spec converts them to the options' types at expansion.
    """
    def parse(value: Any, origin: Origin) -> dict[str, dict[str, Any]]:
        parsed: dict[str, dict[str, Any]] = {}
        if isinstance(value, dict):
            for name, options in value.items():
                if not isinstance(options, dict):
                    raise Origin(origin.flag, f"{origin.key}.{name}", origin.file).fail(
                        f"must be a table of options, like [{origin.key}.{name}], got {_type_name(options)}")
                for option, setting in options.items():
                    if isinstance(setting, (dict, list)):
                        raise Origin(origin.flag, f"{origin.key}.{name}.{option}", origin.file).fail(
                            f"must be a single value, got {_type_name(setting)}")
                    parsed.setdefault(str(name).strip().lower(), {})[str(option).strip()] = setting
            return parsed
        if origin.file is not None and not isinstance(value, list):
            raise origin.fail(f"must be a table of tables, like [{origin.key}.{example}], got {_type_name(value)}")
        for pair in value:
            key, sep, setting = str(pair).partition("=")
            name, dot, option = key.partition(".")
            if not sep or not dot or not name.strip() or not option.strip():
                raise origin.fail(f"expected {owner}.KEY=VALUE, got '{pair}'")
            table = parsed.setdefault(name.strip().lower(), {})
            if option.strip() in table and table[option.strip()] != setting.strip():
                # the last one winning silently would run a sweep other than the one the user meant
                raise origin.fail(f"{name.strip()}.{option.strip()} is given twice ({table[option.strip()]!r} and"
                                  f" {setting.strip()!r}); give it once")
            table[option.strip()] = setting.strip()
        return parsed
    return parse


#: ``["copy.num_symbols=5"]`` (flags) or ``{copy = {num_symbols = 5}}`` (a file) -> a table
task_options = _owned_options("TASK", "copy")
#: ``["transformer.heads=4"]`` (flags) or ``{transformer = {heads = 4}}`` (a file) -> a table
model_options = _owned_options("ARCH", "transformer")


# -- the table of options ------------------------------------------------------------------------

#: what rnnbench does without --threads (``run`` and ``study run`` say it alike)
THREADS_WHEN_ABSENT = "one per CPU that other processes leave free"


@dataclass(frozen=True)
class Option:
    """One ``rnnbench run`` option: its field of :class:`RunRequest`, flag, parser and help."""

    key: str
    parse: Callable[[Any, Origin], Any]
    help: str
    group: str = "how"  # "axes" (comma lists, their product is the sweep) or "how"
    flag: str = ""
    metavar: str | None = None
    #: values from several places add up (``-p A -p B``) instead of the later replacing the earlier
    accumulates: bool = False
    #: what leaving the option out means, where "the task's" (an axis) or "none" would mislead
    when_absent: str = ""

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.key.replace("_", "-")

    def origin(self, file: str | None = None) -> Origin:
        return Origin(self.cli_flag, self.key, file)


OPTIONS: tuple[Option, ...] = (
    Option("models", name_list, "ARCH or ARCH@BACKEND names ('rnnbench list' shows them)", "axes"),
    Option("tasks", name_list, "task names", "axes"),
    Option("seq_len", int_list(1), "how far the dependency reaches; see 'rnnbench list' per task", "axes"),
    Option("batch_size", int_list(1), "batch size for training, evaluation and timing", "axes"),
    Option("hidden", int_list(1), "width of every model's core (the Transformer's d_model)", "axes"),
    Option("layers", int_list(1), "recurrent layers or Transformer blocks", "axes"),
    Option("device", choice_list(DEVICES), "cpu and/or cuda", "axes"),
    Option("dtype", name_list, "parameter dtype: " + ", ".join(DTYPES) + "; 'rnnbench list' shows which a model"
           " trains in, per device", "axes"),
    Option("seeds", int_list(0), "seeds", "axes"),
    Option("steps", int_list(1), "training steps", "axes"),
    Option("lr", float_list, "Adam learning rate", "axes"),
    Option("lr_grid", rate_grid, "train every case at each of these Adam learning rates and keep the one"
           " with the best validation score (the task's primary metric); test metrics are the chosen rate's."
           " Replaces --lr", metavar="LR1,LR2", when_absent="off"),
    Option("lr_schedule", choice_list(LR_SCHEDULES), "learning-rate schedule: constant, or warmup-cosine"
           " (linear warm-up over the first 5%% of training, then cosine decay to 10%% of the rate)", "axes"),
    Option("time_budget", float_list, "train each case for this many seconds of wall clock instead of --steps"
           " (evaluation outside it)", "axes", metavar="SECONDS", when_absent="off"),
    Option("flops_budget", float_list, "train each case for as many steps as this many training FLOPs"
           " allow (the model's counted FLOPs per training step, forward and backward, decide its steps;"
           " at least one) instead of --steps", "axes", metavar="FLOPS", when_absent="off"),
    Option("task_opt", task_options, "a task option (repeatable), e.g. copy.num_symbols=5", "axes",
           metavar="TASK.KEY=VALUE", accumulates=True),
    Option("model_opt", model_options, "a model option (repeatable), e.g. transformer.heads=4; ARCH or"
           " ARCH@BACKEND; 'rnnbench list' shows each model's options", "axes",
           metavar="ARCH.KEY=VALUE", accumulates=True),
    Option("match_params", switch, "pick each model's width so that its parameter count is within 5%% of the"
           " first model's at --hidden (embedding and head included)", "axes"),
    Option("scenarios", choice_list(SCENARIOS), "what each case measures: " + ", ".join(SCENARIOS)),
    Option("eval_seq_len", int_list(1), "also evaluate every trained model at these lengths (what --seq-len"
           " means for the task), one metric per length", metavar="L1,L2", when_absent="off"),
    Option("threads", thread_count, "threads for torch and BLAS in every case (recorded with every row); without"
           " it each case chooses, all cores on an idle machine (docs/robustness.md)",
           when_absent=THREADS_WHEN_ABSENT),
    Option("min_time", positive_float, "seconds of timed repeats per timing, after warm-up"),
    Option("executor", string, "where cases run"),
    Option("timeout", positive_float, "seconds per case (executors that can stop one)"),
    Option("workers", positive_int, "worker processes (executors that start them)"),
    Option("scheduler", string, "cluster scheduler address (executors that use one)"),
    Option("max_cases", positive_int, "refuse a sweep of more cases than this before planning it (a typo in"
           " an axis can make millions)"),
    Option("max_corpus_mb", positive_float, "cap in MB on a task's corpus file (lm.corpus); none: the task's own (lm: 128)"),
    Option("plugins", strings, "load a plugin module by import path (repeatable), as pytest -p", flag="-p",
           metavar="MODULE", accumulates=True),
)
BY_KEY = {option.key: option for option in OPTIONS}


def default_text(key: str) -> str:
    """The default of an option as the help shows it."""
    value = getattr(RunRequest(), key)
    if value is None:
        return BY_KEY[key].when_absent or ("the task's" if BY_KEY[key].group == "axes" else "none")
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "none"
    return str(value)
