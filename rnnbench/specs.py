"""What plugins register: a model, a task, an executor (with the executor contract). Validated at registration.

An executor takes :class:`~rnnbench.records.CaseJob` objects and yields one
:class:`~rnnbench.records.CaseResult` per job, in whatever order they finish.
It never raises for a case's failure: a case that fails, crashes or times out
comes back as a result with that status. The caller stores each result as it
arrives, so the executor must not write to the results store itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional, Protocol

from rnnbench.records import DEVICES, CaseJob, CaseResult

if TYPE_CHECKING:
    from rnnbench.model_api import Model, ModelConfig
    from rnnbench.task_api import Task

#: "recurrent": a nonlinear cell whose gates read h_{t-1} (RNN, LSTM, GRU), sequential in T;
#: "linear-recurrent": a recurrence linear in its state, computable by a parallel scan, chunkwise or as a
#: convolution over T: with input-dependent coefficients (minGRU, Mamba, DeltaNet...) or time-invariant
#: ones (the state-space models S4, S4D, LRU; a kernel built once per call is FLOPs' per-call constant).
FAMILIES = ("recurrent", "linear-recurrent", "attention", "feedforward", "other")
#: the families that carry a fixed-size state from position to position
RECURRENT_FAMILIES = ("recurrent", "linear-recurrent")
DTYPES = ("float32", "float64", "float16", "bfloat16")
_NAME = re.compile(r"^[a-z][a-z0-9_\-]*$")


def _check_name(kind: str, value: str) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(
            f"{kind} {value!r} is not a valid name (lowercase letters, digits, '_' or '-',"
            " starting with a letter)"
        )


def _check_option_defaults(options: dict[str, Any]) -> None:
    if not isinstance(options, dict):
        raise ValueError("options must be a dict of option name -> default value")
    for key, value in options.items():
        _check_name("option", key)
        if not isinstance(value, (bool, int, float, str)):
            raise ValueError(f"option {key!r} default must be bool, int, float or str")


def _probe(available: Optional[Callable[[], Optional[str]]]) -> str | None:
    """What an availability probe says; ``None`` when there is none or it finds nothing missing."""
    if available is None:
        return None
    try:
        return available()
    except Exception as exc:  # an availability probe must not break `rnnbench list`
        return f"availability check failed: {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class ModelSpec:
    """A model implementation: one architecture on one backend.

    :param arch: the architecture, e.g. ``"lstm"``; what users type on the command line.
    :param backend: the implementation, e.g. ``"torch"``, ``"numpy"``, ``"triton"``.
    :param family: ``"recurrent"``, ``"linear-recurrent"``, ``"attention"``, ``"feedforward"`` or ``"other"``;
        reports group by it.
    :param factory: ``factory(config: ModelConfig) -> Model``.
    :param devices: devices the implementation runs on.
    :param dtypes: parameter dtypes it supports.
    :param available: ``available() -> None | str``: ``None`` when the model can run
        here, otherwise the reason it cannot (``"install rnnbench[triton]"``).
    :param default_for_arch: a bare ``ARCH`` on the command line means this backend.
    :param description: one line for ``rnnbench list``.
    :param options: model options with their defaults, set with ``--model-opt
        ARCH.KEY=VALUE`` (or ``[model_opt.ARCH]`` in a sweep file); the default's type
        (bool, int, float or str) is the option's type. The factory reads the values
        from ``config.options``; they are part of the case id.
    :param option_help: one line per option for ``rnnbench list``.
    :param check_options: ``check_options(options, hidden)`` raises ``ValueError`` for
        values the factory cannot build; called for every ``--hidden`` before any case runs.
    :param train_dtypes: per device, the dtypes the model can *train* in; a device not
        named trains in every dtype of ``dtypes``. Forward and decode run in all of
        ``dtypes``. A sweep that would train in another is refused before it starts.
    :param train_dtype_note: why the dtypes left out of ``train_dtypes`` cannot train,
        and what to use instead (shown with the refusal and by ``rnnbench list``).
    """

    arch: str
    backend: str
    family: str
    factory: Callable[["ModelConfig"], "Model"]
    devices: tuple[str, ...] = ("cpu",)
    dtypes: tuple[str, ...] = ("float32",)
    available: Optional[Callable[[], Optional[str]]] = None
    default_for_arch: bool = False
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict, hash=False)
    option_help: dict[str, str] = field(default_factory=dict, hash=False)
    check_options: Optional[Callable[[dict[str, Any], int], None]] = None
    train_dtypes: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    train_dtype_note: str = ""

    @property
    def name(self) -> str:
        return f"{self.arch}@{self.backend}"

    def trains_in(self, device: str, dtype: str) -> bool:
        """Whether the model can train in ``dtype`` on ``device`` (forward and decode run in all ``dtypes``)."""
        return dtype in self.train_dtypes.get(device, self.dtypes)

    def unavailable_reason(self) -> str | None:
        """``None`` when the model can run here, else why not (never raises)."""
        return _probe(self.available)

    def validate(self) -> None:
        _check_name("arch", self.arch)
        _check_name("backend", self.backend)
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if not callable(self.factory):
            raise ValueError("factory must be callable")
        if self.available is not None and not callable(self.available):
            raise ValueError("available must be callable or None")
        bad = [d for d in self.devices if d not in DEVICES]
        if not self.devices or bad:
            raise ValueError(f"devices must be a non-empty subset of {DEVICES}, got {self.devices!r}")
        bad = [d for d in self.dtypes if d not in DTYPES]
        if not self.dtypes or bad:
            raise ValueError(f"dtypes must be a non-empty subset of {DTYPES}, got {self.dtypes!r}")
        _check_option_defaults(self.options)
        unknown = sorted(set(self.option_help) - set(self.options))
        if unknown:
            raise ValueError(f"option_help names options that are not declared: {', '.join(unknown)}")
        if self.check_options is not None and not callable(self.check_options):
            raise ValueError("check_options must be callable or None")
        for device, dtypes in self.train_dtypes.items():
            if device not in self.devices or not set(dtypes) <= set(self.dtypes):
                raise ValueError(
                    f"train_dtypes[{device!r}] must name a device of devices and a subset of dtypes,"
                    f" got {dtypes!r}")


@dataclass(frozen=True)
class TaskDefaults:
    """The defaults a task runs at when the command line does not say otherwise.

    They are a budget chosen so that the task gives a meaningful result on a
    2-core CPU in well under a minute per model; docs/tasks.md says why.
    """

    seq_len: int
    batch_size: int = 64
    steps: int = 1000
    lr: float = 2e-3
    #: width and depth for every model when ``--hidden`` / ``--layers`` are not given; a
    #: task that needs depth to be solvable at all (associative recall needs two
    #: attention layers) says so here, the same for every model so they compare on equal terms.
    hidden: int = 128
    layers: int = 1
    #: learning rates by model family (``"recurrent"``, ``"attention"``) where one rate
    #: cannot serve all; used only when ``--lr`` is not given, ``lr`` for the others.
    lr_by_family: dict[str, float] = field(default_factory=dict, hash=False)

    def lr_for(self, family: str) -> float:
        """The default learning rate of a model of ``family`` on this task."""
        return self.lr_by_family.get(family, self.lr)


@dataclass(frozen=True)
class TaskSpec:
    """A benchmark task.

    :param name: what users type after ``--tasks``.
    :param factory: ``factory(options: dict, seq_len: int, seed: int) -> Task``.
    :param options: option names with their default values; their types are the
        types ``--task-opt NAME.KEY=VALUE`` values are converted to.
    :param defaults: the sequence length and training budget used when the command
        line gives none.
    :param seq_len_meaning: what ``--seq-len`` means for this task, for ``rnnbench list``.
    :param description: one line for ``rnnbench list``.
    :param source: where the data come from (``"generated"``, ``"aeon: UEA/UCR archive, bundled"``),
        for ``rnnbench list`` and the docs.
    :param available: ``available() -> None | str``: ``None`` when the task's data and packages
        are here, otherwise what to install (``"install rnnbench[data]"``).
    """

    name: str
    factory: Callable[[dict[str, Any], int, int], "Task"]
    defaults: TaskDefaults
    options: dict[str, Any] = field(default_factory=dict)
    seq_len_meaning: str = "sequence length"
    description: str = ""
    #: ``check_options(options, seq_len)`` raises ``ValueError`` for values the factory
    #: cannot build (an impossible combination); called before any case runs, so the
    #: user gets one clear error instead of a failed case per model.
    check_options: Optional[Callable[[dict[str, Any], int], None]] = None
    source: str = "generated"
    available: Optional[Callable[[], Optional[str]]] = None

    def unavailable_reason(self) -> str | None:
        """``None`` when the task can run here, else why not (never raises)."""
        return _probe(self.available)

    def validate(self) -> None:
        _check_name("task", self.name)
        if self.available is not None and not callable(self.available):
            raise ValueError("available must be callable or None")
        if not callable(self.factory):
            raise ValueError("factory must be callable")
        if not isinstance(self.defaults, TaskDefaults):
            raise ValueError("defaults must be a rnnbench.specs.TaskDefaults")
        _check_option_defaults(self.options)
        if self.check_options is not None and not callable(self.check_options):
            raise ValueError("check_options must be callable or None")
        d = self.defaults
        if min(d.seq_len, d.batch_size, d.steps, d.hidden, d.layers) < 1 or not d.lr > 0:
            raise ValueError("defaults: seq_len, batch_size, steps, hidden, layers and lr must be positive")
        bad = [f for f, lr in d.lr_by_family.items() if f not in FAMILIES or not lr > 0]
        if bad:
            raise ValueError(f"defaults.lr_by_family: {bad!r}: families are {', '.join(FAMILIES)}, rates positive")


@dataclass(frozen=True)
class ExecutorOptions:
    """Options from the command line that executors may use.

    :param timeout: seconds a case may take before it is stopped (executors that can stop one).
    :param workers: worker processes to start, for executors that start them.
    :param scheduler: address of an existing cluster scheduler, for executors that use one.
    :param registry: the plugins of the run, for executors that run cases in this process;
        executors that run them elsewhere load the same modules there (``CaseJob.plugin_modules``).
    :param warn_sharing: whether an executor that runs several cases at once warns that their timings
        disturb each other; ``False`` where rnnbench chose the workers itself for cases whose results do
        not depend on timing (a study's ``side_by_side`` sweeps), so no flag the user never gave is named.
    :param case_observer: hears of each case's phases and training steps
        (:class:`rnnbench.execution.progress.CaseObserver`), for executors that run cases in this
        process (pass it to ``execute_job``); ``None`` when nothing displays them.
    """

    timeout: float | None = None
    workers: int = 1
    scheduler: str | None = None
    #: the run's rnnbench.manager.Registry (typed loosely: the registry sits above this module)
    registry: Any = None
    warn_sharing: bool = True
    #: typed loosely for the same reason: rnnbench.execution.progress.CaseObserver sits above this module
    case_observer: Any = None


class Executor(Protocol):
    def map(self, jobs: Iterable[CaseJob]) -> Iterator[CaseResult]:
        """Run the jobs; yield each result as it finishes."""
        ...

    def close(self) -> None:
        """Release workers and connections; called once, even after an interrupt."""
        ...


@dataclass(frozen=True)
class ExecutorSpec:
    """An executor: decides where cases run (in-process, worker processes, a cluster).

    :param factory: ``factory(options: ExecutorOptions) -> Executor``.
    """

    name: str
    factory: Callable[[ExecutorOptions], Executor]
    description: str = ""

    def validate(self) -> None:
        _check_name("executor", self.name)
        if not callable(self.factory):
            raise ValueError("factory must be callable")
